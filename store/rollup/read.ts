/**
 * Window counts from the rollups: each window `(T - L, T]` is covered by
 * whole hour buckets and, at its edges, by the runs that minute buckets keep
 * (see {@link coverWindow}), so the answer is exact and reads a few thousand
 * rows per job whatever the number of stored runs.
 */
import { nanosLiteral } from '../_sql.js';
import type { DimensionFilter, JobSelector, ListRunsByJobQuery, TimeSeriesQuery, WindowCount, WindowCountsQuery } from '../types.js';
import { coverWindow } from './buckets.js';
import { criterionThresholdNs, selectorMatcher } from './content.js';
import type { RegisteredThreshold } from './content.js';
import { rebuildHours, refreshRollups } from './maintain.js';
import type { RollupBackend } from './maintain.js';

/** Hour buckets of the matching jobs with a start in `[fromNs, toNs)`. */
export interface HourPart {
  id: number;
  jobs: JobSelector;
  /** Null for the success criterion. */
  thresholdNs: bigint | null;
  fromNs: bigint;
  toNs: bigint;
}

/** Runs kept by the minute buckets of the matching jobs (starts in `[minuteFromNs, minuteToNs)`) that end in `(loNs, hiNs]`. */
export interface EdgePart {
  id: number;
  jobs: JobSelector;
  thresholdNs: bigint | null;
  loNs: bigint;
  hiNs: bigint;
  minuteFromNs: bigint;
  minuteToNs: bigint;
}

/** Good/total of a part; `missing` counts hour buckets with successes that lack the part's threshold. */
export interface PartCount {
  good: number;
  total: number;
  missing: number;
}

/** Run starts in `[fromNs, toNs)` of the selected jobs, as {@link Store.runStarts} returns them. */
export interface StartsQuery {
  jobs: JobSelector;
  fromNs: bigint;
  toNs: bigint;
  which: 'succeeded' | 'any';
  /** Interval width, ms, an integer of at least 1: each interval's starts come back as its earliest and latest. Undefined: every start. */
  coalesceMillis?: number | undefined;
  /** A dimension filter: the rollups (per job) cannot answer it. */
  where?: DimensionFilter | undefined;
  /** Only the earliest start (see {@link RunStartsOptions.earliestOnly}); `coalesceMillis` then covers the whole range. */
  earliestOnly?: boolean | undefined;
}

/** A time series read from the minute buckets: runs that end in `(fromNs, toNs]`, bucketed by `bucketNs`. */
export interface SeriesRollupQuery {
  jobs: JobSelector;
  /** Only these of the selected jobs; undefined: all. */
  onlyJobs: readonly string[] | undefined;
  fromNs: bigint;
  toNs: bigint;
  bucketNs: bigint;
  /** Null for the success criterion. */
  thresholdNs: bigint | null;
  /** Group by job as well as by bucket. */
  byJob: boolean;
}

/** What reading windows needs from a store, besides maintenance. */
export interface RollupReadBackend extends RollupBackend {
  /**
   * Rows of a time series from the runs the minute buckets keep, in the
   * store's own row shape for a series point (`job` when `byJob`).
   */
  seriesOf(query: SeriesRollupQuery): Promise<Record<string, unknown>[]>;
  /** Start times (ms, ascending) of the finished runs the minute buckets keep, as {@link StartsQuery} says. */
  startsOf(query: StartsQuery): Promise<number[]>;
  /** {@link startsOf} of each query (none with a dimension filter), in order; a backend may answer them in one scan. */
  startsOfMany(queries: readonly StartsQuery[]): Promise<number[][]>;
  /**
   * Per job selector, the earliest start (ns) of the runs the minute buckets
   * keep that have a start and were not skipped, whenever they ended; null
   * when there is none. Read from the hour buckets of the days the minute
   * buckets still cover (hour buckets may be kept longer), a few rows per job
   * and hour instead of one per run.
   */
  firstStarts(jobs: readonly JobSelector[]): Promise<(bigint | null)[]>;
  countHours(parts: readonly HourPart[]): Promise<Map<number, PartCount>>;
  countEdges(parts: readonly EdgePart[]): Promise<Map<number, PartCount>>;
  /** Adds thresholds to the registry (idempotent). */
  registerThresholds(thresholds: readonly RegisteredThreshold[]): Promise<void>;
  /**
   * True when some stored job row starts after `ns`. Cheap: such a row also
   * ends after `ns` (a row ends no earlier than it starts), so only rows that
   * end after it are read, which the stores' time order prunes to the newest.
   */
  rowStartsAfter(ns: bigint): Promise<boolean>;
  /** True when some run has a row that starts at or before `toNs` and ends after `fromNs`, and a row that starts after `toNs`. */
  runsStraddle(fromNs: bigint, toNs: bigint): Promise<boolean>;
  /** Jobs with hour buckets, and the range of their hour starts. */
  rolledJobs(): Promise<{ jobs: string[]; fromNs: bigint; toNs: bigint }>;
  /**
   * A run list from the minute buckets alone: the latest or slowest `limit`
   * runs ending in the range, in all or per job, in the raw list's order, as
   * rows of the store's run list columns.
   */
  listRows(query: RunListRollupQuery): Promise<Record<string, unknown>[]>;
  /**
   * True once the stored buckets are of a format whose minute buckets keep
   * the run list columns (6): false while a rebuild from an older format is
   * still going on (in this or another process) or before the first
   * migrate. Read until true, then remembered.
   */
  listColumnsReady(): Promise<boolean>;
}

/** The rollup form of a run list query. */
export interface RunListRollupQuery {
  jobs: JobSelector;
  fromNs: bigint;
  toNs: bigint;
  /** Failed and timed-out runs only. */
  failed: boolean;
  /** By latency (longest first) instead of by end (latest first). */
  slowest: boolean;
  limit: number;
  /** `limit` per job instead of in all. */
  perJob: boolean;
}

/**
 * The rows of a run list (`listRuns`, or `listRunsByJob` when `perJob`) from
 * the minute buckets: exactly the raw list, when the buckets keep the list
 * columns and hold the range's runs ({@link rollupRunsReadable}); null when
 * they do not.
 */
export async function rollupRunList(backend: RollupReadBackend, query: ListRunsByJobQuery, perJob: boolean): Promise<Record<string, unknown>[] | null> {
  const fromNs = BigInt(nanosLiteral(query.fromMillis));
  const toNs = BigInt(nanosLiteral(query.toMillis));
  if (!(await backend.listColumnsReady()) || !(await rollupRunsReadable(backend, fromNs, toNs, query.where))) return null;
  const limit = Math.max(1, Math.min(10_000, Math.trunc(query.limitPerJob)));
  return backend.listRows({ jobs: query.jobs, fromNs, toNs, failed: query.filter === 'failed', slowest: query.order === 'slowest', limit, perJob });
}

/** True when the rollups can answer a query: no dimension filter (rollups are per job). */
export function rollupCanAnswer(query: WindowCountsQuery): boolean {
  return query.where === undefined || Object.keys(query.where).length === 0;
}

/**
 * Registers the latency thresholds of these queries that the registry lacks
 * and rebuilds the hour buckets of the jobs they select, so that every hour
 * counts them. Resolves to how many thresholds were new.
 */
export async function ensureThresholds(backend: RollupReadBackend, queries: readonly WindowCountsQuery[]): Promise<number> {
  const registry = await backend.thresholds();
  const known = new Set(registry.map((r) => `${r.jobs}\u0000${r.thresholdNs}`));
  const fresh = new Map<string, RegisteredThreshold>();
  for (const q of queries) {
    const t = criterionThresholdNs(q.criterion);
    if (t === null) continue;
    const k = `${q.jobs}\u0000${t}`;
    if (!known.has(k)) fresh.set(k, { jobs: q.jobs, thresholdNs: t });
  }
  if (fresh.size === 0) return 0;
  await backend.registerThresholds([...fresh.values()]);
  const { jobs, fromNs, toNs } = await backend.rolledJobs();
  const matchers = [...fresh.values()].map((r) => selectorMatcher(r.jobs));
  const affected = jobs.filter((j) => matchers.some((m) => m(j)));
  await rebuildHours(backend, affected, fromNs, toNs);
  return fresh.size;
}

/**
 * {@link Store.windowCountsMany} from the rollups, after applying pending
 * marks and registering new thresholds. Null when some query cannot be
 * answered from them (the caller then counts raw runs).
 */
export async function rollupWindowCounts(backend: RollupReadBackend, queries: readonly WindowCountsQuery[]): Promise<WindowCount[][] | null> {
  if (!queries.every(rollupCanAnswer)) return null;
  await refreshRollups(backend);
  // The raw path at T ignores rows that start after T; buckets hold them. Count raw runs for such a T (an evaluation in the past).
  const earliestEnd = queries.reduce<bigint | null>((m, q) => {
    const e = BigInt(Math.trunc(q.endMillis)) * 1_000_000n;
    return m === null || e < m ? e : m;
  }, null);
  if (earliestEnd !== null && (await backend.rowStartsAfter(earliestEnd))) return null;
  await ensureThresholds(backend, queries);
  const hours: HourPart[] = [];
  const edges: EdgePart[] = [];
  const cells: { q: number; k: number; windowMillis: number }[] = [];
  queries.forEach((q, qi) => {
    const thresholdNs = criterionThresholdNs(q.criterion);
    const endNs = BigInt(Math.trunc(q.endMillis)) * 1_000_000n;
    q.windowsMillis.forEach((w, k) => {
      const id = cells.length;
      cells.push({ q: qi, k, windowMillis: w });
      const c = coverWindow(endNs - BigInt(Math.trunc(w)) * 1_000_000n, endNs);
      if (c.hours) hours.push({ id, jobs: q.jobs, thresholdNs, fromNs: c.hours.fromNs, toNs: c.hours.toNs });
      for (const e of c.edges) edges.push({ id, jobs: q.jobs, thresholdNs, ...e });
    });
  });
  const [h, e] = await Promise.all([hours.length > 0 ? backend.countHours(hours) : new Map<number, PartCount>(), edges.length > 0 ? backend.countEdges(edges) : new Map<number, PartCount>()]);
  const out: WindowCount[][] = queries.map((q) => q.windowsMillis.map((w) => ({ windowMillis: w, good: 0, total: 0 })));
  for (const [id, cell] of cells.entries()) {
    const hc = h.get(id);
    const ec = e.get(id);
    // Another process changed the registry between registering and reading: count raw runs rather than guess.
    if (hc && hc.missing > 0) return null;
    const target = out[cell.q]?.[cell.k];
    if (!target) continue;
    target.good = (hc?.good ?? 0) + (ec?.good ?? 0);
    target.total = (hc?.total ?? 0) + (ec?.total ?? 0);
  }
  return out;
}

/**
 * {@link Store.runStartsMany} from the minute buckets (which keep every
 * finished run's start), after applying pending marks; the answerable
 * queries are read together ({@link RollupReadBackend.startsOfMany}). Null
 * for each query the rollups cannot answer: a dimension filter, or an
 * instant before the latest stored row start (the raw path then ignores the
 * rows that start after it).
 */
export async function rollupRunStartsMany(backend: RollupReadBackend, queries: readonly StartsQuery[]): Promise<(number[] | null)[]> {
  const answerable = queries.map((q) => q.where === undefined || Object.keys(q.where).length === 0);
  if (!answerable.some(Boolean)) return queries.map(() => null);
  await refreshRollups(backend);
  const startsAfter = new Map<bigint, boolean>();
  for (const [i, q] of queries.entries()) {
    if (!answerable[i]) continue;
    let after = startsAfter.get(q.toNs);
    if (after === undefined) startsAfter.set(q.toNs, (after = await backend.rowStartsAfter(q.toNs)));
    if (after) answerable[i] = false;
  }
  // The earliest start of every run: from the hour buckets, unless it is before the query's range
  // (then some run in the range may start later, and the minute buckets are read).
  const earliest = new Map<number, number[]>();
  const firstOf = queries.map((q, i) => answerable[i] && q.earliestOnly === true && q.which === 'any' && q.toNs > q.fromNs);
  const selectors = [...new Set(queries.filter((_, i) => firstOf[i]).map((q) => q.jobs))];
  if (selectors.length > 0) {
    const firsts = await backend.firstStarts(selectors);
    const bySelector = new Map(selectors.map((s, k) => [s, firsts[k] ?? null]));
    for (const [i, q] of queries.entries()) {
      if (!firstOf[i]) continue;
      const first = bySelector.get(q.jobs) ?? null;
      if (first === null || first >= q.toNs) earliest.set(i, []);
      else if (first >= q.fromNs) earliest.set(i, [Number(first / 1_000_000n)]);
    }
  }
  const read = queries.filter((q, i) => answerable[i] && q.toNs > q.fromNs && !earliest.has(i));
  const got = read.length > 0 ? await backend.startsOfMany(read) : [];
  let k = 0;
  return queries.map((q, i) => (!answerable[i] ? null : q.toNs <= q.fromNs ? [] : (earliest.get(i) ?? got[k++] ?? [])));
}

/**
 * A time series ({@link Store.timeSeries}, {@link Store.timeSeriesByJob}) from
 * the runs the minute buckets keep (end time, outcome, latency): the same
 * runs the raw path derives, so the same counts and percentiles, without
 * deriving runs from job rows. Null when the rollups cannot answer (a
 * dimension filter, or a range that ends before the latest stored row start).
 */
export async function rollupSeries(backend: RollupReadBackend, query: SeriesRollupQuery, where: DimensionFilter | undefined): Promise<Record<string, unknown>[] | null> {
  if (where !== undefined && Object.keys(where).length > 0) return null;
  await refreshRollups(backend);
  if (await backend.rowStartsAfter(query.toNs)) return null;
  if (query.toNs <= query.fromNs) return [];
  return backend.seriesOf(query);
}

/**
 * True when the minute buckets give exactly the runs the raw derivation gives
 * for final outcomes in `(fromNs, toNs]` (so per-job aggregates, run
 * distributions and run lists can read them): no dimension filter, pending
 * marks applied, and no run with rows on both sides of `toNs`: one that
 * starts at or before it (and ends after `fromNs`) and one that starts after
 * it (the raw path at `toNs` leaves the later rows out; the buckets hold the
 * run as all its rows make it). The last check is one cheap query when no row
 * starts after `toNs` (a window ending now), else a join of the rows after
 * `toNs` with the range's rows.
 */
export async function rollupRunsReadable(backend: RollupReadBackend, fromNs: bigint, toNs: bigint, where: DimensionFilter | undefined): Promise<boolean> {
  if (where !== undefined && Object.keys(where).length > 0) return false;
  await refreshRollups(backend);
  if (!(await backend.rowStartsAfter(toNs))) return true;
  return !(await backend.runsStraddle(fromNs, toNs));
}

/** ` AND job IN (...)` for a query's `onlyJobs` (each name as `quote` gives it: a literal or a parameter); '' when it has none. */
export function onlyJobsCondition(onlyJobs: readonly string[] | undefined, quote: (s: string) => string): string {
  if (onlyJobs === undefined) return '';
  return onlyJobs.length === 0 ? ' AND 0 = 1' : ` AND job IN (${onlyJobs.map(quote).join(', ')})`;
}

/** The rollup form of a time series query. */
export function seriesRollupQuery(query: TimeSeriesQuery, byJob: boolean): SeriesRollupQuery {
  const ns = (ms: number): bigint => BigInt(nanosLiteral(ms));
  return { jobs: query.jobs, onlyJobs: query.onlyJobs, fromNs: ns(query.fromMillis), toNs: ns(query.toMillis), bucketNs: ns(query.bucketMillis), thresholdNs: criterionThresholdNs(query.criterion ?? { kind: 'success' }), byJob };
}

/** Series rows (with `job`) grouped into one series per job, in the order the jobs first appear. */
export function seriesByJob<P>(rows: readonly Record<string, unknown>[], toPoint: (r: Record<string, unknown>) => P): { job: string; points: P[] }[] {
  const byJob = new Map<string, P[]>();
  for (const r of rows) {
    const job = String(r['job']);
    let points = byJob.get(job);
    if (!points) byJob.set(job, (points = []));
    points.push(toPoint(r));
  }
  return [...byJob].map(([job, points]) => ({ job, points }));
}

/** Ascending starts from per-interval `lo`/`hi` rows, ordered by `lo` (intervals do not overlap). */
export function coalescedStarts(rows: readonly Record<string, unknown>[]): number[] {
  const out: number[] = [];
  for (const r of rows) {
    const lo = Number(r['lo']);
    const hi = Number(r['hi']);
    out.push(lo);
    if (hi !== lo) out.push(hi);
  }
  return out;
}

/** The distinct ranges of some parts, and the index of a range. */
export function distinctRanges(pairs: readonly [bigint, bigint][]): { ranges: [bigint, bigint][]; rangeOf: (lo: bigint, hi: bigint) => number } {
  const index = new Map<string, number>();
  const ranges: [bigint, bigint][] = [];
  for (const [a, b] of pairs) {
    const k = `${a}:${b}`;
    if (!index.has(k)) {
      index.set(k, ranges.length);
      ranges.push([a, b]);
    }
  }
  return { ranges, rangeOf: (lo, hi) => index.get(`${lo}:${hi}`) ?? -1 };
}

/** The parts' thresholds, with one placeholder when there are none (an empty array literal has no type on 18.16). */
export function distinctThresholds(parts: readonly { thresholdNs: bigint | null }[]): bigint[] {
  const set = [...new Set(parts.map((p) => p.thresholdNs).filter((t): t is bigint => t !== null))];
  return set.length > 0 ? set : [-1n];
}

/**
 * Adds per-(job, range, threshold) count rows (`job`, `rid`, `t`, `s` succeeded,
 * `b` failed or timed out, `g` good at `t`, `miss`) to the parts whose
 * selector matches the job.
 */
export function sumParts(
  parts: readonly (HourPart | EdgePart)[],
  rows: readonly Record<string, unknown>[],
  rangeOf: (lo: bigint, hi: bigint) => number,
  thresholds: readonly bigint[],
): Map<number, PartCount> {
  const byRange = new Map<number, Record<string, unknown>[]>();
  for (const r of rows) {
    const rid = Number(r['rid']);
    (byRange.get(rid) ?? byRange.set(rid, []).get(rid))?.push(r);
  }
  const out = new Map<number, PartCount>();
  for (const p of parts) {
    const rid = 'fromNs' in p ? rangeOf(p.fromNs, p.toNs) : rangeOf(p.loNs, p.hiNs);
    const match = selectorMatcher(p.jobs);
    // Rows repeat per threshold; the success criterion reads the first threshold's rows.
    const t = String(p.thresholdNs ?? thresholds[0] ?? -1n);
    const c: PartCount = out.get(p.id) ?? { good: 0, total: 0, missing: 0 };
    for (const r of byRange.get(rid) ?? []) {
      if (String(r['t']) !== t || !match(String(r['job']))) continue;
      const s = Number(r['s']);
      c.total += s + Number(r['b']);
      if (p.thresholdNs === null) c.good += s;
      else {
        c.good += Number(r['g']);
        c.missing += Number(r['miss']);
      }
    }
    out.set(p.id, c);
  }
  return out;
}
