import type { LifecycleEventRecord, SpanRecord } from '../contracts/index.js';

/**
 * A time range `(fromMillis, toMillis]` in Unix epoch milliseconds:
 * left-open, right-closed, like Prometheus range selectors. A run is in it
 * when its final outcome time t satisfies `fromMillis < t <= toMillis`, so
 * adjacent ranges never count a run twice and a run that ended at the
 * evaluation instant counts.
 */
export interface TimeRange {
  fromMillis: number;
  toMillis: number;
}

/**
 * Runs whose dimensions (resource and span attributes such as `service.name`,
 * `deployment.environment.name`, `team`) have these exact values; every key
 * must match. A run's value of a key is the greatest value any of its rows
 * has (the rows of one run normally agree), `''` when none has it.
 */
export type DimensionFilter = Readonly<Record<string, string>>;

/** The optional dimension filter of a store query. */
export interface DimensionSelector {
  /** @default {} (every run) */
  where?: DimensionFilter;
}

/** Query of {@link RunReader.jobAggregates}. A plain {@link TimeRange} is one too. */
export interface JobAggregatesQuery extends TimeRange, DimensionSelector {
  /**
   * A dimension key to group by as well as by job: one aggregate per job and
   * value, with {@link JobAggregate.group} set (`''` for runs without it).
   */
  groupBy?: string;
}

/**
 * Which jobs a query covers: an exact job name, or a glob where `*` matches
 * any run of characters and `?` one character (`etl-*`). Other characters,
 * SQL quotes included, are matched literally.
 */
export type JobSelector = string;

/**
 * Per-job aggregates over the runs that finished in a range. Computed inside
 * the store (pushed down), never from raw rows in TypeScript.
 */
export interface JobAggregate {
  job: string;
  /** The value of the query's `groupBy` dimension; present only when the query had one. */
  group?: string;
  /** Runs with a counted outcome (succeeded, failed, timed_out). */
  runs: number;
  succeeded: number;
  /** failed + timed_out. */
  failed: number;
  timedOut: number;
  cancelled: number;
  skipped: number;
  deadLettered: number;
  /** Run latency percentiles over counted runs, milliseconds; null without runs. */
  latencyP50Millis: number | null;
  latencyP95Millis: number | null;
  latencyP99Millis: number | null;
  /** Sum of (attempts - 1) over counted runs. */
  retries: number;
  /** Queue delay (queued to first attempt start) percentiles over runs that report a queued time, ms. */
  queueDelayP50Millis: number | null;
  queueDelayP95Millis: number | null;
  /** Runs that reported a queued time. */
  queuedRuns: number;
  /** Sum of `jobslo.cost.amount` over counted runs; null when none reported a cost. */
  costTotal: number | null;
  /** Counted runs that reported a cost. */
  costedRuns: number;
  /** Sum of CPU seconds over counted runs; null when none reported it. */
  cpuSecondsTotal: number | null;
  /** Counted runs that reported CPU seconds. */
  cpuRuns: number;
  /** 95th percentile of peak RSS over runs that reported it, bytes. */
  maxRssP95Bytes: number | null;
  /**
   * Failed (and timed-out) counted runs by failure mode: the run's
   * `error.type` (exit code, `timeout`, exception type), else its outcome.
   */
  failureModes: Record<string, number>;
}

/** What makes a run "good" for an SLI. */
export type GoodRunCriterion =
  /** Good = succeeded; total = counted runs. */
  | { kind: 'success' }
  /** Good = succeeded within `thresholdMillis` of run latency; total = counted runs. */
  | { kind: 'latency'; thresholdMillis: number };

/** Good and total counted runs in one window. */
export interface WindowCount {
  /** Window length, ms; the window is `(endMillis - windowMillis, endMillis]`. */
  windowMillis: number;
  good: number;
  total: number;
}

/** Query of {@link RunReader.windowCounts}. */
export interface WindowCountsQuery extends DimensionSelector {
  jobs: JobSelector;
  criterion: GoodRunCriterion;
  /** End of every window, Unix ms (inclusive). */
  endMillis: number;
  /** Window lengths, ms. */
  windowsMillis: readonly number[];
}

/** One bucket of a per-job time series. */
export interface SeriesPoint {
  /** Bucket start, Unix ms: the bucket holds the runs that ended in `(start, start + bucketMillis]`. */
  bucketStartMillis: number;
  runs: number;
  succeeded: number;
  /** Good runs under the query's criterion (equals succeeded for `success`). */
  good: number;
  latencyP50Millis: number | null;
  latencyP95Millis: number | null;
  latencyP99Millis: number | null;
}

/** Query of {@link RunReader.timeSeries}. */
export interface TimeSeriesQuery extends TimeRange, DimensionSelector {
  jobs: JobSelector;
  /**
   * Only these jobs (exact names) of those `jobs` selects, e.g. the jobs that
   * share a bucket width when each width is its own query.
   * @default every job `jobs` selects
   */
  onlyJobs?: readonly string[];
  /** Bucket width, ms (buckets are aligned to multiples of it since the epoch). */
  bucketMillis: number;
  /** @default { kind: 'success' } */
  criterion?: GoodRunCriterion;
}

/** One derived run, for lists (latest failures, slowest runs) and freshness. */
export interface RunSummary {
  job: string;
  runId: string;
  /** Trace id of the span that gave the run its final outcome (the run span, else the last attempt). */
  traceId: string;
  /** Span id of that span. */
  spanId: string;
  outcome: string;
  /** Run start (the earlier of the run span's start and the first attempt's), Unix ms. */
  startMillis: number;
  /** Final attempt end, Unix ms. */
  endMillis: number;
  latencyMillis: number;
  attempts: number;
  errorType: string;
  exitCode: number | null;
  /** Status message of the run span, else of the last attempt (untrusted text). */
  message: string;
  deadLettered: boolean;
}

/** Query of {@link RunReader.listRuns}. */
export interface ListRunsQuery extends TimeRange, DimensionSelector {
  jobs: JobSelector;
  /** `failed` = failed or timed out; `all` = every outcome. @default 'all' */
  filter?: 'all' | 'failed';
  /** `latest` = by end time, newest first; `slowest` = by latency, longest first. @default 'latest' */
  order?: 'latest' | 'slowest';
  /** @default 20 */
  limit?: number;
}

/** The time series of one job, from {@link RunReader.timeSeriesByJob}. */
export interface JobSeries {
  job: string;
  /** As {@link RunReader.timeSeries} returns them for this job alone. */
  points: SeriesPoint[];
}

/** Query of {@link RunReader.listRunsByJob}: {@link ListRunsQuery} with a limit per job instead of one in all. */
export interface ListRunsByJobQuery extends TimeRange, DimensionSelector {
  jobs: JobSelector;
  /** @default 'all' */
  filter?: 'all' | 'failed';
  /** @default 'latest' */
  order?: 'latest' | 'slowest';
  /** Runs kept of each job, 1..10,000. */
  limitPerJob: number;
}

/** Query of {@link RunReader.runDistributions}. */
export interface RunDistributionQuery extends TimeRange, DimensionSelector {
  jobs: JobSelector;
  /**
   * Ascending latency bin edges, ms. Bin `i` counts runs with latency in
   * `[edges[i-1], edges[i])`; bin 0 is below the first edge and the last bin
   * at or above the last edge (so there are `edges.length + 1` bins).
   */
  latencyEdgesMillis: readonly number[];
}

/** How one job's counted runs that ended in a range are spread. */
export interface RunDistribution {
  job: string;
  /** Runs per latency bin, `latencyEdgesMillis.length + 1` of them. */
  latencyCounts: number[];
  /** Runs by number of attempts made (`"1"` = no retry). */
  attempts: Record<string, number>;
}

/** Queue depth of one job: runs queued and not yet started. */
export interface QueueDepth {
  job: string;
  /** Runs queued and not started at the range's end (from live lifecycle events). */
  now: number;
  /** Most runs waiting at once during the range. */
  max: number;
}

/** Options of {@link RunReader.runStarts}. */
export interface RunStartsOptions {
  /**
   * For a caller that only asks whether some start falls in `[t, t + g]` with
   * `g >= coalesceMillis` (a freshness tick and its grace): the store may return
   * only the earliest and latest start of each interval of this width (aligned
   * to the epoch, ms), which answers every such question as all starts do.
   * A store may also ignore it. Undefined: every start.
   */
  coalesceMillis?: number;
  /**
   * Only the earliest start in the range: a list of at most one start (the
   * first run seen of a freshness SLO). `coalesceMillis` is then ignored.
   * @default false
   */
  earliestOnly?: boolean;
  /**
   * Only runs with these dimension values (see {@link DimensionFilter}): a
   * freshness SLO or a job monitor of one environment, say.
   * @default {} (every run)
   */
  where?: DimensionFilter;
}

/** One query of {@link RunReader.runStartsMany}: the arguments of {@link RunReader.runStarts} in one object. */
export interface RunStartsQuery extends TimeRange, RunStartsOptions {
  jobs: JobSelector;
  which: 'succeeded' | 'any';
}

/** Options of {@link StoreMaintenance.migrate}. */
export interface MigrateOptions {
  /** Called with a one-line progress message while a long step (building rollups) runs. */
  onProgress?: (message: string) => void;
}

/** A run that started and has not finished, from {@link RunReader.openRuns}. */
export interface OpenRun {
  job: string;
  runId: string;
  /** Time of its `job.started` event (the first, when redelivered), Unix ms. */
  startMillis: number;
}

/** Options of {@link StoreMaintenance.dropBefore}. */
export interface DropBeforeOptions {
  /**
   * Keep the coarse (hour) rollups down to this instant, Unix ms, instead of
   * dropping them with the raw data; at or before `olderThanMillis`. Minute
   * rollups always go with the raw data. DuckDB drops hour rollups of whole
   * UTC days before it; ClickHouse drops whole month partitions of them that
   * ended before its day (so keeps up to a month more).
   * @default olderThanMillis (hour rollups go with the raw data)
   */
  rollupsOlderThanMillis?: number;
}

/** What {@link StoreMaintenance.dropBefore} dropped. */
export interface DropResult {
  /** UTC days of raw data (spans, job rows, lifecycle events, minute rollups) dropped. */
  rawDays: number;
  /** Partitions of hour rollups dropped: UTC days on DuckDB, months on ClickHouse. */
  rollupPartitions: number;
}

/** Which store a handle talks to. Every role has it. */
export interface StoreIdentity {
  /** `duckdb`, `clickhouse` or `remote`. */
  readonly kind: string;
  /** Human-readable location, without credentials. */
  readonly location: string;
}

/**
 * The read role: the pushed-down run queries the analyzer, reports, monitors
 * and the collector's read API take. Every method is required, so callers never
 * feature-detect; {@link RemoteStore} implements exactly this role.
 */
export interface RunReader extends StoreIdentity {
  /** Queue depth per job (jobs with any queued run in the range), sorted by job name. */
  queueDepths(range: TimeRange): Promise<QueueDepth[]>;
  /** Per-job (and per-group) aggregates for runs whose final outcome falls in the range, sorted by job name, then group. */
  jobAggregates(query: JobAggregatesQuery): Promise<JobAggregate[]>;
  /**
   * {@link windowCounts} for many queries in one pass over the runs (what an
   * SLO evaluation cycle needs): one result per query, in order.
   */
  windowCountsMany(queries: readonly WindowCountsQuery[]): Promise<WindowCount[][]>;
  /** Good/total counted runs of the selected jobs in each window ending at `endMillis`, in the order asked. */
  windowCounts(query: WindowCountsQuery): Promise<WindowCount[]>;
  /** Per-bucket runs, good runs and latency of the selected jobs; buckets without runs are omitted. Ascending. */
  timeSeries(query: TimeSeriesQuery): Promise<SeriesPoint[]>;
  /** Runs of the selected jobs that ended in the range, filtered and ordered. */
  listRuns(query: ListRunsQuery): Promise<RunSummary[]>;
  /*
   * Per-job batch queries: one scan for every selected job instead of one
   * query per job (the report's job pages, job monitors).
   */
  /** {@link RunReader.timeSeries} of each selected job with runs, sorted by job name. */
  timeSeriesByJob(query: TimeSeriesQuery): Promise<JobSeries[]>;
  /** {@link RunReader.listRuns} keeping up to `limitPerJob` runs of each selected job; sorted by job name, then in the asked order. */
  listRunsByJob(query: ListRunsByJobQuery): Promise<RunSummary[]>;
  /** Latency histogram and attempts of each selected job's counted runs that ended in the range, sorted by job name. */
  runDistributions(query: RunDistributionQuery): Promise<RunDistribution[]>;
  /**
   * Start times (run start, Unix ms, ascending) of the finished runs of the
   * selected jobs that started in `[fromMillis, toMillis)` (start times, not
   * final outcomes: the one half-open range of the interface): succeeded runs
   * only, or any outcome but `skipped`.
   */
  runStarts(jobs: JobSelector, range: TimeRange, which: 'succeeded' | 'any', options?: RunStartsOptions): Promise<number[]>;
  /**
   * {@link runStarts} of many queries (the freshness SLOs of an evaluation
   * cycle): one result per query, in order. A store may read them together
   * (DuckDB reads the coalesced ones of exact job names in one scan).
   */
  runStartsMany(queries: readonly RunStartsQuery[]): Promise<number[][]>;
  /**
   * Runs of the selected jobs that started (a live `job.started` lifecycle
   * event in the range) and had not finished by the range's end: no terminal
   * lifecycle event (succeeded, failed, timed out, cancelled, dead-lettered,
   * skipped) in the range and no finished run stored. Oldest first, at most
   * 10,000. For job monitors (a run going past its maximum runtime); empty
   * when no live lifecycle events were stored.
   */
  openRuns(jobs: JobSelector, range: TimeRange): Promise<OpenRun[]>;
  /** Names of jobs with any run in the range, sorted. */
  jobNames(range: TimeRange): Promise<string[]>;
  /**
   * Stored spans that look like job telemetry but form no run (a job name
   * without a run id, say: see store/derive), with an end time in the range,
   * by profile and missing attribute; each span counted once however often
   * it was delivered. Sorted by profile, then attribute.
   */
  unformedSpans(range: TimeRange): Promise<UnformedSpans[]>;
}

/** Spans that cannot form a run for one reason (see {@link RunReader.unformedSpans}). */
export interface UnformedSpans {
  /** The profile that claimed them (`jobslo`, `celery`, `k8s`, ...). */
  profile: string;
  /** The attribute they lack (`jobslo.run.id`, `k8s.job.uid`, ...). */
  missing: string;
  spans: number;
}

/** The write role: what the collector's sinks and `jobslo ingest` take. */
export interface SpanWriter extends StoreIdentity {
  /** Stores spans. Delivering the same span twice must not change any SLI. */
  insertSpans(spans: readonly SpanRecord[]): Promise<void>;
  /** Stores live lifecycle events. Delivering the same event twice must not change any SLI. */
  insertLifecycleEvents(events: readonly LifecycleEventRecord[]): Promise<void>;
}

/** The maintenance role: schema, rollup builds and retention (`jobslo migrate`, `--retention-days`). */
export interface StoreMaintenance extends StoreIdentity {
  /** Creates or upgrades the schema, and builds the rollups of a store that has none yet. Idempotent. */
  migrate(options?: MigrateOptions): Promise<void>;
  /**
   * Drops stored data older than the UTC day of `olderThanMillis` (whole
   * days/partitions), the hour rollups with it or, with
   * `options.rollupsOlderThanMillis`, only those older than that.
   * @throws {ConfigError} when `rollupsOlderThanMillis` is not a time at or before `olderThanMillis`
   */
  dropBefore(olderThanMillis: number, options?: DropBeforeOptions): Promise<DropResult>;
}

/** A handle that holds connections. */
export interface Closeable {
  /** Closes connections; idempotent. */
  close(): Promise<void>;
}

/** A read-only store handle, as {@link openRunReader} returns it. */
export interface RunReaderHandle extends RunReader, Closeable {}

/**
 * A store opened in this process (DuckDB, ClickHouse): every role. Callers
 * take the narrowest role they need ({@link RunReader}, {@link SpanWriter},
 * {@link StoreMaintenance}).
 */
export interface Store extends RunReader, SpanWriter, StoreMaintenance, Closeable {}
