import type { SpanRecord } from '../contracts/index.js';

/** A half-open time range `[fromMillis, toMillis)` in Unix epoch milliseconds. */
export interface TimeRange {
  fromMillis: number;
  toMillis: number;
}

/**
 * Per-job aggregates over the runs that finished in a range. Computed inside
 * the store (pushed down), never from raw rows in TypeScript.
 */
export interface JobAggregate {
  job: string;
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
}

/** Where spans are stored and SLIs are computed. */
export interface Store {
  /** `duckdb` or `clickhouse`. */
  readonly kind: string;
  /** Human-readable location, without credentials. */
  readonly location: string;
  /** Creates or upgrades the schema. Idempotent. */
  migrate(): Promise<void>;
  /** Stores spans. Delivering the same span twice must not change any SLI. */
  insertSpans(spans: readonly SpanRecord[]): Promise<void>;
  /** Per-job aggregates for runs whose end falls in `range`, sorted by job name. */
  jobAggregates(range: TimeRange): Promise<JobAggregate[]>;
  /** Closes connections; idempotent. */
  close(): Promise<void>;
}
