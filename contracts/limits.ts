/**
 * What both stores can hold, in one place. The collector's and the Kafka
 * ingest's per-span validation reject values outside these limits before a
 * store sees them, so a store writer never has to clamp or wrap a value:
 * DuckDB (`INTEGER`, `BIGINT`, `UTINYINT`, `DOUBLE`) and ClickHouse (`Int32`,
 * `Int64`, `UInt8`, `Float64`, `Date`) hold exactly the same rows.
 */

/** Smallest `INTEGER` / `Int32` (attempt numbers, run attempts, exit codes). */
export const INT32_MIN = -2_147_483_648;
/** Largest `INTEGER` / `Int32`. */
export const INT32_MAX = 2_147_483_647;
/** Smallest `BIGINT` / `Int64` (nanosecond times). */
export const INT64_MIN = -(1n << 63n);
/** Largest `BIGINT` / `Int64`. */
export const INT64_MAX = (1n << 63n) - 1n;
/** Largest `UTINYINT` / `UInt8` (span kind and status code columns). */
export const UINT8_MAX = 255;

/** Largest OTLP `SpanKind` value (5, consumer). */
export const SPAN_KIND_MAX = 5;
/** Largest OTLP `Status.code` value (2, error). */
export const STATUS_CODE_MAX = 2;

/**
 * Default earliest accepted time of a span, event, lifecycle event or queued
 * time: 2000-01-01T00:00:00Z, in Unix ms. Anything earlier is a zero or
 * unit-confused time (seconds sent as nanoseconds), not a real job run.
 */
export const DEFAULT_MIN_TIME_UNIX_MILLIS = 946_684_800_000;

/**
 * Default allowance for times ahead of the receiver's clock, ms (1 day):
 * a clock skew larger than this is a broken clock, not a late job.
 */
export const DEFAULT_MAX_FUTURE_MILLIS = 86_400_000;

/**
 * Default longest accepted queue delay (queued time before the run span's
 * start), ms (30 days).
 */
export const DEFAULT_MAX_QUEUE_DELAY_MILLIS = 30 * 86_400_000;

/**
 * Latest time any store can hold at all, Unix ms: 2105-12-31, the end of
 * ClickHouse 18.16's `Date` range (spans are partitioned by day). The
 * configured range is capped at this.
 */
export const STORABLE_MAX_TIME_UNIX_MILLIS = Date.UTC(2105, 11, 31);

/**
 * Largest plausible resource figure (`max_rss_bytes`, CPU seconds, cost):
 * the largest integer a `DOUBLE` / `Float64` holds exactly (2^53 - 1).
 */
export const MAX_RESOURCE_VALUE = Number.MAX_SAFE_INTEGER;
