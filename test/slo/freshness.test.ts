/** Freshness SLIs: scheduled ticks judged against succeeded run starts. */
import { afterEach, describe, expect, it } from 'vitest';
import { cachedScheduleTicks, countTicks, evaluateSlo, evaluateSlos, judgeTicks, parseConfig, scheduleTicks } from '../../analyzer/slo/index.js';
import type { SloDefinition } from '../../analyzer/slo/index.js';
import type { DuckDbStore } from '../../store/duckdb.js';
import { DAY, HOUR, MINUTE, memoryStore, run } from './helpers.js';

let stores: DuckDbStore[] = [];
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
});
const fresh = async (): Promise<DuckDbStore> => {
  const s = await memoryStore();
  stores.push(s);
  return s;
};

function freshnessSlo(job: string, cron = '0 2 * * *', timezone = 'UTC', grace = '30m'): SloDefinition {
  const s = parseConfig(
    `slos:\n  - name: ${job}-fresh\n    job: ${job}\n    sli: freshness\n    objective: 0.99\n    window: 30d\n    freshness: {cron: "${cron}", timezone: ${timezone}, grace: ${grace}}\n`,
  ).slos[0];
  if (!s) throw new Error('no slo');
  return s;
}

const iso = (ms: number[]): string[] => ms.map((m) => new Date(m).toISOString());

describe('judging ticks', () => {
  const tick = Date.UTC(2026, 0, 10, 2);
  it.each([
    ['a run at the tick', [tick], true],
    ['a run within the grace', [tick + 29 * MINUTE], true],
    ['a run exactly at tick + grace', [tick + 30 * MINUTE], true],
    ['a late run', [tick + 31 * MINUTE], false],
    ['a run before the tick only', [tick - MINUTE], false],
    ['no run at all', [], false],
  ])('%s', (_name, starts, good) => {
    expect(judgeTicks([tick], starts, 30 * MINUTE, tick + HOUR)).toEqual([{ tickMillis: tick, eventMillis: tick + 30 * MINUTE, good }]);
  });

  it('does not judge a tick whose grace has not passed', () => {
    expect(judgeTicks([tick], [], 30 * MINUTE, tick + 29 * MINUTE)).toEqual([]);
    expect(judgeTicks([tick], [], 30 * MINUTE, tick + 30 * MINUTE)).toHaveLength(1);
  });

  it('counts ticks per window by judgement time', () => {
    const verdicts = [
      { tickMillis: 0, eventMillis: 10, good: true },
      { tickMillis: 50, eventMillis: 60, good: false },
    ];
    expect(countTicks(verdicts, 100, [45, 200])).toEqual([
      { windowMillis: 45, good: 0, total: 1 },
      { windowMillis: 200, good: 1, total: 2 },
    ]);
  });
});

describe('coalesced starts', () => {
  // What a store returns for RunStartsOptions.coalesceMillis: each interval's earliest and latest start.
  const coalesce = (starts: readonly number[], width: number): number[] => {
    const byInterval = new Map<number, { lo: number; hi: number }>();
    for (const s of starts) {
      const k = Math.floor(s / width);
      const e = byInterval.get(k);
      if (!e) byInterval.set(k, { lo: s, hi: s });
      else byInterval.set(k, { lo: Math.min(e.lo, s), hi: Math.max(e.hi, s) });
    }
    return [...byInterval.values()].sort((a, b) => a.lo - b.lo).flatMap((e) => (e.lo === e.hi ? [e.lo] : [e.lo, e.hi]));
  };
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

  it.each([1, 999, 1_000, 60_000, 1_800_000])('judges every tick as all starts do, for a grace of %i ms and random starts, dense and sparse', (grace) => {
    for (let trial = 0; trial < 40; trial++) {
      const span = 6 * HOUR;
      const n = Math.floor(rnd() * (trial % 2 === 0 ? 2_000 : 40));
      const starts = Array.from({ length: n }, () => Math.floor(rnd() * span)).sort((a, b) => a - b);
      const step = [1_000, 60_000, 7 * MINUTE][trial % 3] as number;
      const ticks = Array.from({ length: Math.floor(span / step) }, (_, i) => i * step + (trial % 5 === 0 ? 0 : 1_000 * (trial % 3)));
      const coalesced = coalesce(starts, Math.max(1, Math.floor(grace)));
      expect(coalesced.length).toBeLessThanOrEqual(starts.length);
      expect(judgeTicks(ticks, coalesced, grace, span + grace)).toEqual(judgeTicks(ticks, starts, grace, span + grace));
    }
  });

  it('keeps a few starts per grace period of a dense job', () => {
    const starts = Array.from({ length: 10_000 }, (_, i) => i * 2_600);
    expect(coalesce(starts, 30 * MINUTE).length).toBeLessThanOrEqual(2 * Math.ceil((10_000 * 2_600) / (30 * MINUTE)) + 2);
  });
});

describe('schedules across DST', () => {
  it('Europe/Berlin spring forward: 02:00 does not exist on 2026-03-29 and runs at 03:00 CEST', () => {
    const ticks = scheduleTicks({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }, Date.UTC(2026, 2, 27), Date.UTC(2026, 2, 30, 12));
    expect(iso(ticks)).toEqual(['2026-03-27T01:00:00.000Z', '2026-03-28T01:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z']);
  });

  it('Europe/Berlin fall back: 02:30 happens twice on 2026-10-25 and runs once', () => {
    const ticks = scheduleTicks({ cron: '30 2 * * *', timezone: 'Europe/Berlin' }, Date.UTC(2026, 9, 24), Date.UTC(2026, 9, 27));
    expect(iso(ticks)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('America/New_York: 02:30 is skipped on 2026-03-08 (runs 03:00 EDT), 01:30 runs once on 2026-11-01', () => {
    expect(iso(scheduleTicks({ cron: '30 2 * * *', timezone: 'America/New_York' }, Date.UTC(2026, 2, 7), Date.UTC(2026, 2, 10)))).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    expect(iso(scheduleTicks({ cron: '30 1 * * *', timezone: 'America/New_York' }, Date.UTC(2026, 9, 31), Date.UTC(2026, 10, 3)))).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('gives the same ticks from the cache as without it, for windows moving forward, back and jumping', () => {
    const spec = { cron: '*/7 * * * *', timezone: 'Europe/Berlin' };
    const base = Date.UTC(2026, 2, 28);
    for (const [from, to] of [
      [0, DAY],
      [MINUTE, DAY + MINUTE],
      [3 * MINUTE + 1, DAY + 3 * MINUTE + 1],
      [HOUR, 2 * HOUR],
      [0, 3 * DAY],
      [5 * DAY, 6 * DAY],
      [5 * DAY + 1, 5 * DAY + 2],
    ] as const) {
      expect(cachedScheduleTicks(spec, base + from, base + to)).toEqual(scheduleTicks(spec, base + from, base + to));
    }
  });

  it('refuses to enumerate an unbounded number of ticks', () => {
    expect(() => scheduleTicks({ cron: '* * * * * *', timezone: 'UTC' }, 0, DAY, 1000)).toThrow(RangeError);
  });
});

describe('freshness SLOs on a store', () => {
  const day = (d: number, h = 0, m = 0): number => Date.UTC(2026, 4, d, h, m);

  it('alerts after the grace when the 02:00 run is missing, not before', async () => {
    const store = await fresh();
    for (let d = -30; d < 0; d++) await store.insertSpans(run('nightly', day(10, 2, 5) + d * DAY, true, 20 * MINUTE));
    const slo = freshnessSlo('nightly');
    // Day 10: no run. At 02:29 the tick is inside its grace: not counted.
    const before = await evaluateSlo(store, slo, day(10, 2, 29));
    expect(before.tiers.some((t) => t.firing)).toBe(false);
    expect([before.good, before.total]).toEqual([30, 30]);
    // At 02:31 it is judged bad: both page windows see 1 bad tick of 1.
    const after = await evaluateSlo(store, slo, day(10, 2, 31));
    expect([after.good, after.total]).toEqual([29, 30]);
    expect(after.tiers.map((t) => t.firing)).toEqual([true, true, true, true]);
    expect(after.sli).toBeCloseTo(29 / 30, 9);
    // The page tiers stop when the bad tick leaves their short windows (5m, 30m); the ticket tiers (2h, 6h) keep firing.
    const later = await evaluateSlo(store, slo, day(10, 3, 5));
    expect(later.tiers.map((t) => t.firing)).toEqual([false, false, true, true]);
  });

  it('counts a late run as a miss', async () => {
    const store = await fresh();
    await store.insertSpans(run('late', day(9, 2, 5), true));
    await store.insertSpans(run('late', day(10, 2, 45), true));
    const e = await evaluateSlo(store, freshnessSlo('late'), day(10, 3, 0));
    // The 02:00 tick, judged at 02:30, is the one event of the last hour: 100% bad.
    expect(e.burnRates.get(HOUR)).toBeCloseTo(100, 9);
    expect(e.tiers[2]?.firing).toBe(true);
  });

  it('counts a failed run as a miss', async () => {
    const store = await fresh();
    await store.insertSpans(run('broken', day(10, 2, 1), false));
    const e = await evaluateSlo(store, freshnessSlo('broken'), day(10, 2, 40));
    expect(e.burnRates.get(HOUR)).toBeCloseTo(100, 9);
    expect(e.tiers[1]?.firing).toBe(true);
  });

  it('refuses a schedule too dense for its window with an error naming the SLO', async () => {
    const store = await fresh();
    const slo = freshnessSlo('dense', '* * * * * *', 'UTC', '1s');
    await expect(evaluateSlo(store, slo, day(10))).rejects.toThrow(/slo dense-fresh freshness.cron: schedule .* has more than 200000 ticks/);
  });

  it('counts no tick before the job first ran: a new SLO for a job not seen yet has no data, not a spent budget', async () => {
    const store = await fresh();
    const e = await evaluateSlo(store, freshnessSlo('ghost'), day(20, 2, 31));
    expect([e.good, e.total, e.sli]).toEqual([0, 0, null]);
    expect(e.tiers.some((t) => t.firing)).toBe(false);
    // Its first run, late: only the ticks from a grace before it count.
    await store.insertSpans(run('ghost', day(20, 3), true));
    const first = await evaluateSlo(store, freshnessSlo('ghost'), day(21, 2, 31));
    expect([first.good, first.total]).toEqual([0, 1]);
  });

  it('counts every tick of the window for a job first seen before it, a run still going at the first tick included', async () => {
    const store = await fresh();
    const at = day(10, 3);
    const firstTick = day(10, 2) - 29 * DAY;
    // Seen 40 days ago, then silent: every tick of the window is missed.
    await store.insertSpans(run('gone', day(10, 2, 5) - 40 * DAY, true));
    // Its only run started an hour before the first tick and ended two hours after it.
    await store.insertSpans(run('inflight', firstTick - HOUR, true, 3 * HOUR));
    const evals = await evaluateSlos(store, [freshnessSlo('gone'), freshnessSlo('inflight')], at);
    expect(evals.map((e) => [e.good, e.total])).toEqual([
      [0, 30],
      [0, 30],
    ]);
    for (const e of evals) expect([e.good, e.total]).toEqual([(await evaluateSlo(store, e.slo, at)).good, (await evaluateSlo(store, e.slo, at)).total]);
  });

  it('with start: every tick after it counts, and a job that never ran has every one of them bad', async () => {
    const store = await fresh();
    const slo = freshnessSlo('ghost');
    const started = { ...slo, freshness: { ...slo.freshness!, startMillis: day(20, 2, 31) - 30 * DAY } };
    const e = await evaluateSlo(store, started, day(20, 2, 31));
    expect(e.good).toBe(0);
    expect(e.total).toBe(30);
    expect(e.sli).toBe(0);
    expect(e.tiers[0]?.firing).toBe(true);
    expect(e.budgetRemaining).toBeLessThan(0);
  });

  it('is DST-correct in Europe/Berlin: a 02:05 local run each day stays good across the change', async () => {
    const store = await fresh();
    const slo = freshnessSlo('berlin', '0 2 * * *', 'Europe/Berlin', '30m');
    // 02:05 CET = 01:05Z until 03-28; on 03-29 the tick is 03:00 CEST = 01:00Z; from 03-30 02:05 CEST = 00:05Z.
    for (const t of ['2026-03-27T01:05:00Z', '2026-03-28T01:05:00Z', '2026-03-29T01:05:00Z', '2026-03-30T00:05:00Z']) {
      await store.insertSpans(run('berlin', Date.parse(t), true));
    }
    const e = await evaluateSlo(store, slo, Date.parse('2026-03-30T00:31:00Z'));
    const [oneHour] = e.tiers;
    expect(oneHour?.firing).toBe(false);
    expect(e.burnRates.get(HOUR)).toBe(0);
    // No run on 03-31: the miss is seen at 00:30Z (02:30 CEST), not an hour later.
    const miss = await evaluateSlo(store, slo, Date.parse('2026-03-31T00:31:00Z'));
    expect(miss.tiers[0]?.firing).toBe(true);
  });

  it('is DST-correct in America/New_York on the fall-back night', async () => {
    const store = await fresh();
    const slo = freshnessSlo('nyc', '30 1 * * *', 'America/New_York', '20m');
    // 01:30 EDT on 11-01 is 05:30Z; the next day's 01:30 EST is 06:30Z.
    await store.insertSpans(run('nyc', Date.parse('2026-11-01T05:31:00Z'), true));
    const first = await evaluateSlo(store, slo, Date.parse('2026-11-01T05:55:00Z'));
    expect(first.tiers[0]?.firing).toBe(false);
    // The repeated 01:30 (06:30Z) is not a second tick: nothing is missed.
    const repeated = await evaluateSlo(store, slo, Date.parse('2026-11-01T06:55:00Z'));
    expect(repeated.tiers[0]?.firing).toBe(false);
    expect(repeated.burnRates.get(HOUR)).toBeNull();
  });
});
