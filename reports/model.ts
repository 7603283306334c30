/**
 * The report's input model. Everything the pages show comes from a
 * {@link ReportData}, which {@link collectReportData} reads from a store and
 * which rendering turns into HTML without further I/O (so `jobslo serve` can
 * cache or re-render it).
 *
 * SLO and schedule data are optional and come from outside the report
 * (the SLO evaluator, the scheduler): pages show their sections only when
 * given. The shapes below are what the pages need, in report terms, so that
 * mapping the SLO evaluator's output onto them is a field-by-field copy
 * (see docs/reports.md, "Feeding SLO data").
 */
import type { Analysis, JobSlis } from '../analyzer/index.js';
import type { GoodRunCriterion, RunSummary, SeriesPoint, TimeRange } from '../store/index.js';

/** One alert tier of an SLO's multi-window burn-rate policy (e.g. page at 14.4x over 1h and 5m). */
export interface ReportAlertTier {
  /** Tier name as configured, e.g. `page` or `ticket` (untrusted text). */
  name: string;
  /** Burn rate at or above which the tier fires (1 = spending the budget exactly over the SLO window). */
  burnRateThreshold: number;
  /** Long window of the tier, ms (e.g. 3_600_000). */
  longWindowMillis: number;
  /** Short window of the tier, ms, when the policy uses one (e.g. 300_000). */
  shortWindowMillis?: number;
}

/** One alert of an SLO: firing now, or resolved recently. */
export interface ReportAlertInput {
  /** Name of the tier that fired (matches a {@link ReportAlertTier.name}). */
  tier: string;
  /** Long window of that tier, ms, to tell apart tiers that share a name (two `page` tiers). */
  longWindowMillis?: number;
  state: 'firing' | 'resolved';
  /** When it started firing, Unix ms; null when the evaluator does not know. */
  firedAtMillis: number | null;
  /** When it resolved, Unix ms; null while firing. */
  resolvedAtMillis: number | null;
  /** Burn rates when it fired (or now, while firing), per window. */
  burnRates: readonly ReportBurnRate[];
  /** Free text from the evaluator (untrusted; escaped). */
  summary?: string;
}

/** The burn rate over one window. */
export interface ReportBurnRate {
  windowMillis: number;
  /** Error rate over the window / (1 - objective); null when the window had no runs. */
  rate: number | null;
}

/**
 * What the report needs to know about one SLO: its definition and its state
 * as the SLO evaluator computed it at `evaluatedAtMillis`.
 */
export interface ReportSloInput {
  /** SLO name (untrusted text; the page URL is derived from it). */
  name: string;
  /** Job name or glob (`etl-*`) the SLO covers, as the store's JobSelector. */
  jobs: string;
  /** Only runs with these dimension values (the SLO's `where:`); absent: every run of the jobs. */
  where?: Readonly<Record<string, string>>;
  /** Optional human description (untrusted text). */
  description?: string;
  /** Target fraction of good runs, e.g. 0.99. In (0, 1). */
  objective: number;
  /**
   * What a good run is, as the store's window counts take it; null for SLIs
   * that are not about runs (freshness counts schedule ticks), which get no
   * burn-down or burn-rate chart.
   */
  criterion: GoodRunCriterion | null;
  /** Compliance window, ms (e.g. 28 days). */
  windowMillis: number;
  /** When the evaluator computed the figures below, Unix ms. @default the report's window end */
  evaluatedAtMillis?: number;
  /** Good runs / counted runs over the compliance window, 0..1; null without runs. */
  sliValue: number | null;
  /** Good and counted runs over the compliance window, when known. */
  good?: number;
  total?: number;
  /** Error budget left, as a fraction of the whole budget: 1 = untouched, 0 = spent, negative = overspent; null without runs. */
  errorBudgetRemaining: number | null;
  /** Burn rate now over each window the policy watches. */
  burnRates: readonly ReportBurnRate[];
  /** When the budget runs out at the current burn rate, Unix ms; null when it is not being spent (or already is spent). */
  budgetExhaustedAtMillis: number | null;
  /** The alert tiers; their thresholds are drawn on the burn-rate chart. */
  alertTiers: readonly ReportAlertTier[];
  /** Alerts firing now and those resolved recently. */
  alerts: readonly ReportAlertInput[];
  /** What `good` and `total` count: runs, or schedule ticks (freshness). @default 'runs' */
  unit?: 'runs' | 'ticks';
  /** A warning about the SLO itself, e.g. its job matches no job seen (untrusted; escaped). */
  warning?: string;
}

/** A scheduled job that is late or missed a run right now (from the scheduler's freshness check). */
export interface ReportFreshnessInput {
  job: string;
  state: 'late' | 'missed';
  /** When a run was expected to start or finish, Unix ms. */
  expectedAtMillis: number;
  /** End of the job's latest successful run, Unix ms; null if none is known. */
  lastSuccessAtMillis: number | null;
  /** Ticks missed in a row, for `missed`. */
  missedCount?: number;
  /** Free text, e.g. the cron expression (untrusted; escaped). */
  detail?: string;
}

/** State of a job check (a monitor): see docs/monitors.md. */
export type ReportCheckStatus = 'new' | 'up' | 'late' | 'down' | 'running_too_long' | 'paused';

/** One job check (monitor) as the monitor evaluator saw it, for the check list and the on-call page. */
export interface ReportCheckInput {
  /** Monitor name (untrusted text). */
  name: string;
  /** Job name or glob it watches. */
  job: string;
  status: ReportCheckStatus;
  /** When it entered `status`, Unix ms. */
  sinceMillis: number;
  /** Latest finished run; null when none is known. */
  lastRun: { outcome: string; endMillis: number } | null;
  /** End of the latest succeeded run, Unix ms; null when none is known. */
  lastSuccessMillis: number | null;
  /** Next tick expected, Unix ms; null when unknown. */
  nextExpectedMillis: number | null;
  /** The schedule as text, e.g. `cron "0 2 * * *" Europe/Berlin` or `every 1h` (untrusted). */
  schedule: string;
  graceMillis: number;
  maxRuntimeMillis?: number;
  /** Ticks missed since the last succeeded run. */
  missedInARow: number;
  /** For `late`: when the current tick's grace ends. */
  lateDeadlineMillis?: number | null;
  /** Start times of runs going past the maximum runtime. */
  overdueStartsMillis?: readonly number[];
  /** A warning about the check itself, e.g. its job matches no job seen (untrusted; escaped). */
  warning?: string;
}

/** Latency histogram of one job's counted runs. */
export interface LatencyHistogram {
  bins: { fromMillis: number; toMillis: number; count: number }[];
  /** Counted runs whose latency was read (the slowest ones when the job has more than the read limit). */
  sampledRuns: number;
  /** Counted runs in the window. */
  totalRuns: number;
  /** When sampledRuns < totalRuns: every run not read took at most this long, ms. */
  unreadAtMostMillis: number | null;
}

/** What a job page shows beyond its SLIs. */
export interface ReportJobDetail {
  job: string;
  /** Bucket width of `series`, ms. */
  bucketMillis: number;
  /** Success and latency per bucket, from `Store.timeSeries` (buckets without runs omitted). */
  series: SeriesPoint[];
  histogram: LatencyHistogram;
  /** Counted runs by number of attempts made (`1` = no retry). */
  attempts: Record<string, number>;
  /** Slowest counted runs, slowest first. */
  slowest: RunSummary[];
  /** Latest failed or timed-out runs, newest first. */
  failures: RunSummary[];
}

/** An SLO with the series its charts need. */
export interface ReportSloData {
  input: ReportSloInput;
  /** Budget left over the compliance window ending at the evaluation time: `[time, fraction]`, empty without runs. */
  budgetSeries: { atMillis: number; remaining: number }[];
  /** Burn rate per window over `[burnFromMillis, burnToMillis]` (the longest tier long window ending at the evaluation), sampled every `burnStepMillis`. */
  burnSeries: { windowMillis: number; points: { atMillis: number; rate: number | null }[] }[];
  burnStepMillis: number;
  burnFromMillis: number;
  burnToMillis: number;
}

/** Everything the report site is rendered from: plain JSON-serializable data, so rendering is pure. */
export interface ReportData {
  /** The window the report covers. */
  window: TimeRange;
  /** The window of the same length just before it, for the "change" figures. */
  previousWindow: TimeRange;
  generatedAtMillis: number;
  /** jobslo version, shown in the footer. */
  version: string;
  /** Store the numbers came from, without credentials. */
  storeLocation: string;
  /** `analyze(store, window)`: the numbers on the pages are these. */
  analysis: Analysis;
  /** `analyze(store, previousWindow)`. */
  previous: Analysis;
  /** Per-job detail, one per `analysis.jobs` element, same order. Empty when only the index is rendered. */
  details: ReportJobDetail[];
  /** Latest failed runs across all jobs, newest first. */
  latestFailures: RunSummary[];
  /** End of the newest run in the window, Unix ms; null without runs. */
  latestRunEndMillis: number | null;
  /** Jobs with runs in the year before the window, when the window has none (so the empty page can say so). */
  jobsBeforeWindow: number;
  /** Present only when SLO data was given. */
  slos: ReportSloData[] | null;
  /** Present only when schedule freshness was given. */
  freshness: ReportFreshnessInput[] | null;
  /** Job checks (monitors); present only when given. */
  checks: ReportCheckInput[] | null;
  /** Trace link template (`{trace_id}`, `{span_id}`, `{run_id}`, `{job}`); ids are plain text without it. */
  traceUrlTemplate?: string;
}

export type { Analysis, JobSlis };
