/**
 * The normalized job rows that every source's spans are derived into once,
 * at insert, and that both stores hold (`job_rows`). Store SQL only groups
 * these rows by `(job, run_id)`; it holds no per-source logic.
 */

/** The profile (source convention) that produced a row. See `docs/conventions.md`. */
export type ProfileName = 'jobslo' | 'cicd' | 'celery' | 'bullmq' | 'messaging' | 'k8s';

/**
 * What a row says about its run:
 * - `run`: covers the whole run (a run span); its start bounds the run's start.
 * - `run_attempt`: a run span that is also the run's only attempt when no
 *   attempt row arrives (single-span runs: latency = its duration).
 * - `attempt`: one attempt (execution) of the run.
 * - `enqueue`: the run was queued (a producer span): gives the queued time only.
 */
export type RowRole = 'run' | 'run_attempt' | 'attempt' | 'enqueue';

/** Values of {@link RowRole}. */
export const RowRole = {
  Run: 'run',
  RunAttempt: 'run_attempt',
  Attempt: 'attempt',
  Enqueue: 'enqueue',
} as const satisfies Record<string, RowRole>;

/** One normalized row derived from one span. */
export interface JobRow {
  profile: ProfileName;
  /** Job name; never empty. */
  job: string;
  /** Run id, unique within the job; never empty. */
  runId: string;
  role: RowRole;
  /** 1-based attempt number when the source says it, else 0. */
  attempt: number;
  /** Unix ns. */
  startNs: bigint;
  /** Unix ns, at least {@link startNs}. */
  endNs: bigint;
  /** `succeeded`, `failed`, `timed_out`, `cancelled`, `skipped`, or `''` on enqueue rows. */
  outcome: string;
  /**
   * True when this row can give the run its final outcome (a run span; a
   * Celery SUCCESS/FAILURE attempt but not a RETRY one; ...). A run is
   * finished once a terminal row exists.
   */
  terminal: boolean;
  /** Attempts the run made as a run row reports them (`jobslo.run.attempts`), else 0. */
  runAttempts: number;
  /** Failure mode of a row that did not succeed (see `failureMode`), else the span's `error.type` or `''`. */
  errorType: string;
  exitCode: number | null;
  /** Status message, else the last exception message (untrusted text). */
  message: string;
  /** When the run was queued, Unix ns, or null. */
  queuedNs: bigint | null;
  cost: number | null;
  cpuSeconds: number | null;
  maxRssBytes: number | null;
  deadLettered: boolean;
  traceId: string;
  spanId: string;
  /** Dimension keys (resource and span attributes usable to filter and group), sorted, unique; shared between rows, never mutate. */
  dimKeys: readonly string[];
  /** Values of {@link dimKeys}, as text; shared like {@link dimKeys}. */
  dimValues: readonly string[];
}

/** What {@link deriveSpan} makes of one span. */
export interface Derivation {
  /** Zero or more rows (most spans of an instrumented job give none). */
  rows: JobRow[];
  /** The profile that claimed the span, if any. */
  profile?: ProfileName;
  /**
   * Set when the span looks like job telemetry but cannot form a run, saying
   * which attribute is missing. The span is still stored.
   */
  warning?: string;
  /**
   * With {@link warning}: the attribute whose absence keeps the span from
   * forming a run (`jobslo.run.id`, `k8s.job.uid`, ...), a stable key to
   * count such spans by.
   */
  missing?: string;
}
