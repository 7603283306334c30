/**
 * The same fixture into DuckDB and ClickHouse: every query answers the same.
 * Counts must be equal; percentiles within the ClickHouse store's documented
 * tolerance (0: both compute linear-interpolated quantiles, see docs/storage.md).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../analyzer/index.js';
import type { Analysis } from '../../analyzer/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import type { JobAggregate, Store } from '../../store/index.js';
import { FIXTURE_T0, comparisonFixture } from '../integration/_fixture.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';

const up = await requireService('ClickHouse', () => probeClickHouse(), 'DuckDB vs ClickHouse comparison (test/store/compare-stores.test.ts)');

/** Relative tolerance of percentiles between the stores (see docs/storage.md). */
const TOLERANCE = 0;

const T0 = FIXTURE_T0;
const HOUR = 3_600_000;
const RANGE = { fromMillis: T0, toMillis: T0 + 24 * HOUR };

function expectNear(got: number | null, want: number | null, label: string): void {
  if (want === null || got === null) {
    expect(got, label).toBe(want);
    return;
  }
  expect(Math.abs(got - want), `${label}: ${got} vs ${want}`).toBeLessThanOrEqual(Math.max(TOLERANCE * Math.abs(want), 1e-6));
}

const PERCENTILES = ['latencyP50Millis', 'latencyP95Millis', 'latencyP99Millis', 'queueDelayP50Millis', 'queueDelayP95Millis', 'maxRssP95Bytes', 'costTotal', 'cpuSecondsTotal'] as const;

function compareAggregates(ch: JobAggregate[], duck: JobAggregate[]): void {
  expect(ch.map((a) => a.job)).toEqual(duck.map((a) => a.job));
  for (let i = 0; i < duck.length; i++) {
    const d = duck[i] as JobAggregate;
    const c = ch[i] as JobAggregate;
    const counts = (a: JobAggregate): Partial<JobAggregate> => {
      const copy: Partial<JobAggregate> = { ...a };
      for (const k of PERCENTILES) delete copy[k];
      return copy;
    };
    expect(counts(c), d.job).toEqual(counts(d));
    for (const k of PERCENTILES) expectNear(c[k], d[k], `${d.job} ${k}`);
  }
}

describe.skipIf(!up)('DuckDB and ClickHouse give the same answers for the same spans', () => {
  const db = `jobslo_test_${randomUUID().replaceAll('-', '')}`;
  let duck: DuckDbStore;
  let ch: ClickHouseStore;
  const stores = (): Store[] => [duck, ch];

  beforeAll(async () => {
    const spans = comparisonFixture();
    duck = await DuckDbStore.open({ path: ':memory:' });
    await duck.migrate();
    ch = await ClickHouseStore.open({ url: clickhouseUrl(), database: db });
    await ch.migrate();
    // Several requests, as a collector would send them.
    for (let i = 0; i < spans.length; i += 500) {
      await duck.insertSpans(spans.slice(i, i + 500));
      await ch.insertSpans(spans.slice(i, i + 500));
    }
  });

  afterAll(async () => {
    await duck?.close();
    await ch?.close();
    if (up) await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  it('analyze() JSON: equal counts and rates, percentiles within the tolerance', async () => {
    const [a, b] = (await Promise.all(stores().map((s) => analyze(s, RANGE)))) as [Analysis, Analysis];
    expect(a.jobs.length).toBe(6);
    expect(a.jobs.reduce((n, j) => n + j.runs, 0)).toBeGreaterThan(300);
    expect(a.jobs.some((j) => j.retries_per_run > 0 && j.timed_out > 0 && j.cancelled > 0 && j.skipped > 0)).toBe(true);
    if (TOLERANCE === 0) {
      expect(b).toEqual(a);
    } else {
      const strip = (x: Analysis): unknown => ({ ...x, jobs: x.jobs.map((j) => ({ ...j, latency_ms: null, queue_delay_ms: null, max_rss_bytes_p95: null })) });
      expect(strip(b)).toEqual(strip(a));
    }
    compareAggregates(await ch.jobAggregates(RANGE), await duck.jobAggregates(RANGE));
  });

  it('window counts, time series, run lists, run starts and job names', async () => {
    for (const jobs of ['etl-*', 'billing', "quote'job", 'ci/build #1', 'émoji?🚀', '*']) {
      for (const criterion of [{ kind: 'success' as const }, { kind: 'latency' as const, thresholdMillis: 2_000 }]) {
        const q = { jobs, criterion, endMillis: RANGE.toMillis, windowsMillis: [HOUR, 6 * HOUR, 24 * HOUR] };
        expect(await ch.windowCounts(q), jobs).toEqual(await duck.windowCounts(q));
      }
      const tq = { ...RANGE, jobs, bucketMillis: HOUR };
      const [cs, ds] = [await ch.timeSeries(tq), await duck.timeSeries(tq)];
      expect(cs.map((p) => [p.bucketStartMillis, p.runs, p.succeeded, p.good])).toEqual(ds.map((p) => [p.bucketStartMillis, p.runs, p.succeeded, p.good]));
      cs.forEach((p, i) => expectNear(p.latencyP95Millis, ds[i]?.latencyP95Millis ?? null, `${jobs} series p95`));
      for (const filter of ['all', 'failed'] as const) {
        expect(await ch.listRuns({ ...RANGE, jobs, filter, limit: 50 }), jobs).toEqual(await duck.listRuns({ ...RANGE, jobs, filter, limit: 50 }));
      }
      const slow = async (s: Store): Promise<number[]> => (await s.listRuns({ ...RANGE, jobs, order: 'slowest', limit: 10 })).map((r) => r.latencyMillis);
      expect(await slow(ch)).toEqual(await slow(duck));
      for (const which of ['succeeded', 'any'] as const) {
        expect(await ch.runStarts(jobs, RANGE, which)).toEqual(await duck.runStarts(jobs, RANGE, which));
      }
    }
    expect(await ch.jobNames(RANGE)).toEqual(await duck.jobNames(RANGE));
  });

  it('per-job batch queries: time series, run lists and distributions', async () => {
    const tq = { ...RANGE, jobs: '*', bucketMillis: HOUR, criterion: { kind: 'latency' as const, thresholdMillis: 2_000 } };
    const [cs, ds] = [await ch.timeSeriesByJob?.(tq), await duck.timeSeriesByJob?.(tq)];
    expect(cs?.map((j) => [j.job, j.points.map((p) => [p.bucketStartMillis, p.runs, p.good])])).toEqual(ds?.map((j) => [j.job, j.points.map((p) => [p.bucketStartMillis, p.runs, p.good])]));
    cs?.forEach((j, i) => j.points.forEach((p, k) => expectNear(p.latencyP99Millis, ds?.[i]?.points[k]?.latencyP99Millis ?? null, `${j.job} p99`)));
    for (const q of [{ filter: 'failed' as const, order: 'latest' as const, limitPerJob: 3 }, { filter: 'all' as const, order: 'latest' as const, limitPerJob: 7 }]) {
      expect(await ch.listRunsByJob?.({ ...RANGE, jobs: '*', ...q })).toEqual(await duck.listRunsByJob?.({ ...RANGE, jobs: '*', ...q }));
    }
    const dq = { ...RANGE, jobs: '*', latencyEdgesMillis: [100, 500, 1_000, 2_500, 5_000] };
    expect(await ch.runDistributions?.(dq)).toEqual(await duck.runDistributions?.(dq));
  });
});
