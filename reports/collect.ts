import { analyze } from '../analyzer/index.js';
import type { JobSlis } from '../analyzer/index.js';
import { COUNTED_OUTCOMES, ConfigError } from '../contracts/index.js';
import type { RunSummary, SeriesPoint, Store, TimeRange } from '../store/index.js';
import type { LatencyHistogram, ReportData, ReportFreshnessInput, ReportJobDetail, ReportSloData, ReportSloInput } from './model.js';

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
  /** SLO definitions and state; without them the pages have no SLO sections. */
  slos?: readonly ReportSloInput[];
  /** Late or missed scheduled jobs; without them the on-call page has no such section. */
  freshness?: readonly ReportFreshnessInput[];
  /** Runs read per job for the latency histogram (the slowest ones first). @default 10_000 (the store's cap) */
  histogramRunLimit?: number;
  /** Failed runs listed per job page. @default 20 */
  failuresPerJob?: number;
  /** Slowest runs listed per job page. @default 10 */
  slowestPerJob?: number;
  /** Failed runs listed on the on-call page. @default 50 */
  latestFailures?: number;
  /** Queries run at once against the store. @default 4 */
  concurrency?: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Bucket widths the report uses, smallest first. */
const BUCKETS = [
  SECOND, 5 * SECOND, 10 * SECOND, 30 * SECOND, MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR,
  6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY,
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

const LOG_STEPS = [1, 1.5, 2, 3, 5, 7];

/** Bin edges: round log-spaced ones (1, 1.5, 2, 3, 5, 7 x 10^n) when the values span over 20x, else round linear ones. */
function binEdges(min: number, max: number): number[] {
  if (min > 0 && max / min > 20) {
    const all: number[] = [];
    for (let e = Math.floor(Math.log10(min)) - 1; e <= Math.ceil(Math.log10(max)) + 1; e++) {
      for (const s of LOG_STEPS) all.push(Number((s * 10 ** e).toPrecision(6)));
    }
    // From the largest edge <= min to the smallest edge > max.
    return all.slice(all.findLastIndex((v) => v <= min), all.findIndex((v) => v > max) + 1);
  }
  if (max === min) {
    const w = max === 0 ? 1 : Math.abs(max) * 0.1;
    return [Math.max(0, min - w), max + w];
  }
  const raw = (max - min) / 15;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  const edges: number[] = [];
  for (let v = Math.floor(min / step) * step; ; v += step) {
    edges.push(Number(v.toPrecision(12)));
    if (v > max) break;
  }
  return edges;
}

/**
 * A histogram of run latencies (ms). `totalRuns` is how many counted runs
 * the window had; when more than were read, the runs not read are the
 * fastest, and `unreadAtMostMillis` bounds them.
 */
export function latencyHistogram(latenciesMillis: readonly number[], totalRuns: number): LatencyHistogram {
  const values = latenciesMillis.filter((v) => Number.isFinite(v) && v >= 0);
  const total = Math.max(totalRuns, values.length);
  if (values.length === 0) return { bins: [], sampledRuns: 0, totalRuns: total, unreadAtMostMillis: null };
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const edges = binEdges(min, max);
  const bins = edges.slice(0, -1).map((from, i) => ({ fromMillis: from, toMillis: edges[i + 1] as number, count: 0 }));
  for (const v of values) {
    // Bins are [from, to); the last one also takes a value equal to its end.
    let lo = 0;
    let hi = bins.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((bins[mid] as { fromMillis: number }).fromMillis <= v) lo = mid;
      else hi = mid - 1;
    }
    (bins[lo] as { count: number }).count++;
  }
  return { bins, sampledRuns: values.length, totalRuns: total, unreadAtMostMillis: values.length < total ? min : null };
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

async function collectSlo(store: Store, slo: ReportSloInput, window: TimeRange): Promise<ReportSloData> {
  const end = slo.evaluatedAtMillis ?? window.toMillis;
  if (slo.criterion === null) return { input: slo, budgetSeries: [], burnSeries: [], burnStepMillis: 0 };
  const criterion = slo.criterion;
  const allowedFraction = 1 - slo.objective;

  // Budget burn-down over the compliance window: budget left after each bucket's bad runs,
  // against the budget of all runs in the window (so the last point is the budget left now).
  const bdBucket = BUCKETS.find((b) => slo.windowMillis / b <= 120) ?? Math.ceil(slo.windowMillis / 120);
  const bd = await store.timeSeries({ jobs: slo.jobs, fromMillis: end - slo.windowMillis, toMillis: end, bucketMillis: bdBucket, criterion });
  const total = bd.reduce((s, p) => s + p.runs, 0);
  const budgetSeries: ReportSloData['budgetSeries'] = [];
  if (total > 0) {
    const allowed = allowedFraction * total;
    let bad = 0;
    budgetSeries.push({ atMillis: end - slo.windowMillis, remaining: 1 });
    for (const p of bd) {
      bad += p.runs - p.good;
      budgetSeries.push({ atMillis: Math.min(end, p.bucketStartMillis + bdBucket), remaining: 1 - bad / allowed });
    }
  }

  // Burn rate per window over the report window, from one bucketed series and rolling sums.
  const windows = burnWindows(slo);
  const longest = Math.max(0, ...windows);
  const span = window.toMillis - window.fromMillis + longest;
  const shortest = Math.min(...windows, Infinity);
  let step = [...BUCKETS].reverse().find((b) => b <= shortest / 6 && windows.every((w) => w % b === 0)) ?? SECOND;
  if (span / step > MAX_BURN_BUCKETS) step = BUCKETS.find((b) => span / b <= MAX_BURN_BUCKETS) ?? Math.ceil(span / MAX_BURN_BUCKETS);
  const drawn = windows.filter((w) => w >= step);
  const burnSeries: ReportSloData['burnSeries'] = [];
  if (drawn.length > 0) {
    const first = Math.floor((window.fromMillis - longest) / step);
    const last = Math.ceil(window.toMillis / step);
    const n = last - first;
    const runs = new Float64Array(n + 1);
    const bad = new Float64Array(n + 1);
    const pts = await store.timeSeries({ jobs: slo.jobs, fromMillis: first * step, toMillis: window.toMillis, bucketMillis: step, criterion });
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
    // Sample at bucket boundaries inside the report window, at most ~240 per series.
    const from = Math.ceil(window.fromMillis / step);
    const stride = Math.max(1, Math.ceil((last - from) / 240));
    for (const w of drawn) {
      const k = Math.round(w / step);
      const points: { atMillis: number; rate: number | null }[] = [];
      for (let b = from; b <= last; b += stride) {
        const hi = b - first;
        const lo = Math.max(0, hi - k);
        const t = (runs[hi] as number) - (runs[lo] as number);
        const e = (bad[hi] as number) - (bad[lo] as number);
        points.push({ atMillis: Math.min(b * step, window.toMillis), rate: t > 0 ? e / t / allowedFraction : null });
      }
      burnSeries.push({ windowMillis: w, points });
    }
  }
  return { input: slo, budgetSeries, burnSeries, burnStepMillis: step };
}

type Limits = Required<Pick<CollectReportOptions, 'histogramRunLimit' | 'failuresPerJob' | 'slowestPerJob'>>;

async function collectJob(store: Store, slis: JobSlis, window: TimeRange, o: Limits): Promise<ReportJobDetail> {
  const job = slis.job;
  const bucketMillis = chooseBucketMillis(window.toMillis - window.fromMillis, slis.runs);
  const nameIsGlob = /[*?]/.test(job);
  const series: SeriesPoint[] = await store.timeSeries({ jobs: job, ...window, bucketMillis });
  // A name with glob characters selects other jobs too: keep only this job's runs.
  const own = (r: RunSummary): boolean => r.job === job;
  const read = (await store.listRuns({ jobs: job, ...window, order: 'slowest', limit: o.histogramRunLimit })).filter((r) => own(r) && COUNTED.has(r.outcome));
  const failures = (await store.listRuns({ jobs: job, ...window, filter: 'failed', order: 'latest', limit: o.failuresPerJob * (nameIsGlob ? 5 : 1) }))
    .filter(own)
    .slice(0, o.failuresPerJob);
  const attempts: Record<string, number> = {};
  for (const r of read) attempts[String(r.attempts)] = (attempts[String(r.attempts)] ?? 0) + 1;
  return {
    job,
    bucketMillis,
    series,
    histogram: latencyHistogram(read.map((r) => r.latencyMillis), slis.runs),
    attempts,
    slowest: read.slice(0, o.slowestPerJob),
    failures,
    nameIsGlob,
  };
}

/**
 * Reads everything the report site shows from a store: the analyzer's
 * figures for the window and the previous period of the same length, each
 * job's time series, latency histogram, slowest and failed runs, the latest
 * failures across jobs, and, when SLOs are given, their budget burn-down and
 * burn-rate series. Queries are the Store interface's own (pushed down);
 * nothing here is DuckDB-specific.
 * @throws {ConfigError} for an invalid range or SLO input; {StoreError} when a query fails
 */
export async function collectReportData(store: Store, options: CollectReportOptions): Promise<ReportData> {
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
    histogramRunLimit: options.histogramRunLimit ?? 10_000,
    failuresPerJob: options.failuresPerJob ?? 20,
    slowestPerJob: options.slowestPerJob ?? 10,
  };

  const analysis = await analyze(store, window);
  const previous = await analyze(store, previousWindow);
  const details = await mapLimit(analysis.jobs, concurrency, (j) => collectJob(store, j, window, limits));
  const latestFailures = await store.listRuns({ jobs: '*', ...window, filter: 'failed', order: 'latest', limit: options.latestFailures ?? 50 });
  const [latest] = await store.listRuns({ jobs: '*', ...window, order: 'latest', limit: 1 });
  const jobsBeforeWindow = analysis.jobs.length === 0 ? (await store.jobNames({ fromMillis: 0, toMillis: window.fromMillis })).length : 0;
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
  };
}
