/**
 * The store contract, as tests: every store (DuckDB, ClickHouse 18.16 and
 * current ClickHouse through chDB) runs this same suite, so the SLIs are the
 * same whichever store computes them. Each test writes through the store's
 * `SpanWriter` role, reads through its `RunReader` role and migrates or drops
 * days through its `StoreMaintenance` role; test/store/duckdb-remote.test.ts
 * runs it with every read going through the collector's read API
 * (`RemoteStore`).
 * Percentiles are compared within `latencyTolerance` (a fraction), because
 * stores may compute them differently (interpolated vs nearest rank).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LifecycleEvent, lifecycleEventId } from '../../contracts/index.js';
import type { LifecycleEventRecord, SpanRecord } from '../../contracts/index.js';
import type { RunSummary, Store } from '../../store/index.js';
import { runSpans } from '../support/spans.js';
import type { FixtureRun } from '../support/spans.js';
import { BULLMQ_FIXTURE, CELERY_FIXTURE, bullmqAdd, bullmqProcess, celeryPublish, celeryRun, recordedSpans, span } from '../support/native-spans.js';

export interface ConformanceOptions {
  /** Opens a fresh, empty, migrated store owned by one test. */
  open(): Promise<Store>;
  /** Makes inserted rows visible to queries, if the store needs it. */
  settle?(store: Store): Promise<void>;
  /** Allowed relative error of percentiles. @default 0 (exact) */
  latencyTolerance?: number;
  /**
   * Makes the store look like one from before job rows existed (spans
   * stored, no job rows, the job rows migration not applied), so that the
   * next `migrate()` must re-derive them.
   */
  forgetJobRows?(store: Store): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const HOUR = 3_600_000;
const RANGE = { fromMillis: T0 - HOUR, toMillis: T0 + HOUR };

const ok = (job: string, startMillis: number, durationMillis: number, extra: Partial<FixtureRun> = {}): SpanRecord[] =>
  runSpans({ job, startMillis, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis, outcome: 'succeeded', exitCode: 0 }], ...extra });

const failed = (job: string, startMillis: number, exitCode: number, attempts = 1): SpanRecord[] =>
  runSpans({
    job,
    startMillis,
    outcome: 'failed',
    deadLettered: true,
    attempts: Array.from({ length: attempts }, (_, i) => ({ startOffsetMillis: i * 100, durationMillis: 50, outcome: 'failed' as const, exitCode })),
  });

const flaky = (startMillis: number): SpanRecord[] =>
  runSpans({
    job: 'flaky',
    startMillis,
    outcome: 'succeeded',
    attempts: [
      { startOffsetMillis: 0, durationMillis: 100, outcome: 'failed', exitCode: 1 },
      { startOffsetMillis: 200, durationMillis: 100, outcome: 'failed', exitCode: 1 },
      { startOffsetMillis: 400, durationMillis: 100, outcome: 'succeeded', exitCode: 0 },
    ],
  });

export function defineStoreConformance(name: string, options: ConformanceOptions): void {
  let stores: Store[] = [];
  const fresh = async (): Promise<Store> => {
    const s = await options.open();
    stores.push(s);
    return s;
  };
  const insert = async (s: Store, spans: SpanRecord[]): Promise<void> => {
    await s.insertSpans(spans);
    await options.settle?.(s);
  };
  const tol = options.latencyTolerance ?? 0;
  const near = (got: number | null | undefined, want: number): void => {
    expect(got).not.toBeNull();
    expect(Math.abs((got as number) - want)).toBeLessThanOrEqual(Math.max(tol * want, 1e-6));
  };

  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  describe(`${name}: span-to-run derivation`, () => {
    it('counts a run with retries once, with attempts - 1 retries and first-start-to-last-end latency', async () => {
      const s = await fresh();
      await insert(s, flaky(T0));
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ job: 'flaky', runs: 1, succeeded: 1, failed: 0, retries: 2 });
      near(agg?.latencyP50Millis, 500);
    });

    it('gives the same runs when spans arrive out of order and in separate requests', async () => {
      const s = await fresh();
      for (const span of flaky(T0).reverse()) await s.insertSpans([span]);
      await options.settle?.(s);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ runs: 1, succeeded: 1, retries: 2 });
      near(agg?.latencyP50Millis, 500);
    });

    it('does not change any SLI when the same spans are delivered twice', async () => {
      const s = await fresh();
      const spans = [...flaky(T0), ...failed('flaky', T0 + 1000, 2)];
      await insert(s, spans);
      const once = await s.jobAggregates(RANGE);
      const windowsOnce = await s.windowCounts({ jobs: 'flaky', criterion: { kind: 'success' }, endMillis: T0 + HOUR, windowsMillis: [HOUR, 2 * HOUR] });
      await insert(s, spans);
      await insert(s, spans.slice(1, 3));
      expect(await s.jobAggregates(RANGE)).toEqual(once);
      expect(await s.windowCounts({ jobs: 'flaky', criterion: { kind: 'success' }, endMillis: T0 + HOUR, windowsMillis: [HOUR, 2 * HOUR] })).toEqual(windowsOnce);
      expect(once[0]).toMatchObject({ runs: 2, succeeded: 1, failed: 1, retries: 2 });
    });

    it('does not count a run until its run span (the final outcome) has arrived', async () => {
      const s = await fresh();
      const spans = flaky(T0);
      await insert(s, spans.slice(1));
      expect(await s.jobAggregates(RANGE)).toEqual([]);
      await insert(s, spans.slice(0, 1));
      expect((await s.jobAggregates(RANGE))[0]?.runs).toBe(1);
    });

    it('reports cancelled and skipped runs without counting them in the success rate', async () => {
      const s = await fresh();
      await insert(s, [
        ...ok('j', T0, 10),
        ...runSpans({ job: 'j', startMillis: T0, outcome: 'timed_out', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'timed_out' }], deadLettered: true }),
        ...runSpans({ job: 'j', startMillis: T0, outcome: 'cancelled', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'failed' }] }),
        ...runSpans({ job: 'j', startMillis: T0, outcome: 'skipped', attempts: [] }),
      ]);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ runs: 2, succeeded: 1, failed: 1, timedOut: 1, cancelled: 1, skipped: 1, deadLettered: 1 });
      expect(agg?.failureModes).toEqual({ timeout: 1 });
    });

    it('counts a missed scheduled tick (a run with no attempt) as a failure but not in latency', async () => {
      const s = await fresh();
      const missed = runSpans({ job: 'cron', startMillis: T0 + 5_000, outcome: 'failed', attempts: [] });
      (missed[0] as SpanRecord).attributes['error.type'] = 'missed';
      await insert(s, [...ok('cron', T0, 100), ...ok('cron', T0 + 1_000, 300), ...missed]);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ runs: 3, succeeded: 2, failed: 1, retries: 0, failureModes: { missed: 1 } });
      near(agg?.latencyP50Millis, 200);
      const series = await s.timeSeries({ ...RANGE, jobs: 'cron', bucketMillis: HOUR });
      near(series[0]?.latencyP50Millis, 200);
    });

    it('counts a run in the range its final outcome falls in', async () => {
      const s = await fresh();
      await insert(s, ok('edge', RANGE.toMillis - 50, 100));
      expect(await s.jobAggregates(RANGE)).toEqual([]);
      expect(await s.jobAggregates({ fromMillis: RANGE.toMillis, toMillis: RANGE.toMillis + 1000 })).toHaveLength(1);
    });
  });

  describe(`${name}: window edges and run times`, () => {
    const at = (job: string, endMillis: number): SpanRecord[] => ok(job, endMillis - 100, 100);

    it('holds the runs that ended in (T - L, T]: one ending exactly at T counts, one ending exactly at T - L does not', async () => {
      const s = await fresh();
      const T = T0 + 30 * 60_000;
      const L = HOUR;
      // Failed runs end exactly at T and at T + 1, succeeded ones exactly at T - L and at T - L + 1.
      await insert(s, [...failed('edge', T - 50, 1), ...at('edge', T - L), ...at('edge', T - L + 1), ...failed('edge', T + 1 - 50, 1)]);
      const range = { fromMillis: T - L, toMillis: T };
      expect((await s.jobAggregates(range))[0]).toMatchObject({ runs: 2, succeeded: 1, failed: 1 });
      expect(await s.windowCounts({ jobs: 'edge', criterion: { kind: 'success' }, endMillis: T, windowsMillis: [L] })).toEqual([{ windowMillis: L, good: 1, total: 2 }]);
      expect(await s.windowCountsMany([{ jobs: 'edge', criterion: { kind: 'success' }, endMillis: T, windowsMillis: [L] }])).toEqual([[{ windowMillis: L, good: 1, total: 2 }]]);
      expect((await s.listRuns({ ...range, jobs: 'edge' })).map((r) => r.endMillis)).toEqual([T, T - L + 1]);
      expect(await s.jobNames(range)).toEqual(['edge']);
      // Adjacent periods never count a run twice.
      const before = await s.jobAggregates({ fromMillis: T - 2 * L, toMillis: T - L });
      expect(before[0]).toMatchObject({ runs: 1, succeeded: 1 });
      // Buckets are (start, start + width]: the run ending exactly at T is in the bucket that ends at T.
      const series = await s.timeSeries({ ...range, jobs: 'edge', bucketMillis: L / 2 });
      expect(series.map((p) => [p.bucketStartMillis, p.runs, p.succeeded])).toEqual([
        [T - L, 1, 1],
        [T - L / 2, 1, 0],
      ]);
    });

    it('takes a run\'s start as the earlier of its run span\'s start and its first arriving attempt\'s', async () => {
      const s = await fresh();
      // The first attempt was sampled away: the run span (starting at T0) still says when the run began.
      const spans = runSpans({
        job: 'sampled',
        startMillis: T0,
        outcome: 'succeeded',
        attempts: [
          { startOffsetMillis: 0, durationMillis: 100, outcome: 'failed', exitCode: 1 },
          { startOffsetMillis: 400, durationMillis: 100, outcome: 'succeeded', exitCode: 0 },
        ],
      });
      await insert(s, [spans[0] as SpanRecord, spans[2] as SpanRecord]);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ runs: 1, succeeded: 1, retries: 1 });
      near(agg?.latencyP50Millis, 500);
      expect((await s.listRuns({ ...RANGE, jobs: 'sampled' }))[0]).toMatchObject({ startMillis: T0, latencyMillis: 500, attempts: 2 });
    });

    it('counts a single-span run (a run span without attempts or an attempt count) as one attempt with its duration as latency', async () => {
      const s = await fresh();
      const spans = ok('single', T0, 250).slice(0, 1);
      delete (spans[0] as SpanRecord).attributes['jobslo.run.attempts'];
      await insert(s, spans);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ runs: 1, succeeded: 1, retries: 0 });
      near(agg?.latencyP50Millis, 250);
      expect(await s.runDistributions?.({ ...RANGE, jobs: 'single', latencyEdgesMillis: [100] })).toEqual([{ job: 'single', latencyCounts: [0, 1], attempts: { '1': 1 } }]);
    });

    it('files a failed run with an exit code and no error.type under its exit code, a timed-out one under timeout, else under failed', async () => {
      const s = await fresh();
      const byExit = runSpans({ job: 'modes', startMillis: T0, outcome: 'failed', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'failed', exitCode: 3 }] });
      const timedOut = runSpans({ job: 'modes', startMillis: T0 + 100, outcome: 'timed_out', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'timed_out' }] });
      const bare = runSpans({ job: 'modes', startMillis: T0 + 200, outcome: 'failed', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'failed' }] });
      for (const span of [...byExit, ...timedOut, ...bare]) delete span.attributes['error.type'];
      await insert(s, [...byExit, ...timedOut, ...bare]);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg?.failureModes).toEqual({ '3': 1, timeout: 1, failed: 1 });
      expect((await s.listRuns({ ...RANGE, jobs: 'modes', filter: 'failed' })).map((r) => r.errorType)).toEqual(['', 'timeout', '3']);
    });

    it('covers every run that started an attempt in queue delay, cancelled runs included, and no run that never started one', async () => {
      const s = await fresh();
      const queued = (ms: number): SpanRecord['attributes'] => ({ 'jobslo.run.queued_time_unix_nano': String(BigInt(ms) * 1_000_000n) });
      await insert(s, [
        ...ok('qd', T0, 10, { extraAttributes: queued(T0 - 100) }),
        ...runSpans({ job: 'qd', startMillis: T0, outcome: 'cancelled', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'failed' }], extraAttributes: queued(T0 - 300) }),
        ...runSpans({ job: 'qd', startMillis: T0, outcome: 'skipped', attempts: [], extraAttributes: queued(T0 - 10_000) }),
      ]);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ runs: 1, cancelled: 1, skipped: 1, queuedRuns: 2 });
      near(agg?.queueDelayP50Millis, 200);
    });
  });

  describe(`${name}: runs from the telemetry other runners emit`, () => {
    const DAY = 86_400_000;
    const spanRange = (spans: SpanRecord[]): { fromMillis: number; toMillis: number } => {
      const ends = spans.map((x) => Number(x.endTimeUnixNano / 1_000_000n));
      return { fromMillis: Math.min(...ends) - HOUR, toMillis: Math.max(...ends) + HOUR };
    };
    const pick = (aggs: Awaited<ReturnType<Store['jobAggregates']>>): Record<string, unknown>[] =>
      aggs.map((a) => ({ job: a.job.replace(/^bullmq-spans-[0-9a-f-]+\//, '<queue>/'), runs: a.runs, succeeded: a.succeeded, failed: a.failed, retries: a.retries, queuedRuns: a.queuedRuns }));
    const MIX = (prefix: string): Record<string, unknown>[] => [
      { job: `${prefix}doomed`, runs: 2, succeeded: 0, failed: 2, retries: 4, queuedRuns: 2 },
      { job: `${prefix}flaky`, runs: 3, succeeded: 3, failed: 0, retries: 3, queuedRuns: 3 },
      { job: `${prefix}ok`, runs: 5, succeeded: 5, failed: 0, retries: 0, queuedRuns: 5 },
    ];

    for (const [framework, file, prefix] of [
      ['Celery', CELERY_FIXTURE, 'native.'],
      ['BullMQ', BULLMQ_FIXTURE, '<queue>/'],
    ] as const) {
      it(`counts the runs of real ${framework} spans exactly, also delivered twice, reversed and split into small requests`, async () => {
        const spans = recordedSpans(file);
        const range = spanRange(spans);
        const s = await fresh();
        await insert(s, spans);
        const once = await s.jobAggregates(range);
        expect(pick(once)).toEqual(MIX(prefix));
        for (const a of once) {
          expect(a.queueDelayP50Millis, a.job).not.toBeNull();
          expect(a.queueDelayP50Millis as number, a.job).toBeGreaterThan(0);
          expect(a.queueDelayP50Millis as number, a.job).toBeLessThan(60_000);
          expect(a.latencyP50Millis, a.job).not.toBeNull();
        }
        const again = await fresh();
        const reversed = [...spans].reverse();
        for (let i = 0; i < reversed.length; i += 8) await again.insertSpans(reversed.slice(i, i + 8));
        await again.insertSpans(spans);
        await options.settle?.(again);
        expect(await again.jobAggregates(range)).toEqual(once);
      });
    }

    it('counts nothing for traces that only enqueued (the producer span is never a run)', async () => {
      const s = await fresh();
      await insert(s, [celeryPublish('tasks.a', 't1', T0), bullmqAdd('q', 'a', '1', T0), span({ kind: 4, startMillis: T0, attributes: { 'messaging.operation.type': 'send', 'messaging.destination.name': 'orders', 'messaging.message.id': 'm1' } })]);
      expect(await s.jobAggregates(RANGE)).toEqual([]);
      expect(await s.jobNames(RANGE)).toEqual([]);
    });

    it('counts a Celery run whose retry arrived before its first attempt once, from the first attempt\'s start', async () => {
      const s = await fresh();
      const first = celeryRun('tasks.a', 't1', { startMillis: T0, durationMillis: 100, state: 'RETRY' });
      const second = celeryRun('tasks.a', 't1', { startMillis: T0 + 300, durationMillis: 100, state: 'SUCCESS', retries: 1 });
      await insert(s, [second]);
      await insert(s, [first, celeryPublish('tasks.a', 't1', T0 - 50)]);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ job: 'tasks.a', runs: 1, succeeded: 1, retries: 1, queuedRuns: 1 });
      near(agg?.latencyP50Millis, 400);
      near(agg?.queueDelayP50Millis, 50);
    });

    it('does not count a run whose final attempt has not arrived yet (Celery RETRY, BullMQ failed attempt), then counts it once it has', async () => {
      const s = await fresh();
      const [b1, b1delay] = bullmqProcess('q', 'b', '1', { startMillis: T0, durationMillis: 10, attemptsMade: 1, result: 'retried' }) as [SpanRecord, SpanRecord];
      await insert(s, [celeryRun('tasks.a', 't1', { startMillis: T0, durationMillis: 100, state: 'RETRY' }), b1, b1delay]);
      expect(await s.jobAggregates(RANGE)).toEqual([]);
      await insert(s, [
        celeryRun('tasks.a', 't1', { startMillis: T0 + 300, durationMillis: 100, state: 'FAILURE', retries: 1, exceptionType: 'ValueError' }),
        ...bullmqProcess('q', 'b', '1', { startMillis: T0 + 300, durationMillis: 10, attemptsMade: 2, result: 'failed' }),
      ]);
      const aggs = await s.jobAggregates(RANGE);
      expect(aggs.map((a) => [a.job, a.runs, a.failed, a.retries, a.failureModes])).toEqual([
        ['q/b', 1, 1, 1, { failed: 1 }],
        ['tasks.a', 1, 1, 1, { ValueError: 1 }],
      ]);
    });

    it('puts each cicd.pipeline.result in its counter, and each task run in its own job', async () => {
      const s = await fresh();
      const pipeline = (result: string, i: number, durationMillis = 1_000): SpanRecord =>
        span({ startMillis: T0 + i * 10_000, durationMillis, attributes: { 'cicd.pipeline.name': 'build', 'cicd.pipeline.run.id': `r${i}`, 'cicd.pipeline.result': result } });
      const results = ['success', 'failure', 'error', 'timeout', 'cancellation', 'skip'];
      const task = span({
        startMillis: T0,
        durationMillis: 200,
        parentSpanId: 'ab'.repeat(8),
        attributes: { 'cicd.pipeline.name': 'build', 'cicd.pipeline.run.id': 'r0', 'cicd.pipeline.task.name': 'test', 'cicd.pipeline.task.run.result': 'failure' },
      });
      await insert(s, [...results.map((r, i) => pipeline(r, i, 1_000 * (i + 1))), task]);
      const aggs = await s.jobAggregates(RANGE);
      expect(aggs.map((a) => [a.job, a.runs, a.succeeded, a.failed, a.timedOut, a.cancelled, a.skipped])).toEqual([
        ['build', 4, 1, 3, 1, 1, 1],
        ['build/test', 1, 0, 1, 0, 0, 0],
      ]);
      // Single-span runs: latency is the span's duration (1, 2, 3 and 4 s for the counted ones).
      near(aggs[0]?.latencyP50Millis, 2_500);
      expect(aggs[0]?.failureModes).toEqual({ failed: 2, timeout: 1 });
    });

    it('counts Kubernetes Job runs (root spans of k8s.job.uid) and generic messaging consumers, the latest attempt giving the outcome', async () => {
      const s = await fresh();
      const pod = (uid: string, startMillis: number, error: boolean): SpanRecord =>
        span({ startMillis, durationMillis: 1_000, statusCode: error ? 2 : 0, resource: { 'service.name': 'backup', 'k8s.job.name': `backup-${uid}`, 'k8s.job.uid': uid, 'k8s.cronjob.name': 'backup' } });
      const consume = (id: string, startMillis: number, error: boolean): SpanRecord =>
        span({ kind: 5, startMillis, durationMillis: 100, statusCode: error ? 2 : 0, attributes: { 'messaging.operation.type': 'process', 'messaging.destination.name': 'orders', 'messaging.message.id': id } });
      await insert(s, [pod('u1', T0, true), pod('u1', T0 + 5_000, false), pod('u2', T0, true), consume('m1', T0, true), consume('m1', T0 + 1_000, false), consume('m2', T0, false)]);
      const aggs = await s.jobAggregates(RANGE);
      expect(aggs.map((a) => [a.job, a.runs, a.succeeded, a.failed, a.retries])).toEqual([
        ['backup', 2, 1, 1, 1],
        ['orders', 2, 2, 0, 1],
      ]);
    });

    it('keeps every attempt of a run longer than a day (first attempt ended days before the window)', async () => {
      const s = await fresh();
      const start = T0 - 3 * DAY;
      // A Celery task retried after three days, and a run span covering three days whose first attempt ended then.
      const celery = [celeryPublish('tasks.long', 't1', start - 1_000), celeryRun('tasks.long', 't1', { startMillis: start, durationMillis: 1_000, state: 'RETRY' }), celeryRun('tasks.long', 't1', { startMillis: T0, durationMillis: 1_000, state: 'SUCCESS', retries: 1 })];
      const jobslo = runSpans({
        job: 'long',
        startMillis: start,
        outcome: 'succeeded',
        attempts: [
          { startOffsetMillis: 0, durationMillis: 1_000, outcome: 'failed', exitCode: 1 },
          { startOffsetMillis: 3 * DAY, durationMillis: 1_000, outcome: 'succeeded', exitCode: 0 },
        ],
      });
      delete (jobslo[0] as SpanRecord).attributes['jobslo.run.attempts'];
      await insert(s, [...celery, ...jobslo]);
      const aggs = await s.jobAggregates(RANGE);
      expect(aggs.map((a) => [a.job, a.runs, a.retries, a.queuedRuns])).toEqual([
        ['long', 1, 1, 0],
        ['tasks.long', 1, 1, 1],
      ]);
      near(aggs[0]?.latencyP50Millis, 3 * DAY + 1_000);
      near(aggs[1]?.latencyP50Millis, 3 * DAY + 1_000);
      near(aggs[1]?.queueDelayP50Millis, 1_000);
      expect((await s.listRuns({ ...RANGE, jobs: '*long' })).map((r) => [r.job, r.attempts, r.startMillis])).toEqual([
        ['long', 2, start],
        ['tasks.long', 2, start],
      ]);
      expect(await s.windowCounts({ jobs: '*long', criterion: { kind: 'latency', thresholdMillis: DAY }, endMillis: RANGE.toMillis, windowsMillis: [HOUR] })).toEqual([{ windowMillis: HOUR, good: 0, total: 2 }]);
    });
  });

  describe(`${name}: dimensions`, () => {
    const envRun = (job: string, env: string, service: string, startMillis: number, outcome: 'succeeded' | 'failed'): SpanRecord[] =>
      runSpans({ job, startMillis, outcome, attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome, exitCode: outcome === 'failed' ? 1 : 0 }] }).map((x) => ({
        ...x,
        resourceAttributes: { 'service.name': service, ...(env === '' ? {} : { 'deployment.environment': env }) },
      }));
    const fixture = (): SpanRecord[] => [
      ...envRun('etl', 'prod', 'api', T0, 'succeeded'),
      ...envRun('etl', 'prod', 'api', T0 + 1_000, 'failed'),
      ...envRun('etl', 'staging', 'api', T0 + 2_000, 'failed'),
      ...envRun('etl', 'prod', 'worker', T0 + 3_000, 'succeeded'),
      ...envRun('etl', '', 'worker', T0 + 4_000, 'succeeded'),
    ];

    it('filters every run query by dimension values (the old deployment.environment read as deployment.environment.name)', async () => {
      const s = await fresh();
      await insert(s, fixture());
      const prod = { 'deployment.environment.name': 'prod' };
      expect((await s.jobAggregates({ ...RANGE, where: prod }))[0]).toMatchObject({ runs: 3, succeeded: 2, failed: 1 });
      expect((await s.jobAggregates({ ...RANGE, where: { ...prod, 'service.name': 'worker' } }))[0]).toMatchObject({ runs: 1, succeeded: 1 });
      expect(await s.jobAggregates({ ...RANGE, where: { 'deployment.environment.name': 'nope' } })).toEqual([]);
      const q = { jobs: 'etl', criterion: { kind: 'success' as const }, endMillis: RANGE.toMillis, windowsMillis: [HOUR, 2 * HOUR] };
      const staging = { ...q, where: { 'deployment.environment.name': 'staging' } };
      expect(await s.windowCounts({ ...q, where: prod })).toEqual([
        { windowMillis: HOUR, good: 2, total: 3 },
        { windowMillis: 2 * HOUR, good: 2, total: 3 },
      ]);
      expect(await s.windowCountsMany([{ ...q, where: prod }, staging, q])).toEqual([await s.windowCounts({ ...q, where: prod }), await s.windowCounts(staging), await s.windowCounts(q)]);
      expect((await s.windowCounts(q))[0]).toEqual({ windowMillis: HOUR, good: 3, total: 5 });
      expect(await s.listRuns({ ...RANGE, jobs: 'etl', where: { 'deployment.environment.name': 'staging' } })).toHaveLength(1);
      expect((await s.timeSeries({ ...RANGE, jobs: 'etl', bucketMillis: HOUR, where: prod })).map((p) => p.runs)).toEqual([3]);
      // Run starts for freshness SLOs and monitors of one environment; '' selects runs without it.
      expect(await s.runStarts('etl', RANGE, 'succeeded', { where: prod })).toEqual([T0, T0 + 3_000]);
      expect(await s.runStarts('etl', RANGE, 'any', { where: prod })).toEqual([T0, T0 + 1_000, T0 + 3_000]);
      expect(await s.runStarts('etl', RANGE, 'any', { where: { 'deployment.environment.name': '' } })).toEqual([T0 + 4_000]);
      expect(await s.runStarts('etl', RANGE, 'any', { where: { 'deployment.environment.name': 'staging' }, coalesceMillis: HOUR })).toEqual([T0 + 2_000]);
      expect(await s.runStarts('etl', RANGE, 'any')).toEqual([T0, T0 + 1_000, T0 + 2_000, T0 + 3_000, T0 + 4_000]);
      // Many in one call: each answered as alone, filters and coalescing included.
      const many = [
        { jobs: 'etl', ...RANGE, which: 'succeeded' as const, where: prod },
        { jobs: 'etl', ...RANGE, which: 'any' as const, coalesceMillis: HOUR },
        { jobs: 'e*', ...RANGE, which: 'any' as const, coalesceMillis: 1 },
        { jobs: 'etl', ...RANGE, which: 'any' as const },
        { jobs: 'etl', fromMillis: T0 + 1, toMillis: T0 + 3_000, which: 'any' as const, coalesceMillis: 10 },
        { jobs: 'nope', ...RANGE, which: 'any' as const, coalesceMillis: HOUR },
        { jobs: 'etl', fromMillis: T0, toMillis: T0, which: 'any' as const, coalesceMillis: HOUR },
        // The earliest start only (a freshness SLO's first run seen), coalesceMillis ignored.
        { jobs: 'etl', ...RANGE, which: 'any' as const, earliestOnly: true },
        { jobs: 'e*', fromMillis: 0, toMillis: RANGE.toMillis, which: 'any' as const, earliestOnly: true, coalesceMillis: 1 },
        { jobs: 'etl', fromMillis: T0 + 1, toMillis: T0 + 3_000, which: 'any' as const, earliestOnly: true },
        { jobs: 'etl', fromMillis: T0 + 1, toMillis: T0 + 1_000, which: 'any' as const, earliestOnly: true },
        { jobs: 'etl', ...RANGE, which: 'succeeded' as const, earliestOnly: true, where: { 'deployment.environment.name': 'staging' } },
        { jobs: 'etl', fromMillis: T0 + 1, toMillis: RANGE.toMillis, which: 'succeeded' as const, earliestOnly: true, where: prod },
        { jobs: 'nope', fromMillis: 0, toMillis: RANGE.toMillis, which: 'any' as const, earliestOnly: true },
      ];
      expect(await s.runStartsMany(many)).toEqual([
        [T0, T0 + 3_000],
        [T0, T0 + 4_000],
        [T0, T0 + 1_000, T0 + 2_000, T0 + 3_000, T0 + 4_000],
        [T0, T0 + 1_000, T0 + 2_000, T0 + 3_000, T0 + 4_000],
        [T0 + 1_000, T0 + 2_000],
        [],
        [],
        [T0],
        [T0],
        [T0 + 1_000],
        [],
        [],
        [T0 + 3_000],
        [],
      ]);
      expect(await s.runStarts('etl', { fromMillis: 0, toMillis: RANGE.toMillis }, 'any', { earliestOnly: true })).toEqual([T0]);
      expect(await s.runStartsMany([])).toEqual([]);
    });

    it('groups aggregates by a dimension, runs without it under the empty value', async () => {
      const s = await fresh();
      await insert(s, fixture());
      const byEnv = await s.jobAggregates({ ...RANGE, groupBy: 'deployment.environment.name' });
      expect(byEnv.map((a) => [a.job, a.group, a.runs, a.failed])).toEqual([
        ['etl', '', 1, 0],
        ['etl', 'prod', 3, 1],
        ['etl', 'staging', 1, 1],
      ]);
      const byService = await s.jobAggregates({ ...RANGE, groupBy: 'service.name', where: { 'deployment.environment.name': 'prod' } });
      expect(byService.map((a) => [a.group, a.runs])).toEqual([
        ['api', 2],
        ['worker', 1],
      ]);
      expect((await s.jobAggregates(RANGE))[0]).not.toHaveProperty('group');
    });
  });

  describe(`${name}: spans that look like job telemetry but form no run`, () => {
    it('counts them in the window their end falls in, by profile and missing attribute, each once however often delivered; they count as no run', async () => {
      const s = await fresh();
      const noRunId = span({ name: 'nightly', startMillis: T0, durationMillis: 10, attributes: { 'jobslo.job.name': 'nightly', 'jobslo.span.type': 'run' } });
      const noUid = span({ name: 'pod', startMillis: T0 + 5, resource: { 'k8s.job.name': 'backup' } });
      const celeryNoId = span({ name: 'run/tasks.a', kind: 5, startMillis: T0, attributes: { 'celery.action': 'run', 'celery.task_name': 'tasks.a' } });
      const late = span({ startMillis: RANGE.toMillis + 1, attributes: { 'jobslo.job.name': 'nightly', 'jobslo.span.type': 'run' } });
      await insert(s, [...ok('good', T0, 20), noRunId, noUid, late]);
      await insert(s, [noRunId, celeryNoId]);
      expect(await s.unformedSpans(RANGE)).toEqual([
        { profile: 'celery', missing: 'messaging.message.id', spans: 1 },
        { profile: 'jobslo', missing: 'jobslo.run.id', spans: 1 },
        { profile: 'k8s', missing: 'k8s.job.uid', spans: 1 },
      ]);
      expect(await s.unformedSpans({ fromMillis: RANGE.toMillis, toMillis: RANGE.toMillis + HOUR })).toEqual([{ profile: 'jobslo', missing: 'jobslo.run.id', spans: 1 }]);
      expect((await s.jobAggregates(RANGE)).map((a) => [a.job, a.runs])).toEqual([['good', 1]]);
    });
  });

  describe(`${name}: migration of a store that holds spans but no job rows`, () => {
    it('re-derives the job rows from the stored spans: every answer is the same', async (ctx) => {
      if (!options.forgetJobRows) return ctx.skip();
      const s = await fresh();
      const noRunId = span({ startMillis: T0, attributes: { 'jobslo.job.name': 'nightly', 'jobslo.span.type': 'run' } });
      await insert(s, [...flaky(T0), ...failed('m', T0 + 1_000, 2), ...ok('m', T0 + 2_000, 30), noRunId]);
      const want = await s.jobAggregates(RANGE);
      await options.forgetJobRows(s);
      await options.settle?.(s);
      expect(await s.jobAggregates(RANGE)).toEqual([]);
      expect(await s.unformedSpans(RANGE)).toEqual([]);
      await s.migrate();
      await options.settle?.(s);
      expect(await s.jobAggregates(RANGE)).toEqual(want);
      expect(await s.unformedSpans(RANGE)).toEqual([{ profile: 'jobslo', missing: 'jobslo.run.id', spans: 1 }]);
      expect(want.map((a) => [a.job, a.runs])).toEqual([
        ['flaky', 1],
        ['m', 2],
      ]);
    });
  });

  describe(`${name}: aggregates`, () => {
    it('computes latency percentiles, failure modes, cost, CPU and queue delay per job', async () => {
      const s = await fresh();
      const spans: SpanRecord[] = [];
      for (let i = 1; i <= 100; i++) {
        spans.push(
          ...ok('batch', T0 + i * 1000, i * 10, {
            extraAttributes: {
              'jobslo.cost.amount': 0.5,
              'jobslo.resource.cpu_seconds': 2,
              'jobslo.resource.max_rss_bytes': i * 1_000_000,
              'jobslo.run.queued_time_unix_nano': String(BigInt(T0 + i * 1000 - 250) * 1_000_000n),
            },
          }),
        );
      }
      spans.push(...failed('batch', T0, 3), ...failed('batch', T0 + 10, 3), ...failed('batch', T0 + 20, 137));
      await insert(s, spans);
      const [agg] = await s.jobAggregates(RANGE);
      expect(agg).toMatchObject({ job: 'batch', runs: 103, succeeded: 100, failed: 3, deadLettered: 3, costedRuns: 100, cpuRuns: 100, queuedRuns: 100 });
      expect(agg?.failureModes).toEqual({ '3': 2, '137': 1 });
      near(agg?.costTotal, 50);
      near(agg?.cpuSecondsTotal, 200);
      near(agg?.queueDelayP50Millis, 250);
      // 100 runs of 10..1000 ms and 3 failures of 50 ms: linear-interpolated p50 = 490, p99 = 989.8.
      near(agg?.latencyP50Millis, 490);
      near(agg?.latencyP99Millis, 989.8);
      near(agg?.maxRssP95Bytes, 95_050_000);
    });

    it('stores hostile and odd-byte job names and attribute values as data', async () => {
      const s = await fresh();
      const names = ["x'); DROP TABLE spans; --", 'tab\there', 'back\\slash', 'quote"d', 'émoji 🚀', 'percent%_under'];
      for (const n of names) await s.insertSpans(ok(n, T0, 5));
      await options.settle?.(s);
      const got = (await s.jobAggregates(RANGE)).map((a) => a.job);
      expect([...got].sort()).toEqual([...names].sort());
      for (const n of names) {
        const [w] = await s.windowCounts({ jobs: n, criterion: { kind: 'success' }, endMillis: T0 + HOUR, windowsMillis: [2 * HOUR] });
        expect(w?.total, n).toBe(1);
      }
      const runs = await s.listRuns({ ...RANGE, jobs: "x'); DROP TABLE spans; --" });
      expect(runs).toHaveLength(1);
    });
  });

    it('refuses a value its integer columns cannot hold (never clamps it): the insert fails with JOBSLO_ERR_STORE_QUERY and stores nothing of it', async () => {
      const s = await fresh();
      await insert(s, ok('kept', T0, 5));
      const [run, ...attempts] = ok('huge', T0, 5);
      const bad = [{ ...(run as SpanRecord), attributes: { ...(run as SpanRecord).attributes, 'jobslo.run.attempts': 2 ** 40 } }, ...attempts];
      await expect(s.insertSpans(bad)).rejects.toMatchObject({ code: 'JOBSLO_ERR_STORE_QUERY', message: expect.stringContaining('run_attempts') });
      await options.settle?.(s);
      expect((await s.jobAggregates(RANGE)).map((a) => [a.job, a.runs, a.retries])).toEqual([['kept', 1, 0]]);
    });

  describe(`${name}: SLO queries`, () => {
    it('counts good and total runs per window, with globs and latency thresholds', async () => {
      const s = await fresh();
      await insert(s, [
        ...ok('etl-a', T0 - 30 * 60_000, 100),
        ...ok('etl-b', T0 - 5 * 60_000, 5_000),
        ...failed('etl-a', T0 - 2 * 60_000, 1),
        ...ok('other', T0 - 60_000, 10),
        ...ok('etl_x', T0 - 60_000, 10),
      ]);
      const end = T0 + 1;
      expect(await s.windowCounts({ jobs: 'etl-*', criterion: { kind: 'success' }, endMillis: end, windowsMillis: [10 * 60_000, HOUR] })).toEqual([
        { windowMillis: 10 * 60_000, good: 1, total: 2 },
        { windowMillis: HOUR, good: 2, total: 3 },
      ]);
      expect(await s.windowCounts({ jobs: 'etl-*', criterion: { kind: 'latency', thresholdMillis: 1_000 }, endMillis: end, windowsMillis: [HOUR] })).toEqual([
        { windowMillis: HOUR, good: 1, total: 3 },
      ]);
      // `_` in a selector is literal, not a LIKE wildcard.
      expect(await s.windowCounts({ jobs: 'etl_*', criterion: { kind: 'success' }, endMillis: end, windowsMillis: [HOUR] })).toEqual([
        { windowMillis: HOUR, good: 1, total: 1 },
      ]);
      expect(await s.windowCounts({ jobs: 'nope', criterion: { kind: 'success' }, endMillis: end, windowsMillis: [HOUR] })).toEqual([
        { windowMillis: HOUR, good: 0, total: 0 },
      ]);
    });

    it('answers many window-count queries in one pass exactly as one at a time', async () => {
      const s = await fresh();
      await insert(s, [
        ...ok('etl-a', T0 - 30 * 60_000, 100),
        ...ok('etl-b', T0 - 5 * 60_000, 5_000),
        ...failed('etl-a', T0 - 2 * 60_000, 1),
        ...ok('other', T0 - 60_000, 10),
        ...ok('etl_x', T0 - 60_000, 10),
        ...ok("it's", T0 - 60_000, 10),
      ]);
      const end = T0 + 1;
      const queries = [
        { jobs: 'etl-*', criterion: { kind: 'success' as const }, endMillis: end, windowsMillis: [10 * 60_000, HOUR] },
        { jobs: 'etl-*', criterion: { kind: 'latency' as const, thresholdMillis: 1_000 }, endMillis: end, windowsMillis: [HOUR, 5 * 60_000] },
        { jobs: 'other', criterion: { kind: 'success' as const }, endMillis: end, windowsMillis: [HOUR] },
        { jobs: 'nope', criterion: { kind: 'success' as const }, endMillis: end, windowsMillis: [HOUR] },
        { jobs: 'etl_*', criterion: { kind: 'success' as const }, endMillis: end, windowsMillis: [HOUR] },
        { jobs: "it's", criterion: { kind: 'success' as const }, endMillis: end, windowsMillis: [HOUR] },
        { jobs: '*', criterion: { kind: 'success' as const }, endMillis: end - 3 * 60_000, windowsMillis: [HOUR, 2 * HOUR] },
        { jobs: 'other', criterion: { kind: 'success' as const }, endMillis: end, windowsMillis: [] },
      ];
      const one = await Promise.all(queries.map((q) => s.windowCounts(q)));
      expect(await s.windowCountsMany(queries)).toEqual(one);
      expect(one[0]).toEqual([
        { windowMillis: 10 * 60_000, good: 1, total: 2 },
        { windowMillis: HOUR, good: 2, total: 3 },
      ]);
      expect(one[6]).toEqual([
        { windowMillis: HOUR, good: 2, total: 2 },
        { windowMillis: 2 * HOUR, good: 2, total: 2 },
      ]);
      expect(await s.windowCountsMany([])).toEqual([]);
    });

    it('buckets runs into a time series', async () => {
      const s = await fresh();
      await insert(s, [...ok('ts', T0 + 1_000, 100), ...ok('ts', T0 + 2_000, 300), ...failed('ts', T0 + 61_000, 1)]);
      const series = await s.timeSeries({ ...RANGE, jobs: 'ts', bucketMillis: 60_000 });
      expect(series.map((p) => [p.bucketStartMillis, p.runs, p.succeeded, p.good])).toEqual([
        [T0, 2, 2, 2],
        [T0 + 60_000, 1, 0, 0],
      ]);
      near(series[0]?.latencyP50Millis, 200);
    });

    it('lists the latest failures and the slowest runs with their trace ids', async () => {
      const s = await fresh();
      const f1 = failed('l', T0 + 1_000, 2);
      const f2 = failed('l', T0 + 2_000, 3, 2);
      await insert(s, [...ok('l', T0, 900), ...ok('l', T0 + 10, 100), ...f1, ...f2]);
      const failures = await s.listRuns({ ...RANGE, jobs: 'l', filter: 'failed', order: 'latest' });
      expect(failures.map((r) => [r.exitCode, r.errorType, r.outcome, r.attempts, r.deadLettered])).toEqual([
        [3, '3', 'failed', 2, true],
        [2, '2', 'failed', 1, true],
      ]);
      expect(failures[0]?.traceId).toBe(f2[0]?.traceId);
      expect(failures[0]?.spanId).toBe(f2[0]?.spanId);
      const slowest = await s.listRuns({ ...RANGE, jobs: 'l', order: 'slowest', limit: 1 });
      expect(slowest.map((r) => r.latencyMillis)).toEqual([900]);
    });

    it('lists the latest runs of a long range exactly, a run that started days before its end included', async () => {
      const s = await fresh();
      const DAY = 86_400_000;
      const range = { fromMillis: T0 - 10 * DAY, toMillis: T0 + HOUR };
      // A failed run of two attempts: the first 3 days before the second, which ends at T0 + 20m.
      const long = runSpans({
        job: 'n',
        startMillis: T0 - 3 * DAY,
        outcome: 'failed',
        attempts: [
          { startOffsetMillis: 0, durationMillis: 1_000, outcome: 'failed', exitCode: 2 },
          { startOffsetMillis: 3 * DAY + 20 * 60_000 - 1_000, durationMillis: 1_000, outcome: 'failed', exitCode: 2 },
        ],
      });
      const failedAt = [T0 - 9 * DAY, T0 - 5 * DAY, T0 - 2 * DAY, T0 - 3 * HOUR, T0 + 10 * 60_000];
      const oks = Array.from({ length: 20 }, (_, i) => ok('n', T0 - 9.5 * DAY + i * 12 * HOUR, 10));
      await insert(s, [...long, ...failedAt.flatMap((t) => failed('n', t, 1)), ...oks.flat()]);
      const failures = (limit: number): Promise<RunSummary[]> => s.listRuns({ ...range, jobs: 'n', filter: 'failed', order: 'latest', limit });
      const ends = (runs: RunSummary[]): number[] => runs.map((r) => r.endMillis);
      const [first] = await failures(1);
      expect([first?.startMillis, first?.endMillis, first?.attempts, first?.exitCode]).toEqual([T0 - 3 * DAY, T0 + 20 * 60_000, 2, 2]);
      expect(ends(await failures(3))).toEqual([T0 + 20 * 60_000, T0 + 10 * 60_000 + 50, T0 - 3 * HOUR + 50]);
      expect(ends(await failures(10))).toEqual([T0 + 20 * 60_000, ...[...failedAt].reverse().map((t) => t + 50)]);
      const all = await s.listRuns({ ...range, jobs: 'n', order: 'latest', limit: 100 });
      expect(all).toHaveLength(26);
      expect(await s.listRuns({ ...range, jobs: 'n', order: 'latest', limit: 4 })).toEqual(all.slice(0, 4));
      expect(await s.listRuns({ ...range, jobs: 'n', order: 'latest', limit: 8 })).toEqual(all.slice(0, 8));
    });

    it('returns run start times for freshness and the job names', async () => {
      const s = await fresh();
      await insert(s, [...ok('cron', T0, 10), ...failed('cron', T0 + 60_000, 1), ...ok('cron', T0 + 120_000, 10), ...ok('zeta', T0, 1)]);
      expect(await s.runStarts('cron', RANGE, 'succeeded')).toEqual([T0, T0 + 120_000]);
      expect(await s.runStarts('cron', RANGE, 'any')).toEqual([T0, T0 + 60_000, T0 + 120_000]);
      expect(await s.jobNames(RANGE)).toEqual(['cron', 'zeta']);
    });

    it('reports queue depth now (live lifecycle events) and at most (queued-to-start intervals), idempotently', async () => {
      const s = await fresh();
      const queuedRun = (job: string, queuedMillis: number, startMillis: number): SpanRecord[] =>
        ok(job, startMillis, 100, { extraAttributes: { 'jobslo.run.queued_time_unix_nano': String(BigInt(queuedMillis) * 1_000_000n) } });
      // Three finished runs waiting [0,10], [2,20], [15,30] s after T0: at most 2 at once.
      const finished = [...queuedRun('q', T0, T0 + 10_000), ...queuedRun('q', T0 + 2_000, T0 + 20_000), ...queuedRun('q', T0 + 15_000, T0 + 30_000)];
      const live = (runId: string, type: LifecycleEvent, atMillis: number): LifecycleEventRecord => {
        const t = BigInt(atMillis) * 1_000_000n;
        return { eventId: lifecycleEventId(runId, type, t), type, job: 'q', runId, timeUnixNano: t, attributes: {} };
      };
      const fRun = queuedRun('q', T0 + 50_000, T0 + 51_000);
      const fRunId = String(fRun[0]?.attributes['jobslo.run.id']);
      const events = [
        live('d', LifecycleEvent.Queued, T0 + 40_000), // still waiting
        live('e', LifecycleEvent.Queued, T0 + 5_000), // started since
        live('e', LifecycleEvent.Started, T0 + 6_000),
        live(fRunId, LifecycleEvent.Queued, T0 + 50_000), // finished: its run span arrived
      ];
      await s.insertSpans([...finished, ...fRun]);
      await s.insertLifecycleEvents(events);
      await s.insertLifecycleEvents(events.slice(0, 1));
      await options.settle?.(s);
      expect(await s.queueDepths(RANGE)).toEqual([{ job: 'q', now: 1, max: 2 }]);
      expect(await s.queueDepths({ fromMillis: RANGE.fromMillis, toMillis: T0 + 45_000 })).toEqual([{ job: 'q', now: 1, max: 2 }]);
      expect(await s.queueDepths({ fromMillis: T0 - 2 * HOUR, toMillis: T0 - HOUR })).toEqual([]);
    });

    it('lists runs that started (live job.started) and have not finished: no terminal event, no finished run stored', async () => {
      const s = await fresh();
      const live = (job: string, runId: string, type: LifecycleEvent, atMillis: number): LifecycleEventRecord => {
        const t = BigInt(atMillis) * 1_000_000n;
        return { eventId: lifecycleEventId(runId, type, t), type, job, runId, timeUnixNano: t, attributes: {} };
      };
      const done = ok('long', T0 + 1_000, 500);
      const doneId = String(done[0]?.attributes['jobslo.run.id']);
      const events = [
        live('long', 'open-1', LifecycleEvent.Queued, T0),
        live('long', 'open-1', LifecycleEvent.Started, T0 + 2_000),
        live('long', 'ended', LifecycleEvent.Started, T0 + 3_000),
        live('long', 'ended', LifecycleEvent.Failed, T0 + 4_000), // its span has not arrived: still ended
        live('long', doneId, LifecycleEvent.Started, T0 + 1_000), // its run span arrived, no terminal event
        live('long', 'queued-only', LifecycleEvent.Queued, T0 + 5_000),
        live('long-other', 'open-2', LifecycleEvent.Started, T0 + 6_000),
        live("it's", 'open-3', LifecycleEvent.Started, T0 + 7_000),
      ];
      await s.insertSpans(done);
      await s.insertLifecycleEvents(events);
      await s.insertLifecycleEvents(events.slice(0, 2)); // redelivered
      await options.settle?.(s);
      const range = { fromMillis: T0 - HOUR, toMillis: T0 + HOUR };
      expect(await s.openRuns('long', range)).toEqual([{ job: 'long', runId: 'open-1', startMillis: T0 + 2_000 }]);
      expect(await s.openRuns('long*', range)).toEqual([
        { job: 'long', runId: 'open-1', startMillis: T0 + 2_000 },
        { job: 'long-other', runId: 'open-2', startMillis: T0 + 6_000 },
      ]);
      expect(await s.openRuns("it's", range)).toEqual([{ job: "it's", runId: 'open-3', startMillis: T0 + 7_000 }]);
      // At T0 + 3.5 s the run "ended" had not ended yet; before T0 + 2 s nothing had started.
      expect((await s.openRuns('long', { fromMillis: T0 - HOUR, toMillis: T0 + 3_500 })).map((r) => r.runId)).toEqual(['open-1', 'ended']);
      expect(await s.openRuns('long', { fromMillis: T0 - HOUR, toMillis: T0 + 1_999 })).toEqual([]);
    });

    it('drops whole days older than the retention', async () => {
      const s = await fresh();
      const DAY = 86_400_000;
      await insert(s, [...ok('old', T0 - 10 * DAY, 10), ...ok('new', T0, 10)]);
      const dropped = await s.dropBefore(T0 - 5 * DAY);
      await options.settle?.(s);
      expect(dropped.rawDays).toBe(1);
      expect(await s.jobNames({ fromMillis: T0 - 20 * DAY, toMillis: T0 + DAY })).toEqual(['new']);
    });

    it('keeps hour rollups down to rollupsOlderThanMillis: SLO window counts still see runs older than the raw data, run lists do not', async () => {
      const s = await fresh();
      const DAY = 86_400_000;
      const old = T0 - 10 * DAY;
      await insert(s, [...ok('kept', old, 10), ...failed('kept', old + HOUR, 1), ...ok('kept', T0, 10)]);
      const q = { jobs: 'kept', criterion: { kind: 'success' as const }, endMillis: T0 + HOUR, windowsMillis: [15 * DAY, 2 * HOUR] };
      const latency = { ...q, criterion: { kind: 'latency' as const, thresholdMillis: 1_000 } };
      const all = [
        { windowMillis: 15 * DAY, good: 2, total: 3 },
        { windowMillis: 2 * HOUR, good: 1, total: 1 },
      ];
      const recentOnly = [
        { windowMillis: 15 * DAY, good: 1, total: 1 },
        { windowMillis: 2 * HOUR, good: 1, total: 1 },
      ];
      // No read before the drop: the rollups of the old runs are still pending, and dropBefore applies them first.
      // Raw rows of days before T0 - 5 d go; hour rollups stay down to T0 - 60 d.
      const dropped = await s.dropBefore(T0 - 5 * DAY, { rollupsOlderThanMillis: T0 - 60 * DAY });
      await options.settle?.(s);
      expect(dropped).toEqual({ rawDays: 1, rollupPartitions: 0 });
      const longAgo = { fromMillis: T0 - 20 * DAY, toMillis: T0 - DAY };
      expect(await s.jobNames(longAgo)).toEqual([]);
      expect(await s.listRuns({ ...longAgo, jobs: 'kept' })).toEqual([]);
      expect(await s.jobAggregates(longAgo)).toEqual([]);
      // Success window counts are read from the kept hours.
      expect(await s.windowCounts(q)).toEqual(all);
      expect(await s.windowCountsMany([q])).toEqual([all]);
      // A latency threshold first asked for now cannot be added to hours whose runs are gone: counted from the raw rows left.
      expect(await s.windowCounts(latency)).toEqual(recentOnly);
      // The first run seen is the earliest start of the runs stored, not of the kept hours.
      expect(await s.runStarts('kept', { fromMillis: 0, toMillis: T0 + HOUR }, 'any', { earliestOnly: true })).toEqual([T0]);
      expect(await s.runStartsMany([{ jobs: 'k*', fromMillis: 0, toMillis: T0 + HOUR, which: 'any', earliestOnly: true }])).toEqual([[T0]]);

      // The default drops the hour rollups with the raw data.
      expect((await s.dropBefore(T0)).rollupPartitions).toBe(1);
      await options.settle?.(s);
      expect(await s.windowCounts(q)).toEqual(recentOnly);
    });

    it('refuses to keep hour rollups for less time than the raw data, and drops nothing', async () => {
      const s = await fresh();
      const DAY = 86_400_000;
      await insert(s, ok('kept', T0 - 10 * DAY, 10));
      await expect(s.dropBefore(T0 - 20 * DAY, { rollupsOlderThanMillis: T0 - 5 * DAY })).rejects.toThrow(/rollupsOlderThanMillis.*after the raw data cut-off/);
      await expect(s.dropBefore(Number.NaN)).rejects.toThrow(/olderThanMillis: NaN is not a time/);
      expect(await s.jobNames({ fromMillis: T0 - 20 * DAY, toMillis: T0 })).toEqual(['kept']);
    });
  });

  describe(`${name}: per-job batch queries (equal to the per-job queries)`, () => {
    const batchFixture = (): SpanRecord[] => [
      ...ok('b-one', T0 + 1_000, 100),
      ...ok('b-one', T0 + 2_000, 2_500),
      ...failed('b-one', T0 + 61_000, 1, 3),
      ...flaky(T0 + 5_000),
      ...ok('b-two', T0 + 3_000, 40),
      ...failed('b-two', T0 + 4_000, 7),
      ...failed('b-two', T0 + 9_000, 8, 2),
      ...ok('other', T0, 10),
      ...runSpans({ job: 'b-two', startMillis: T0 + 7_000, outcome: 'cancelled', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'failed' }] }),
    ];

    it('timeSeriesByJob returns each job\'s timeSeries', async () => {
      const s = await fresh();
      await insert(s, batchFixture());
      const byJob = await s.timeSeriesByJob({ ...RANGE, jobs: '*', bucketMillis: 60_000 });
      expect(byJob.map((j) => j.job)).toEqual(['b-one', 'b-two', 'flaky', 'other']);
      for (const { job, points } of byJob) expect(points, job).toEqual(await s.timeSeries({ ...RANGE, jobs: job, bucketMillis: 60_000 }));
      const latency = await s.timeSeriesByJob({ ...RANGE, jobs: 'b-*', bucketMillis: 60_000, criterion: { kind: 'latency', thresholdMillis: 1_000 } });
      expect(latency.map((j) => [j.job, j.points.map((p) => p.good)])).toEqual([
        ['b-one', [1, 0]],
        ['b-two', [1]],
      ]);
      // onlyJobs narrows the selection to those names, glob characters taken literally; none named, none returned.
      const only = await s.timeSeriesByJob({ ...RANGE, jobs: '*', onlyJobs: ['other', 'b-two', 'b-*', 'missing'], bucketMillis: 60_000 });
      expect(only).toEqual(byJob.filter((j) => j.job === 'b-two' || j.job === 'other'));
      expect(await s.timeSeriesByJob({ ...RANGE, jobs: 'b-*', onlyJobs: ['other', 'b-one'], bucketMillis: 60_000 })).toEqual(byJob.filter((j) => j.job === 'b-one'));
      expect(await s.timeSeriesByJob({ ...RANGE, jobs: '*', onlyJobs: [], bucketMillis: 60_000 })).toEqual([]);
      expect(await s.timeSeries({ ...RANGE, jobs: '*', onlyJobs: ['flaky'], bucketMillis: 60_000 })).toEqual(await s.timeSeries({ ...RANGE, jobs: 'flaky', bucketMillis: 60_000 }));
    });

    it('listRunsByJob keeps the first limitPerJob runs of each job in the asked order', async () => {
      const s = await fresh();
      await insert(s, batchFixture());
      for (const q of [
        { filter: 'all' as const, order: 'slowest' as const, limit: 2 },
        { filter: 'failed' as const, order: 'latest' as const, limit: 1 },
        { filter: 'all' as const, order: 'latest' as const, limit: 10 },
      ]) {
        const got = await s.listRunsByJob({ ...RANGE, jobs: 'b-*', filter: q.filter, order: q.order, limitPerJob: q.limit });
        const want = [
          ...(await s.listRuns({ ...RANGE, jobs: 'b-one', filter: q.filter, order: q.order, limit: q.limit })),
          ...(await s.listRuns({ ...RANGE, jobs: 'b-two', filter: q.filter, order: q.order, limit: q.limit })),
        ];
        expect(got.map((r) => [r.job, r.runId]), JSON.stringify(q)).toEqual(want.map((r) => [r.job, r.runId]));
      }
    });

    it('runDistributions bins counted runs by latency edges and counts attempts', async () => {
      const s = await fresh();
      await insert(s, batchFixture());
      const got = await s.runDistributions({ ...RANGE, jobs: '*', latencyEdgesMillis: [50, 100, 1_000] });
      expect(got).toEqual([
        // 100 ms (at an edge: the upper bin), 2.5 s, failed 3 attempts of 50 ms 100 ms apart = 250 ms
        { job: 'b-one', latencyCounts: [0, 0, 2, 1], attempts: { '1': 2, '3': 1 } },
        // 40 ms, 50 ms (failed), 150 ms (failed, 2 attempts); the cancelled run is not counted
        { job: 'b-two', latencyCounts: [1, 1, 1, 0], attempts: { '1': 2, '2': 1 } },
        { job: 'flaky', latencyCounts: [0, 0, 1, 0], attempts: { '3': 1 } },
        { job: 'other', latencyCounts: [1, 0, 0, 0], attempts: { '1': 1 } },
      ]);
      expect(await s.runDistributions({ ...RANGE, jobs: 'nope', latencyEdgesMillis: [1] })).toEqual([]);
    });
  });
}
