/**
 * Rollups against the raw path, as tests every store runs: the same spans go
 * into a store that keeps rollups and one that counts raw runs, in seeded
 * random batches with duplicates, attempts delivered hours after their run,
 * final attempts that move a run to a later hour, runs ending exactly on
 * window edges, and a full replay; every window count, run start list,
 * freshness evaluation, time series, per-job aggregate, run distribution, run
 * list and queue depth must be equal (sums of costs and CPU seconds to 1e-9
 * relative: the stores add them up in no fixed order).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ATTR_ATTEMPT_NUMBER, ATTR_COST_AMOUNT, ATTR_CPU_SECONDS, ATTR_ERROR_TYPE, ATTR_MAX_RSS_BYTES, ATTR_QUEUED_TIME_UNIX_NANO } from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { evaluateSlos, parseConfig, toSloJson } from '../../analyzer/slo/index.js';
import type { GoodRunCriterion, JobAggregate, RunStartsOptions, RunStartsQuery, Store, TimeRange, WindowCountsQuery } from '../../store/index.js';
import { LATENCY_EDGES_MILLIS } from '../../reports/collect.js';
import type { RunSummary } from '../../store/index.js';
import { MINUTE_NS } from '../../store/rollup/index.js';
import type { MinuteContent, RunFact } from '../../store/rollup/index.js';
import { runSpans } from '../support/spans.js';

export interface RollupConformanceOptions {
  /** Opens a fresh, empty, migrated store owned by one test, with or without rollups. */
  open(rollups: boolean): Promise<Store>;
  /** Makes inserted rows visible to queries, if the store needs it. */
  settle?(store: Store): Promise<void>;
  /** Writes minute buckets as the store's rollup maintenance would (a test's hand-made runs). */
  writeMinutes(store: Store, minutes: MinuteContent[]): Promise<void>;
  /** Turns a store's rollups into those of format 1 (minute buckets without run starts, hour buckets without earliest starts), as an older release left them. */
  toFormat1(store: Store): Promise<void>;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Evaluation instant: mid-minute, so windows start and end inside buckets. */
const T = Date.UTC(2026, 10, 20, 14, 37, 12, 345);
const WINDOWS = [5 * MIN, 30 * MIN, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY, 30 * DAY];
const SELECTORS = ['a', 'b', 'etl-*', '*', 'none'];

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** A seeded mix of runs over four days before T, as delivery batches. */
function mix(seed: number): SpanRecord[][] {
  const rnd = rng(seed);
  // Run details from their own sequence, so the runs are those of earlier releases of this test.
  const more = rng(seed + 1_000);
  const jobs = ['a', 'b', 'etl-1', 'etl-2'];
  const outcomes = ['succeeded', 'succeeded', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'] as const;
  const batches: SpanRecord[][] = [[], [], [], []];
  const later: SpanRecord[] = [];
  for (let i = 0; i < 240; i++) {
    const job = jobs[Math.floor(rnd() * jobs.length)] as string;
    const outcome = outcomes[Math.floor(rnd() * outcomes.length)] as (typeof outcomes)[number];
    const durationMillis = Math.floor(rnd() * 1500);
    // Some runs end exactly on a window's start or on T.
    const edge = rnd() < 0.15 ? (WINDOWS[Math.floor(rnd() * WINDOWS.length)] as number) * (rnd() < 0.2 ? 0 : 1) : null;
    const endMillis = edge !== null ? T - edge : T - Math.floor(rnd() * 4 * DAY) - 1;
    const attemptOutcome = outcome === 'succeeded' ? 'succeeded' : outcome === 'timed_out' ? 'timed_out' : 'failed';
    const details = {
      ...(more() < 0.5 ? { [ATTR_COST_AMOUNT]: Math.round(more() * 1e6) / 1e3, [ATTR_CPU_SECONDS]: more() * 10 } : {}),
      ...(more() < 0.5 ? { [ATTR_QUEUED_TIME_UNIX_NANO]: String(BigInt(endMillis - durationMillis - Math.floor(more() * 90 * MIN)) * 1_000_000n) } : {}),
      ...(more() < 0.4 ? { [ATTR_MAX_RSS_BYTES]: Math.floor(more() * 1e9) } : {}),
      ...(outcome === 'failed' && more() < 0.6 ? { [ATTR_ERROR_TYPE]: more() < 0.5 ? 'OOMKilled' : '137' } : {}),
    };
    const spans = runSpans({
      job,
      startMillis: endMillis - durationMillis,
      outcome,
      ...(more() < 0.1 ? { deadLettered: true } : {}),
      extraAttributes: details,
      attempts: outcome === 'skipped' ? [] : [{ startOffsetMillis: 0, durationMillis, outcome: attemptOutcome, exitCode: attemptOutcome === 'succeeded' ? 0 : 1 }],
    });
    const b = batches[Math.floor(rnd() * batches.length)] as SpanRecord[];
    const r = rnd();
    if (r < 0.15 && spans.length > 1) {
      // The attempt arrives in a later batch than its run span.
      b.push(spans[0] as SpanRecord);
      later.push(...spans.slice(1));
    } else if (r < 0.25 && spans.length > 1) {
      // A final attempt arrives hours later and ends after the run span, within the day.
      const last = spans[spans.length - 1] as SpanRecord;
      const shift = BigInt(Math.floor(1 + rnd() * 5)) * 3_600_000_000_000n;
      const moved = T - Number((last.endTimeUnixNano + shift) / 1_000_000n) > 0;
      b.push(...spans);
      if (moved) {
        later.push({
          ...last,
          spanId: `${last.spanId.slice(0, 12)}beef`,
          startTimeUnixNano: last.startTimeUnixNano + shift,
          endTimeUnixNano: last.endTimeUnixNano + shift,
          attributes: { ...last.attributes, [ATTR_ATTEMPT_NUMBER]: 2 },
        });
      }
    } else {
      b.push(...spans);
    }
    // Duplicates.
    if (rnd() < 0.2) (batches[Math.floor(rnd() * batches.length)] as SpanRecord[]).push(...spans);
  }
  return [...batches, later];
}

/** Freshness SLOs over the mix's jobs: ticks every few minutes to hourly, windows that start inside and before the runs. */
const FRESHNESS = parseConfig(
  [
    'slos:',
    '  - { name: f-a, job: a, sli: freshness, objective: 0.9, window: 30d, freshness: { cron: "*/7 * * * *", timezone: UTC, grace: 3m } }',
    '  - { name: f-b, job: b, sli: freshness, objective: 0.9, window: 1d, freshness: { cron: "0 * * * *", timezone: UTC, grace: 30m } }',
    '  - { name: f-etl, job: "etl-*", sli: freshness, objective: 0.9, window: 3d, freshness: { cron: "*/20 * * * * *", timezone: UTC, grace: 1s } }',
    '  - { name: f-all, job: "*", sli: freshness, objective: 0.9, window: 30d, freshness: { cron: "*/2 * * * *", timezone: Europe/Berlin, grace: 90s } }',
    '  - { name: f-none, job: none, sli: freshness, objective: 0.9, window: 30d, freshness: { cron: "0 * * * *", timezone: UTC, grace: 30m } }',
  ].join('\n') + '\n',
).slos;

function queries(thresholds: readonly number[], endMillis: number): WindowCountsQuery[] {
  const criteria: GoodRunCriterion[] = [{ kind: 'success' }, ...thresholds.map((t) => ({ kind: 'latency' as const, thresholdMillis: t }))];
  return SELECTORS.flatMap((jobs) => criteria.map((criterion) => ({ jobs, criterion, endMillis, windowsMillis: WINDOWS })));
}

export function defineRollupConformance(name: string, options: RollupConformanceOptions): void {
  let stores: Store[] = [];
  const open = async (rollups: boolean): Promise<Store> => {
    const s = await options.open(rollups);
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  const insertBoth = async (rolled: Store, raw: Store, spans: SpanRecord[]): Promise<void> => {
    await rolled.insertSpans(spans);
    await raw.insertSpans(spans);
    await options.settle?.(rolled);
    await options.settle?.(raw);
  };
  const same = async (rolled: Store, raw: Store, qs: WindowCountsQuery[], what: string): Promise<void> => {
    const got = await rolled.windowCountsMany(qs);
    const want = await raw.windowCountsMany(qs);
    qs.forEach((q, i) => expect(got[i], `${what}: ${q.jobs} ${JSON.stringify(q.criterion)} at ${q.endMillis}`).toEqual(want[i]));
  };

  const sameFreshness = async (rolled: Store, raw: Store, at: number, what: string, starts = true): Promise<void> => {
    const queries: RunStartsQuery[] = [];
    const wantStarts: number[][] = [];
    for (const jobs of starts ? SELECTORS : []) {
      for (const which of ['succeeded', 'any'] as const) {
        const fiveDays = { fromMillis: at - 5 * DAY, toMillis: at + 1 };
        const oddEdge = { fromMillis: at - DAY - 17 * MIN - 3, toMillis: at + 1 };
        // From a whole minute, coalesced by whole minutes: what ClickHouse reads from the hour buckets.
        const fromMinute = { fromMillis: Math.floor((at - 2 * DAY - 7 * MIN) / MIN) * MIN, toMillis: at + 1 };
        const combos: { range: TimeRange; options: RunStartsOptions }[] = [
          ...[fiveDays, oddEdge].flatMap((range) => [{}, { coalesceMillis: 3 * MIN }].map((options) => ({ range, options }))),
          // Each of the paths below only for the kind of start it serves (the suite's time goes to the raw path).
          ...(which === 'succeeded'
            ? [
                { range: fromMinute, options: { coalesceMillis: 3 * MIN } },
                { range: fromMinute, options: { coalesceMillis: 30 * MIN } },
              ]
            : [
                // The earliest start only: over the whole history (a freshness SLO's first run seen) and after some runs started.
                { range: { fromMillis: 0, toMillis: at + 1 }, options: { earliestOnly: true } },
                { range: oddEdge, options: { earliestOnly: true } },
              ]),
        ];
        for (const { range, options } of combos) {
          const why = `${what}: runStarts ${jobs} ${which} ${JSON.stringify(range)} ${JSON.stringify(options)}`;
          const raws = await raw.runStarts(jobs, range, which, options);
          expect(await rolled.runStarts(jobs, range, which, options), why).toEqual(raws);
          queries.push({ jobs, ...range, which, ...options });
          wantStarts.push(raws);
        }
      }
    }
    // All of them in one call (DuckDB reads the coalesced exact-name ones in one scan).
    if (queries.length > 0) expect(await rolled.runStartsMany(queries), `${what}: runStartsMany`).toEqual(wantStarts);
    const got = (await evaluateSlos(rolled, FRESHNESS, at)).map(toSloJson);
    const want = (await evaluateSlos(raw, FRESHNESS, at)).map(toSloJson);
    expect(got, `${what}: freshness SLOs`).toEqual(want);
  };

  const sameSeries = async (rolled: Store, raw: Store, at: number, what: string): Promise<void> => {
    const criteria: GoodRunCriterion[] = [{ kind: 'success' }, { kind: 'latency', thresholdMillis: 300 }];
    const ranges = [{ fromMillis: at - 5 * DAY, toMillis: at }, { fromMillis: at - DAY - 17 * MIN - 3, toMillis: at + 1 }];
    for (const [k, bucketMillis] of [7 * MIN, HOUR, DAY].entries()) {
      const range = ranges[k % 2] as { fromMillis: number; toMillis: number };
      for (const criterion of criteria) {
        for (const jobs of ['a', 'etl-*', 'none']) {
          const q = { jobs, ...range, bucketMillis, criterion };
          expect(await rolled.timeSeries(q), `${what}: timeSeries ${JSON.stringify(q)}`).toEqual(await raw.timeSeries(q));
        }
        const q = { jobs: '*', ...range, bucketMillis, criterion };
        expect(await rolled.timeSeriesByJob(q), `${what}: timeSeriesByJob ${JSON.stringify(q)}`).toEqual(await raw.timeSeriesByJob(q));
        const only = { ...q, jobs: 'etl-*', onlyJobs: ['etl-2', 'a'] };
        expect(await rolled.timeSeriesByJob(only), `${what}: timeSeriesByJob ${JSON.stringify(only)}`).toEqual(await raw.timeSeriesByJob(only));
      }
    }
  };

  /** Float sums to 1e-9 relative (no fixed order of addition), everything else exactly. */
  const comparable = (a: JobAggregate): JobAggregate => {
    const near = (v: number | null): number | null => (v === null ? null : Number(v.toPrecision(9)));
    return { ...a, costTotal: near(a.costTotal), cpuSecondsTotal: near(a.cpuSecondsTotal) };
  };
  const sameReads = async (rolled: Store, raw: Store, at: number, what: string): Promise<void> => {
    const ranges: TimeRange[] = [
      { fromMillis: at - 5 * DAY, toMillis: at },
      { fromMillis: at - DAY - 17 * MIN - 3, toMillis: at + 1 },
      { fromMillis: at - 3 * DAY, toMillis: at - 2 * DAY - 7 },
    ];
    for (const range of ranges) {
      const why = `${what}: ${JSON.stringify(range)}`;
      const aggregates = await rolled.jobAggregates(range);
      expect(aggregates.map(comparable), `${why}: jobAggregates`).toEqual((await raw.jobAggregates(range)).map(comparable));
      expect(await rolled.queueDepths(range), `${why}: queueDepths`).toEqual(await raw.queueDepths(range));
      for (const jobs of ['*', 'etl-*', 'a', 'none']) {
        for (const latencyEdgesMillis of [LATENCY_EDGES_MILLIS, [100, 500, 1000], []]) {
          const q = { jobs, ...range, latencyEdgesMillis };
          expect(await rolled.runDistributions(q), `${why}: runDistributions ${jobs} ${latencyEdgesMillis.length}`).toEqual(await raw.runDistributions(q));
        }
        for (const filter of ['all', 'failed'] as const) {
          for (const order of ['latest', 'slowest'] as const) {
            const q = { jobs, ...range, filter, order };
            expect(await rolled.listRuns({ ...q, limit: 7 }), `${why}: listRuns ${JSON.stringify(q)}`).toEqual(await raw.listRuns({ ...q, limit: 7 }));
            expect(await rolled.listRunsByJob({ ...q, limitPerJob: 3 }), `${why}: listRunsByJob ${JSON.stringify(q)}`).toEqual(await raw.listRunsByJob({ ...q, limitPerJob: 3 }));
          }
        }
      }
      if (range === ranges[0]) {
        expect(aggregates.some((a) => a.costTotal !== null && a.queuedRuns > 0 && a.deadLettered > 0 && Object.keys(a.failureModes).length > 1), `${why}: details`).toBe(true);
      }
    }
  };

  describe(`${name}: rollups equal the raw path`, () => {
    it.each([1, 2, 3])('seeded mix %i: every SLI kind, selector and window, after every batch and after a replay', async (seed) => {
      const rolled = await open(true);
      const raw = await open(false);
      const batches = mix(seed);
      for (const [i, batch] of batches.entries()) {
        await insertBoth(rolled, raw, batch);
        await same(rolled, raw, queries([300, 1000], T), `seed ${seed} batch ${i}`);
        await same(rolled, raw, queries([300], T + 1), `seed ${seed} batch ${i} (+1 ms)`);
        await sameFreshness(rolled, raw, T, `seed ${seed} batch ${i}`, false);
      }
      const some = await rolled.windowCountsMany(queries([], T));
      expect(some.flat().some((c) => c.total > 0)).toBe(true);
      // An ingest replay (everything again, in another order).
      await insertBoth(rolled, raw, batches.flat().reverse());
      await same(rolled, raw, queries([300, 1000], T), `seed ${seed} replay`);
      await sameFreshness(rolled, raw, T, `seed ${seed} replay`);
      await sameSeries(rolled, raw, T, `seed ${seed} replay`);
      await sameReads(rolled, raw, T, `seed ${seed} replay`);
      expect((await rolled.timeSeries({ jobs: '*', fromMillis: T - 5 * DAY, toMillis: T, bucketMillis: HOUR })).length).toBeGreaterThan(10);
      const evals = await evaluateSlos(rolled, FRESHNESS, T);
      expect(evals.some((e) => e.good > 0) && evals.some((e) => e.good < e.total)).toBe(true);
    }, 480_000);

    it('a changed latency threshold gives the raw answer at once', async () => {
      const rolled = await open(true);
      const raw = await open(false);
      for (const batch of mix(9)) await insertBoth(rolled, raw, batch);
      await same(rolled, raw, queries([300], T), 'threshold 300');
      await same(rolled, raw, queries([450, 299.5], T), 'thresholds changed to 450 and 299.5');
    }, 120_000);

    it('rollups of format 1 (no run starts) are rebuilt by migrate, and then answer run starts and freshness SLOs as the raw path', async () => {
      const rolled = await open(true);
      const raw = await open(false);
      for (const batch of mix(5)) await insertBoth(rolled, raw, batch);
      await options.toFormat1(rolled);
      // Before the rebuild (another process may be running it) run lists read raw runs: the buckets lack their columns.
      for (const order of ['latest', 'slowest'] as const) {
        const q = { jobs: '*', fromMillis: T - 5 * DAY, toMillis: T, order };
        expect(await rolled.listRunsByJob({ ...q, limitPerJob: 3 }), `old format: listRunsByJob ${order}`).toEqual(await raw.listRunsByJob({ ...q, limitPerJob: 3 }));
        expect(await rolled.listRuns({ ...q, limit: 7 }), `old format: listRuns ${order}`).toEqual(await raw.listRuns({ ...q, limit: 7 }));
      }
      await rolled.migrate();
      await same(rolled, raw, queries([300], T), 'after the rebuild');
      await sameFreshness(rolled, raw, T, 'after the rebuild');
      await sameReads(rolled, raw, T, 'after the rebuild');
      expect((await rolled.runStarts('*', { fromMillis: T - 5 * DAY, toMillis: T + 1 }, 'any')).length).toBeGreaterThan(0);
    }, 240_000);

    it('an evaluation before the latest stored row counts raw runs, and so gives the raw answer', async () => {
      const rolled = await open(true);
      const raw = await open(false);
      for (const batch of mix(4)) await insertBoth(rolled, raw, batch);
      await same(rolled, raw, queries([300], T - 2 * DAY - 7), 'two days before T');
      await sameFreshness(rolled, raw, T - 2 * DAY - 7, 'two days before T');
      await sameSeries(rolled, raw, T - 2 * DAY - 7, 'two days before T');
      await sameReads(rolled, raw, T - 2 * DAY - 7, 'two days before T');
    }, 120_000);
  });

  describe(`${name}: minute buckets as run lists`, () => {
    it('keep every column a run list shows, an outcome outside the known ones included', async () => {
      const store = await open(true);
      const endNs = BigInt(Date.UTC(2026, 10, 20, 10, 0, 30)) * 1_000_000n;
      const run = (runId: string, outcome: string, latencyNs: bigint): RunFact => ({
        job: 'j', runId, runEndNs: endNs, startNs: endNs - latencyNs, outcome, latencyNs, attempts: 2, ran: true,
        deadLettered: outcome !== 'succeeded', errorType: 'E', traceId: `t-${runId}`, spanId: `s-${runId}`, exitCode: 3, message: `m-${runId}`,
      });
      await options.writeMinutes(store, [{ job: 'j', minuteNs: (endNs / MINUTE_NS) * MINUTE_NS, runs: [run('r1', 'weird', 5_000_000n), run('r2', 'failed', 9_000_000n)] }]);
      const range = { jobs: 'j', fromMillis: Date.UTC(2026, 10, 20, 9), toMillis: Date.UTC(2026, 10, 20, 11) };
      const expected = (runId: string, outcome: string, latencyMillis: number): RunSummary => ({
        job: 'j', runId, traceId: `t-${runId}`, spanId: `s-${runId}`, outcome, startMillis: Number(endNs / 1_000_000n) - latencyMillis, endMillis: Number(endNs / 1_000_000n),
        latencyMillis, attempts: 2, errorType: 'E', exitCode: 3, message: `m-${runId}`, deadLettered: true,
      });
      expect(await store.listRuns({ ...range, order: 'slowest' })).toEqual([expected('r2', 'failed', 9), expected('r1', 'weird', 5)]);
      expect(await store.listRunsByJob({ ...range, filter: 'failed', limitPerJob: 5 })).toEqual([expected('r2', 'failed', 9)]);
    });

    it('keep the first runs per job in the raw order through ties at the limit, and every run of a job with fewer', async () => {
      const store = await open(true);
      const minuteNs = ((BigInt(Date.UTC(2026, 10, 20, 10)) * 1_000_000n) / MINUTE_NS) * MINUTE_NS;
      // [run id, end offset s, latency ms]
      const spec: [string, number, number][] = [['r1', 5, 5], ['r5', 1, 9], ['r3', 1, 9], ['r4', 1, 9], ['r2', 7, 3], ['r0', 7, 0], ['r6', 2, 9]];
      const runs = spec.map(([runId, endS, latency]): RunFact => {
        const runEndNs = minuteNs + BigInt(endS) * 1_000_000_000n;
        const latencyNs = BigInt(latency) * 1_000_000n;
        return { job: 'j', runId, runEndNs, startNs: runEndNs - latencyNs, outcome: 'succeeded', latencyNs, attempts: 1, ran: latency > 0 };
      });
      await options.writeMinutes(store, [{ job: 'j', minuteNs, runs }]);
      const range = { jobs: '*', fromMillis: Date.UTC(2026, 10, 20, 9), toMillis: Date.UTC(2026, 10, 20, 11) };
      const ids = async (order: 'slowest' | 'latest', limitPerJob: number): Promise<string[]> => (await store.listRunsByJob({ ...range, order, limitPerJob })).map((r) => r.runId);
      // Slowest: latency, then end (latest first), then run id.
      expect(await ids('slowest', 2)).toEqual(['r6', 'r3']);
      expect(await ids('slowest', 4)).toEqual(['r6', 'r3', 'r4', 'r5']);
      expect(await ids('slowest', 7)).toEqual(['r6', 'r3', 'r4', 'r5', 'r1', 'r2', 'r0']);
      expect(await ids('slowest', 50)).toEqual(['r6', 'r3', 'r4', 'r5', 'r1', 'r2', 'r0']);
      // Latest: end, then run id.
      expect(await ids('latest', 1)).toEqual(['r0']);
      expect(await ids('latest', 5)).toEqual(['r0', 'r2', 'r1', 'r6', 'r3']);
    });
  });
}
