/**
 * Rollup maintenance over an in-memory backend (a fake store: the real
 * stores run the conformance suite). The fake derives each run from its
 * "terminal rows" the way the stores do (the latest terminal row gives the
 * final outcome time), so moving, un-finishing and replaying runs can be
 * checked against counting the runs directly.
 */
import { describe, expect, it } from 'vitest';
import { HOUR_NS, MINUTE_NS, bucketOf, coverWindow } from '../../store/rollup/buckets.js';
import { countFromParts, hourContent, isCounted, isGood, selectorMatcher, thresholdsFor } from '../../store/rollup/content.js';
import type { HourContent, RegisteredThreshold, RunFact } from '../../store/rollup/content.js';
import { buildRollups, clusterStarts, rebuildHours, refreshRollups } from '../../store/rollup/maintain.js';
import type { MinuteContent, RollupBackend, RollupMark } from '../../store/rollup/maintain.js';
import type { NsRange } from '../../store/rollup/buckets.js';
import type { GoodRunCriterion } from '../../store/types.js';

interface FakeRow {
  job: string;
  runId: string;
  endNs: bigint;
  terminal: boolean;
  outcome: string;
  latencyNs: bigint;
}

class FakeBackend implements RollupBackend {
  rows: FakeRow[] = [];
  marks: RollupMark[] = [];
  acked = 0;
  minutes = new Map<string, MinuteContent>();
  hours = new Map<string, HourContent>();
  registry: RegisteredThreshold[] = [];

  insert(rows: FakeRow[]): void {
    this.rows.push(...rows);
    this.marks.push(...rows.map((r) => ({ job: r.job, runId: r.runId, endNs: r.endNs, terminal: r.terminal })));
  }
  /** The truth: every finished run, derived from all rows. */
  facts(): RunFact[] {
    const byRun = new Map<string, FakeRow[]>();
    for (const r of this.rows) (byRun.get(`${r.job}/${r.runId}`) ?? byRun.set(`${r.job}/${r.runId}`, []).get(`${r.job}/${r.runId}`))?.push(r);
    const out: RunFact[] = [];
    for (const rows of byRun.values()) {
      const last = rows.filter((r) => r.terminal).sort((a, b) => (a.endNs < b.endNs ? 1 : a.endNs > b.endNs ? -1 : 0))[0];
      if (!last) continue;
      out.push({ job: last.job, runId: last.runId, runEndNs: last.endNs, startNs: last.latencyNs === null ? null : last.endNs - last.latencyNs, outcome: last.outcome, latencyNs: last.latencyNs, attempts: rows.length, ran: true });
    }
    return out;
  }
  pendingMarks(limit: number): Promise<{ marks: RollupMark[]; token: bigint }> {
    const marks = this.marks.slice(this.acked, this.acked + limit);
    return Promise.resolve({ marks, token: BigInt(this.acked + marks.length) });
  }
  ackMarks(token: bigint): Promise<void> {
    this.acked = Number(token);
    return Promise.resolve();
  }
  terminalMinutes(runs: readonly { job: string; runId: string }[], range: NsRange): Promise<{ job: string; minuteNs: bigint }[]> {
    const want = new Set(runs.map((r) => `${r.job}/${r.runId}`));
    return Promise.resolve(
      this.rows
        .filter((r) => r.terminal && want.has(`${r.job}/${r.runId}`) && r.endNs > range.loNs && r.endNs <= range.hiNs)
        .map((r) => ({ job: r.job, minuteNs: bucketOf(r.endNs, MINUTE_NS) })),
    );
  }
  runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]> {
    return Promise.resolve(this.facts().filter((f) => (jobs === null || jobs.includes(f.job)) && f.runEndNs > range.loNs && f.runEndNs <= range.hiNs));
  }
  storedRange(): Promise<NsRange | null> {
    const ends = this.rows.map((r) => r.endNs);
    if (ends.length === 0) return Promise.resolve(null);
    return Promise.resolve({ loNs: ends.reduce((a, b) => (a < b ? a : b)) - 1n, hiNs: ends.reduce((a, b) => (a > b ? a : b)) });
  }
  minuteRuns(jobs: readonly string[], fromNs: bigint, toNs: bigint): Promise<RunFact[]> {
    return Promise.resolve([...this.minutes.values()].filter((m) => jobs.includes(m.job) && m.minuteNs >= fromNs && m.minuteNs < toNs).flatMap((m) => m.runs));
  }
  writeBuckets(minutes: readonly MinuteContent[], hours: readonly HourContent[]): Promise<void> {
    for (const m of minutes) this.minutes.set(`${m.job}/${m.minuteNs}`, m);
    for (const h of hours) this.hours.set(`${h.job}/${h.hourNs}`, h);
    return Promise.resolve();
  }
  thresholds(): Promise<RegisteredThreshold[]> {
    return Promise.resolve(this.registry);
  }
  /** The rollup answer for one window. */
  count(jobs: string, criterion: GoodRunCriterion, lo: bigint, hi: bigint): { good: number; total: number } | null {
    const match = selectorMatcher(jobs);
    const c = coverWindow(lo, hi);
    const hours = c.hours ? [...this.hours.values()].filter((h) => match(h.job) && h.hourNs >= (c.hours?.fromNs ?? 0n) && h.hourNs < (c.hours?.toNs ?? 0n)) : [];
    const edgeRuns = c.edges.flatMap((e) =>
      [...this.minutes.values()]
        .filter((m) => match(m.job) && m.minuteNs >= e.minuteFromNs && m.minuteNs < e.minuteToNs)
        .flatMap((m) => m.runs)
        .filter((r) => r.runEndNs > e.loNs && r.runEndNs <= e.hiNs),
    );
    return countFromParts(criterion, hours, edgeRuns);
  }
  /** Counting the runs directly. */
  truth(jobs: string, criterion: GoodRunCriterion, lo: bigint, hi: bigint): { good: number; total: number } {
    const match = selectorMatcher(jobs);
    const thr = criterion.kind === 'latency' ? BigInt(Math.trunc(criterion.thresholdMillis * 1e6)) : null;
    const runs = this.facts().filter((f) => match(f.job) && f.runEndNs > lo && f.runEndNs <= hi && isCounted(f.outcome));
    return { good: runs.filter((r) => isGood(r, thr)).length, total: runs.length };
  }
}

const T = 1_789_999_200_000_000_000n;
const MS = 1_000_000n;

describe('selectors and thresholds', () => {
  it.each([
    ['etl-*', 'etl-nightly', true],
    ['etl-*', 'xetl-nightly', false],
    ['a?c', 'abc', true],
    ['a.c', 'abc', false],
    ['exact', 'exact', true],
  ])('%s matches %s: %s', (sel, job, want) => {
    expect(selectorMatcher(sel)(job)).toBe(want);
  });

  it('collects the thresholds of every matching selector, sorted and unique', () => {
    const reg = [
      { jobs: 'etl-*', thresholdNs: 5n },
      { jobs: 'etl-a', thresholdNs: 2n },
      { jobs: 'etl-a', thresholdNs: 5n },
      { jobs: 'other', thresholdNs: 1n },
    ];
    expect(thresholdsFor(reg, 'etl-a')).toEqual([2n, 5n]);
    expect(thresholdsFor(reg, 'nothing')).toEqual([]);
  });

  it('an hour without the asked threshold but with successes cannot answer', () => {
    const h = hourContent('j', T, [{ job: 'j', runId: '1', runEndNs: T + 1n, startNs: T - 4n, outcome: 'succeeded', latencyNs: 5n, attempts: 1, ran: true }], []);
    expect(countFromParts({ kind: 'latency', thresholdMillis: 1 }, [h], [])).toBeNull();
    expect(countFromParts({ kind: 'success' }, [h], [])).toEqual({ good: 1, total: 1 });
  });

  it("keeps the hour's earliest start of runs that have one and were not skipped, of any other outcome", () => {
    const run = (runId: string, startNs: bigint | null, outcome: string) => ({ job: 'j', runId, runEndNs: T + 10n, startNs, outcome, latencyNs: null, attempts: 1, ran: false });
    expect(hourContent('j', T, [run('a', T - 5n, 'failed'), run('b', T - 9n, 'skipped'), run('c', null, 'succeeded'), run('d', T - 7n, 'cancelled'), run('e', T - 2n, 'succeeded')], []).firstStartNs).toBe(T - 7n);
    expect(hourContent('j', T, [run('b', T - 9n, 'skipped'), run('c', null, 'succeeded')], []).firstStartNs).toBeNull();
    expect(hourContent('j', T, [], []).firstStartNs).toBeNull();
  });
});

describe('clusterStarts', () => {
  it.each([
    ['nothing', [], []],
    ['close starts in one range', [5n, 1n, 2n], [{ fromNs: 1n, toNs: 5n }]],
    ['a gap splits', [1n, 20n, 21n], [{ fromNs: 1n, toNs: 1n }, { fromNs: 20n, toNs: 21n }]],
  ])('%s', (_name, starts: bigint[], want: { fromNs: bigint; toNs: bigint }[]) => {
    expect(clusterStarts(starts, 10n)).toEqual(want);
  });
});

describe('refreshRollups', () => {
  const criteria: GoodRunCriterion[] = [{ kind: 'success' }, { kind: 'latency', thresholdMillis: 250 }, { kind: 'latency', thresholdMillis: 1000 }];
  const windows = [5n * 60_000n * MS, HOUR_NS, 6n * HOUR_NS, 24n * HOUR_NS, 3n * 24n * HOUR_NS];

  function check(b: FakeBackend, at: bigint): void {
    for (const jobs of ['a', 'b', '*'])
      for (const c of criteria)
        for (const w of windows) expect(b.count(jobs, c, at - w, at), `${jobs} ${JSON.stringify(c)} ${w}`).toEqual(b.truth(jobs, c, at - w, at));
  }

  it('equals counting the runs for random mixes with duplicates, late terminal rows and replays', async () => {
    const b = new FakeBackend();
    b.registry = [
      { jobs: '*', thresholdNs: 250n * MS },
      { jobs: 'a', thresholdNs: 1000n * MS },
      { jobs: 'b', thresholdNs: 1000n * MS },
    ];
    let seed = 11;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const outcomes = ['succeeded', 'succeeded', 'failed', 'timed_out', 'cancelled'];
    const all: FakeRow[] = [];
    for (let batch = 0; batch < 12; batch++) {
      const rows: FakeRow[] = [];
      for (let i = 0; i < 60; i++) {
        const runId = String(Math.floor(rnd() * 150));
        const row: FakeRow = {
          job: rnd() < 0.5 ? 'a' : 'b',
          runId,
          endNs: T - BigInt(Math.floor(rnd() * 4 * 24 * 3600)) * 1_000_000_000n + BigInt(Math.floor(rnd() * 1000)) * MS,
          terminal: rnd() < 0.8,
          outcome: outcomes[Math.floor(rnd() * outcomes.length)] as string,
          latencyNs: BigInt(Math.floor(rnd() * 2000)) * MS,
        };
        rows.push(row);
        // Duplicates and replays of earlier rows.
        if (rnd() < 0.2) rows.push({ ...row });
        if (all.length > 0 && rnd() < 0.2) rows.push({ ...(all[Math.floor(rnd() * all.length)] as FakeRow) });
      }
      all.push(...rows);
      b.insert(rows);
      await refreshRollups(b);
      check(b, T);
      check(b, T - 7n * HOUR_NS - 12_345n);
    }
    // A full replay changes nothing.
    b.insert(all.map((r) => ({ ...r })));
    await refreshRollups(b);
    check(b, T);
  });

  it('a build from the stored rows equals the incremental result', async () => {
    const b = new FakeBackend();
    b.registry = [
      { jobs: '*', thresholdNs: 250n * MS },
      { jobs: '*', thresholdNs: 1000n * MS },
    ];
    b.rows = Array.from({ length: 300 }, (_, i) => ({
      job: i % 3 === 0 ? 'a' : 'b',
      runId: String(i % 200),
      endNs: T - BigInt(i) * 977n * 1_000_000_000n,
      terminal: i % 7 !== 0,
      outcome: i % 4 === 0 ? 'failed' : 'succeeded',
      latencyNs: BigInt(i * 5) * MS,
    }));
    await buildRollups(b);
    check(b, T);
    check(b, T - 5n * HOUR_NS - 1n);
  });

  it('a run whose later terminal row moves it to another hour leaves its old bucket', async () => {
    const b = new FakeBackend();
    b.insert([{ job: 'a', runId: 'r', endNs: T - 5n * HOUR_NS, terminal: true, outcome: 'failed', latencyNs: 10n }]);
    await refreshRollups(b);
    expect(b.count('a', { kind: 'success' }, T - 6n * HOUR_NS, T - 4n * HOUR_NS)).toEqual({ good: 0, total: 1 });
    b.insert([{ job: 'a', runId: 'r', endNs: T - HOUR_NS / 2n, terminal: true, outcome: 'succeeded', latencyNs: 10n }]);
    await refreshRollups(b);
    expect(b.count('a', { kind: 'success' }, T - 6n * HOUR_NS, T - 4n * HOUR_NS)).toEqual({ good: 0, total: 0 });
    expect(b.count('a', { kind: 'success' }, T - 24n * HOUR_NS, T)).toEqual({ good: 1, total: 1 });
  });

  it('after a new threshold is registered, rebuilt hours answer it exactly', async () => {
    const b = new FakeBackend();
    b.insert(
      Array.from({ length: 50 }, (_, i) => ({ job: 'a', runId: String(i), endNs: T - BigInt(i) * 10n * 60_000n * MS, terminal: true, outcome: 'succeeded', latencyNs: BigInt(i * 40) * MS })),
    );
    await refreshRollups(b);
    const c: GoodRunCriterion = { kind: 'latency', thresholdMillis: 400 };
    expect(b.count('a', c, T - 24n * HOUR_NS, T)).toBeNull();
    b.registry = [{ jobs: 'a', thresholdNs: 400n * MS }];
    await rebuildHours(b, ['a'], T - 48n * HOUR_NS, T);
    expect(b.count('a', c, T - 24n * HOUR_NS, T)).toEqual(b.truth('a', c, T - 24n * HOUR_NS, T));
  });
});
