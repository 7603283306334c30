import { analyze } from '../analyzer/index.js';
import type { JobSlis } from '../analyzer/index.js';
import { COUNTED_OUTCOMES, ConfigError } from '../contracts/index.js';
import type { DimensionFilter, RunDistribution, RunSummary, SeriesPoint, RunReader, TimeRange } from '../store/index.js';
import type { LatencyHistogram, ReportCheckInput, ReportData, ReportFreshnessInput, ReportJobDetail, ReportSloData, ReportSloInput } from './model.js';

/** Options of {@link collectReportData}. */
export interface CollectReportOptions {
  /** Window the report covers; the previous period is the window of the same length just before it. */
  range: TimeRange;
  /** jobslo version for the footer. */
  version: string;
  /** @default store.location */
  storeLocation?: string;
  /** @default new Date() */
  generatedAt?: Date;
  /**
   * Only runs with these dimension values in the job figures, job pages and
   * failure lists (as `jobslo analyze --where`); SLO pages keep their SLO's
   * own `where`. @default {} (every run)
   */
  where?: DimensionFilter;
  /** SLO definitions and state; without them the pages have no SLO sections. */
  slos?: readonly ReportSloInput[];
  /** Late or missed scheduled jobs; without them the on-call page has no such section. */
  freshness?: readonly ReportFreshnessInput[];
  /** Job checks (monitors): the check list page, and the down, late and running-too-long ones first on the on-call page. */
  checks?: readonly ReportCheckInput[];
  /** Failed runs listed per job page. @default 20 */
  failuresPerJob?: number;
  /** Slowest runs listed per job page. @default 10 */
  slowestPerJob?: number;
  /** Failed runs listed on the on-call page. @default 50 */
  latestFailures?: number;
  /** Queries run at once against the store. @default 4 */
  concurrency?: number;
  /**
   * Link of a trace in a tracing UI, with `{trace_id}` (and optionally
   * `{span_id}`, `{run_id}`, `{job}`) filled in, e.g. Jaeger
   * `http://jaeger:16686/trace/{trace_id}`, SigNoz
   * `http://signoz:3301/trace/{trace_id}`, Grafana Tempo
   * `http://grafana:3000/explore?left={"queries":[{"datasource":"tempo","query":"{trace_id}"}]}`.
   * Without it ids are plain text.
   */
  traceUrlTemplate?: string;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Bucket widths the report uses, smallest first. */
const BUCKETS = [
  SECOND, 5 * SECOND, 10 * SECOND, 30 * SECOND, MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR,
  6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY,
];
const COUNTED = new Set<string>(COUNTED_OUTCOMES);

/**
 * Bucket width for a job's time series: about one point per four runs,
 * between 12 and 96 points over the window, so a busy job gets detail and an
 * hourly job does not turn into scattered dots.
 */
export function chooseBucketMillis(spanMillis: number, runs: number): number {
  const target = Math.min(96, Math.max(12, Math.floor(runs / 4)));
  return BUCKETS.find((b) => spanMillis / b <= target) ?? Math.ceil(spanMillis / target);
}

/**
 * Latency histogram bin edges, ms: round numbers (1, 1.2, 1.5, 2, 2.5, 3, 4,
 * 5, 6, 7, 8 x 10^n) from 0.1 ms to 8e8 ms (9 days), about eleven per decade,
 * so fast and slow jobs both get readable bins and every store bins alike.
 */
export const LATENCY_EDGES_MILLIS: readonly number[] = Object.freeze(
  Array.from({ length: 10 }, (_, k) => [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8].map((m) => Number((m * 10 ** (k - 1)).toPrecision(6)))).flat(),
);

/** Most bars a histogram shows; neighbours are merged in pairs until it fits. */
const MAX_BINS = 24;

/** Counts per bin of `edges` (bin i = number of edges <= value), as `RunReader.runDistributions` does. */
export function binCounts(valuesMillis: readonly number[], edges: readonly number[] = LATENCY_EDGES_MILLIS): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of valuesMillis) {
    if (!Number.isFinite(v)) continue;
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((edges[mid] as number) <= v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo] = (counts[lo] ?? 0) + 1;
  }
  return counts;
}

/**
 * A histogram from per-bin counts over `edges`: empty bins at both ends are
 * dropped and neighbours merged in pairs while there are more than 24 bars.
 * `totalRuns` is how many counted runs the window had; when the counts cover
 * fewer (runs read one by one, only the slowest ones), `unreadAtMostMillis`
 * bounds the latency of the runs not read.
 */
export function histogramFromCounts(counts: readonly number[], totalRuns: number, edges: readonly number[] = LATENCY_EDGES_MILLIS, unreadAtMostMillis: number | null = null): LatencyHistogram {
  const sampled = counts.reduce((a, b) => a + b, 0);
  const first = counts.findIndex((c) => c > 0);
  if (first < 0) return { bins: [], sampledRuns: 0, totalRuns: Math.max(totalRuns, 0), unreadAtMostMillis: null };
  const last = counts.findLastIndex((c) => c > 0);
  const edge = (i: number): number => (i <= 0 ? 0 : i > edges.length ? (edges[edges.length - 1] as number) * 1.25 : (edges[i - 1] as number));
  type Bin = LatencyHistogram['bins'][number];
  let bins: Bin[] = [];
  for (let i = first; i <= last; i++) bins.push({ fromMillis: edge(i), toMillis: edge(i + 1), count: counts[i] as number });
  while (bins.length > MAX_BINS) {
    const merged: Bin[] = [];
    for (let i = 0; i < bins.length; i += 2) {
      const a = bins[i] as Bin;
      const b: Bin | undefined = bins[i + 1];
      merged.push(b ? { fromMillis: a.fromMillis, toMillis: b.toMillis, count: a.count + b.count } : a);
    }
    bins = merged;
  }
  const total = Math.max(totalRuns, sampled);
  return { bins, sampledRuns: sampled, totalRuns: total, unreadAtMostMillis: sampled < total ? unreadAtMostMillis : null };
}

/** A histogram of run latencies (ms) read one by one; see {@link histogramFromCounts}. */
export function latencyHistogram(latenciesMillis: readonly number[], totalRuns: number): LatencyHistogram {
  const values = latenciesMillis.filter((v) => Number.isFinite(v) && v >= 0);
  const min = values.length ? Math.min(...values) : null;
  return histogramFromCounts(binCounts(values), totalRuns, LATENCY_EDGES_MILLIS, min);
}

/** Runs `fn` over `items`, `limit` at a time, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () => worker()));
  return out;
}

/** Validates an SLO input, naming the bad field. @throws {ConfigError} */
function checkSlo(slo: ReportSloInput, i: number): void {
  const at = `slos[${i}]`;
  if (typeof slo.name !== 'string' || slo.name === '') throw new ConfigError(`${at}.name`, 'must be a non-empty string');
  if (typeof slo.jobs !== 'string' || slo.jobs === '') throw new ConfigError(`${at}.jobs`, 'must be a job name or glob');
  if (!(slo.objective > 0 && slo.objective < 1)) throw new ConfigError(`${at}.objective`, `${String(slo.objective)} is not a fraction between 0 and 1 (e.g. 0.99)`);
  if (!(Number.isFinite(slo.windowMillis) && slo.windowMillis > 0)) throw new ConfigError(`${at}.windowMillis`, `${String(slo.windowMillis)} is not a positive duration in ms`);
}

/**
 * Windows drawn on the burn-rate chart: the alert tiers' long windows (the
 * short ones only confirm a fire and would mostly add noise), or the watched
 * windows when no tier is configured; at most four.
 */
function burnWindows(slo: ReportSloInput): number[] {
  const long = slo.alertTiers.map((t) => t.longWindowMillis);
  const ordered = (long.length > 0 ? long : slo.burnRates.map((b) => b.windowMillis)).filter((w) => Number.isFinite(w) && w > 0);
  return [...new Set(ordered)].sort((a, b) => a - b).slice(-4);
}

/** Most sample points a burn-rate series is read at. */
const MAX_BURN_BUCKETS = 20_000;

async function collectSlo(store: RunReader, slo: ReportSloInput, window: TimeRange): Promise<ReportSloData> {
  const end = slo.evaluatedAtMillis ?? window.toMillis;
  if (slo.criterion === null) return { input: slo, budgetSeries: [], burnSeries: [], burnStepMillis: 0, burnFromMillis: end, burnToMillis: end };
  const criterion = slo.criterion;
  const allowedFraction = 1 - slo.objective;

  // Budget burn-down over the compliance window, from the bad runs bucketed across it: one
  // point at every bucket boundary (buckets without runs keep the level), so a burst of
  // failures shows as a drop where it happened, against the budget of all runs in the window
  // (so the last point is the budget left now).
  const bdBucket = BUCKETS.find((b) => slo.windowMillis / b <= 120) ?? Math.ceil(slo.windowMillis / 120);
  const bdFrom = end - slo.windowMillis;
  const bd = await store.timeSeries({ jobs: slo.jobs, ...(slo.where ? { where: slo.where } : {}), fromMillis: bdFrom, toMillis: end, bucketMillis: bdBucket, criterion });
  const total = bd.reduce((s, p) => s + p.runs, 0);
  const budgetSeries: ReportSloData['budgetSeries'] = [];
  if (total > 0) {
    const allowed = allowedFraction * total;
    const badByBucket = new Map(bd.map((p) => [p.bucketStartMillis, p.runs - p.good]));
    let bad = 0;
    budgetSeries.push({ atMillis: bdFrom, remaining: 1 });
    // Buckets are aligned to multiples of their width since the epoch.
    for (let b = Math.floor(bdFrom / bdBucket) * bdBucket; b < end; b += bdBucket) {
      bad += badByBucket.get(b) ?? 0;
      budgetSeries.push({ atMillis: Math.min(end, b + bdBucket), remaining: 1 - bad / allowed });
    }
  }

  // Burn rate per window over the longest tier's long window ending at the evaluation (so
  // every tier's window is on the chart), from one bucketed series and rolling sums.
  const windows = burnWindows(slo);
  const longest = Math.max(0, ...windows);
  const chartFrom = end - longest;
  const span = 2 * longest;
  const shortest = Math.min(...windows, Infinity);
  let step = [...BUCKETS].reverse().find((b) => b <= shortest / 6 && windows.every((w) => w % b === 0)) ?? SECOND;
  if (span / step > MAX_BURN_BUCKETS) step = BUCKETS.find((b) => span / b <= MAX_BURN_BUCKETS) ?? Math.ceil(span / MAX_BURN_BUCKETS);
  const drawn = windows.filter((w) => w >= step);
  const burnSeries: ReportSloData['burnSeries'] = [];
  if (drawn.length > 0) {
    const first = Math.floor((chartFrom - longest) / step);
    const last = Math.ceil(end / step);
    const n = last - first;
    const runs = new Float64Array(n + 1);
    const bad = new Float64Array(n + 1);
    const pts = await store.timeSeries({ jobs: slo.jobs, ...(slo.where ? { where: slo.where } : {}), fromMillis: first * step, toMillis: end, bucketMillis: step, criterion });
    for (const p of pts) {
      const i = Math.round(p.bucketStartMillis / step) - first;
      if (i < 0 || i >= n) continue;
      runs[i + 1] = p.runs;
      bad[i + 1] = p.runs - p.good;
    }
    for (let i = 1; i <= n; i++) {
      runs[i] = (runs[i] as number) + (runs[i - 1] as number);
      bad[i] = (bad[i] as number) + (bad[i - 1] as number);
    }
    // Sample at bucket boundaries inside the chart's range, at most ~240 per series.
    const from = Math.ceil(chartFrom / step);
    const stride = Math.max(1, Math.ceil((last - from) / 240));
    for (const w of drawn) {
      const k = Math.round(w / step);
      const points: { atMillis: number; rate: number | null }[] = [];
      for (let b = from; b <= last; b += stride) {
        const hi = b - first;
        const lo = Math.max(0, hi - k);
        const t = (runs[hi] as number) - (runs[lo] as number);
        const e = (bad[hi] as number) - (bad[lo] as number);
        points.push({ atMillis: Math.min(b * step, end), rate: t > 0 ? e / t / allowedFraction : null });
      }
      burnSeries.push({ windowMillis: w, points });
    }
  }
  return { input: slo, budgetSeries, burnSeries, burnStepMillis: step, burnFromMillis: chartFrom, burnToMillis: end };
}

type Limits = Required<Pick<CollectReportOptions, 'failuresPerJob' | 'slowestPerJob'>>;

const isCounted = (r: RunSummary): boolean => COUNTED.has(r.outcome);

/** The batch queries of the job pages that do not depend on the jobs' figures. */
interface JobBatches {
  failures: RunSummary[];
  slowest: RunSummary[];
  distributions: RunDistribution[];
}

/** Starts the run lists and histograms of every job (two scans for the lists, one for the histograms). */
function jobBatches(store: RunReader, window: TimeRange & { where?: DimensionFilter }, o: Limits): Thunks<JobBatches> {
  return {
    failures: () => store.listRunsByJob({ jobs: '*', ...window, filter: 'failed', order: 'latest', limitPerJob: o.failuresPerJob }),
    // A few extra, as cancelled and skipped runs are dropped from the slowest list.
    slowest: () => store.listRunsByJob({ jobs: '*', ...window, order: 'slowest', limitPerJob: o.slowestPerJob + 5 }),
    distributions: () => store.runDistributions({ jobs: '*', ...window, latencyEdgesMillis: LATENCY_EDGES_MILLIS }),
  };
}

type Thunks<T> = { [K in keyof T]: () => Promise<T[K]> };

/** Runs named queries, `limit` at a time. */
async function allLimit<T extends Record<string, unknown>>(thunks: Thunks<T>, limit: number): Promise<T> {
  const keys = Object.keys(thunks) as (keyof T & string)[];
  const values = await mapLimit(keys, limit, (k) => thunks[k]() as Promise<unknown>);
  return Object.fromEntries(keys.map((k, i) => [k, values[i]])) as T;
}

/** Most job names one time series query lists (`onlyJobs`; the read API's limit). */
const MAX_ONLY_JOBS = 10_000;

/**
 * Per-job detail of every job with the store's batch queries: one scan per
 * distinct bucket width for the series, two for the run lists and one for
 * the histograms, whatever the number of jobs. Exact per job, glob
 * characters in names included.
 */
async function collectJobsBatched(store: RunReader, jobs: readonly JobSlis[], window: TimeRange & { where?: DimensionFilter }, o: Limits, batches: JobBatches, concurrency: number): Promise<ReportJobDetail[]> {
  const span = window.toMillis - window.fromMillis;
  const bucketOf = new Map(jobs.map((j) => [j.job, chooseBucketMillis(span, j.runs)]));
  const series = new Map<string, SeriesPoint[]>();
  const widths = [...new Set(bucketOf.values())];
  // Each width's query reads only its own jobs (a list the read API accepts); with one width, every job.
  const onlyJobs = (bucketMillis: number): { onlyJobs?: string[] } => {
    const names = jobs.filter((j) => bucketOf.get(j.job) === bucketMillis).map((j) => j.job);
    return widths.length > 1 && names.length <= MAX_ONLY_JOBS ? { onlyJobs: names } : {};
  };
  const byWidth = await mapLimit(widths, concurrency, (bucketMillis) => store.timeSeriesByJob({ jobs: '*', ...window, bucketMillis, ...onlyJobs(bucketMillis) }));
  widths.forEach((bucketMillis, i) => {
    for (const s of byWidth[i] ?? []) {
      if (bucketOf.get(s.job) === bucketMillis) series.set(s.job, s.points);
    }
  });
  const group = (runs: readonly RunSummary[]): Map<string, RunSummary[]> => {
    const out = new Map<string, RunSummary[]>();
    for (const r of runs) {
      const list = out.get(r.job);
      if (list) list.push(r);
      else out.set(r.job, [r]);
    }
    return out;
  };
  const failures = group(batches.failures);
  const slowest = group(batches.slowest.filter(isCounted));
  const dist = new Map(batches.distributions.map((d) => [d.job, d]));
  return jobs.map((j) => ({
    job: j.job,
    bucketMillis: bucketOf.get(j.job) as number,
    series: series.get(j.job) ?? [],
    histogram: histogramFromCounts(dist.get(j.job)?.latencyCounts ?? [], j.runs),
    attempts: dist.get(j.job)?.attempts ?? {},
    slowest: (slowest.get(j.job) ?? []).slice(0, o.slowestPerJob),
    failures: failures.get(j.job) ?? [],
  }));
}

/** How far back an empty window's report looks for jobs that ran before it (within the read API's range limit). */
const JOBS_BEFORE_LOOKBACK_MILLIS = 365 * 86_400_000;

/**
 * Reads everything the report site shows from a store: the analyzer's
 * figures for the window and the previous period of the same length, each
 * job's time series, latency histogram, slowest and failed runs, the latest
 * failures across jobs, and, when SLOs are given, their budget burn-down and
 * burn-rate series. Queries are the Store interface's own (pushed down);
 * nothing here is DuckDB-specific.
 * @throws {ConfigError} for an invalid range or SLO input; {StoreError} when a query fails
 */
export async function collectReportData(store: RunReader, options: CollectReportOptions): Promise<ReportData> {
  const window = options.range;
  if (!(Number.isFinite(window.fromMillis) && Number.isFinite(window.toMillis) && window.toMillis > window.fromMillis)) {
    throw new ConfigError('range', `[${window.fromMillis}, ${window.toMillis}) is not a time range with its end after its start`);
  }
  options.slos?.forEach(checkSlo);
  const names = new Set<string>();
  options.slos?.forEach((s, i) => {
    if (names.has(s.name)) throw new ConfigError(`slos[${i}].name`, `"${s.name}" is used by an earlier SLO; SLO names must be unique (each gets a page)`);
    names.add(s.name);
  });
  const span = window.toMillis - window.fromMillis;
  const previousWindow = { fromMillis: window.fromMillis - span, toMillis: window.fromMillis };
  const concurrency = options.concurrency ?? 4;
  const limits = {
    failuresPerJob: options.failuresPerJob ?? 20,
    slowestPerJob: options.slowestPerJob ?? 10,
  };

  const where = options.where !== undefined && Object.keys(options.where).length > 0 ? { where: options.where } : {};
  // The job queries read `where` from the window they are given.
  const filtered = { ...window, ...where };
  // Independent queries at once (a store that runs one at a time queues them; a server runs them in parallel).
  const first = await allLimit(
    {
      analysis: () => analyze(store, window, where),
      // The previous period gives the changes; its queue depths are shown nowhere.
      previous: () => analyze(store, previousWindow, { ...where, queueDepths: false }),
      ...jobBatches(store, filtered, limits),
      latestFailures: () => store.listRuns({ jobs: '*', ...filtered, filter: 'failed', order: 'latest', limit: options.latestFailures ?? 50 }),
      latest: () => store.listRuns({ jobs: '*', ...filtered, order: 'latest', limit: 1 }),
    },
    concurrency,
  );
  const { analysis, previous, latestFailures } = first;
  const [latest] = first.latest;
  const details = await collectJobsBatched(store, analysis.jobs, filtered, limits, first, concurrency);
  const jobsBeforeWindow = analysis.jobs.length === 0 ? (await store.jobNames({ fromMillis: window.fromMillis - JOBS_BEFORE_LOOKBACK_MILLIS, toMillis: window.fromMillis })).length : 0;
  const slos = options.slos ? await mapLimit(options.slos, concurrency, (s) => collectSlo(store, s, window)) : null;
  return {
    window,
    previousWindow,
    generatedAtMillis: (options.generatedAt ?? new Date()).getTime(),
    version: options.version,
    storeLocation: options.storeLocation ?? store.location,
    analysis,
    previous,
    details,
    latestFailures,
    latestRunEndMillis: latest?.endMillis ?? null,
    jobsBeforeWindow,
    slos,
    freshness: options.freshness ? [...options.freshness] : null,
    checks: options.checks ? [...options.checks] : null,
    ...(options.traceUrlTemplate !== undefined ? { traceUrlTemplate: options.traceUrlTemplate } : {}),
  };
}
