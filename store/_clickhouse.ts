/**
 * ClickHouse SQL text helpers: literal quoting, the TabSeparated row encoding
 * of spans, the interpolated quantile expression and error classification.
 * Internal to the ClickHouse store; every value that reaches ClickHouse SQL
 * goes through {@link quoteString} or a finite-number helper in `_sql.ts`.
 */
import { StoreError, errorMessage } from '../contracts/index.js';
import type { LifecycleEventRecord, SpanRecord } from '../contracts/index.js';
import { toSpanRow } from './rows.js';
import { int32Column, int64Column } from './_common.js';
import { deriveSpan } from './derive/index.js';
import type { JobRow } from './derive/index.js';

const NANOS_PER_DAY = 86_400_000_000_000n;
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;
const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;
/** The last day a ClickHouse `Date` (UInt16 days since 1970) can hold. */
const MAX_DATE_DAYS = 65_535;

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

// Backslash, quote, C0 controls and DEL; lone UTF-16 surrogates are handled below.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\'\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A string as a ClickHouse single-quoted literal. Backslash and quote are
 * backslash-escaped; NUL, BS, FF, LF, CR and TAB get their named escapes;
 * every other C0 control and DEL becomes `\xHH`. Non-ASCII text is kept as
 * UTF-8 (the HTTP body's encoding). A lone UTF-16 surrogate (not valid
 * Unicode, so not encodable as UTF-8) becomes U+FFFD, exactly as Node's
 * UTF-8 encoder turns it into when the same string is inserted.
 *
 * Works on ClickHouse 18.16 and current releases (neither reads `\u`
 * escapes in literals, so none are produced).
 */
export function quoteString(value: string): string {
  return `'${value.replace(NEEDS_ESCAPE, (ch) => {
    const named = ESCAPES[ch];
    if (named !== undefined) return named;
    const code = ch.charCodeAt(0);
    if (code >= 0xd800) return '\uFFFD';
    return `\\x${code.toString(16).padStart(2, '0').toUpperCase()}`;
  })}'`;
}

/**
 * A database or table name as a backquoted identifier.
 * @throws {RangeError} unless it matches `[A-Za-z_][A-Za-z0-9_]*`
 */
export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new RangeError(`not a plain identifier: ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/**
 * Columns of `spans` in the order {@link encodeSpansTsv} writes them. The
 * same columns as the DuckDB store's `spans` table.
 */
export const SPAN_COLUMNS = [
  'day',
  'trace_id',
  'span_id',
  'parent_span_id',
  'name',
  'kind',
  'start_ns',
  'end_ns',
  'status_code',
  'status_message',
  'service_name',
  'job',
  'run_id',
  'span_type',
  'attempt',
  'outcome',
  'run_attempts',
  'error_type',
  'exit_code',
  'cost',
  'cpu_seconds',
  'max_rss_bytes',
  'queued_ns',
  'dead_lettered',
  'attributes',
  'resource_attributes',
  'events',
  'received_ns',
] as const;

// TabSeparated text escaping: backslash, TAB, LF and CR are the bytes that
// would end or corrupt a field; everything else travels raw (as UTF-8).
const TSV_SPECIAL = /[\\\t\n\r]/;
const TSV_SPECIAL_G = /[\\\t\n\r]/g;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function tsvString(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(TSV_SPECIAL_G, (ch) => TSV_ESCAPES[ch] as string) : s;
}

function nullableFloat(n: number | null): string {
  return n === null || !Number.isFinite(n) ? '\\N' : String(n);
}

const dayText = new Map<number, string>();

function dayString(startNs: bigint): string {
  let days = Number(startNs / NANOS_PER_DAY);
  if (startNs < 0n || days < 0) days = 0;
  if (days > MAX_DATE_DAYS) days = MAX_DATE_DAYS;
  let text = dayText.get(days);
  if (text === undefined) {
    text = new Date(days * 86_400_000).toISOString().slice(0, 10);
    if (dayText.size > 4096) dayText.clear();
    dayText.set(days, text);
  }
  return text;
}

/**
 * Encodes spans as `TabSeparated` rows of {@link SPAN_COLUMNS}, one line per
 * span. Values outside a column's range are clamped (times to Int64, attempt
 * numbers to Int32, days to the `Date` range) or, for the nullable exit code
 * and queued time, stored as NULL, so that no span can make an insert fail.
 */
export function encodeSpansTsv(spans: readonly SpanRecord[], receivedNs: bigint): string {
  const received = receivedNs.toString();
  let out = '';
  for (const span of spans) out += spanTsvLine(span, received);
  return out;
}

/**
 * {@link encodeSpansTsv} as UTF-8 chunks of `rowsPerChunk` rows, for a
 * streamed request body: small strings die young, where one big body string
 * would be copied twice and kept in the old generation (GC was ~45% of the
 * encoding time with one string per batch).
 */
export function encodeSpansTsvChunks(spans: readonly SpanRecord[], receivedNs: bigint, rowsPerChunk = 1_000): Buffer[] {
  return encodeSpansAndJobRows(spans, receivedNs, rowsPerChunk).spans;
}

/**
 * Derives every span once and encodes both tables' rows: `spans` as
 * {@link encodeSpansTsvChunks} does, and `job_rows` ({@link JOB_ROW_COLUMNS})
 * in chunks of the same number of spans. The job rows are also pushed to
 * `collect` when given (the rollups mark them).
 */
export function encodeSpansAndJobRows(
  spans: readonly SpanRecord[],
  receivedNs: bigint,
  rowsPerChunk = 1_000,
  collect?: JobRow[],
): { spans: Buffer[]; jobRows: Buffer[]; jobRowCount: number; unformed: Buffer[]; unformedCount: number } {
  const received = receivedNs.toString();
  const chunks: Buffer[] = [];
  const jobChunks: Buffer[] = [];
  let unformedText = '';
  let jobRowCount = 0;
  let unformedCount = 0;
  for (let i = 0; i < spans.length; i += rowsPerChunk) {
    let text = '';
    let jobText = '';
    const end = Math.min(spans.length, i + rowsPerChunk);
    for (let j = i; j < end; j++) {
      const span = spans[j] as SpanRecord;
      const d = deriveSpan(span);
      const derived = d.rows;
      text += spanTsvLine(span, received, derived);
      for (const row of derived) {
        jobText += jobRowTsvLine(row, received);
        jobRowCount++;
        collect?.push(row);
      }
      if (d.warning !== undefined) {
        unformedText += unformedTsvLine(span, d.profile ?? '', d.missing ?? '', received);
        unformedCount++;
      }
    }
    chunks.push(Buffer.from(text, 'utf8'));
    if (jobText !== '') jobChunks.push(Buffer.from(jobText, 'utf8'));
  }
  return { spans: chunks, jobRows: jobChunks, jobRowCount, unformed: unformedText === '' ? [] : [Buffer.from(unformedText, 'utf8')], unformedCount };
}

/** Columns of `unformed_spans` in the order {@link unformedTsvLine} writes them. */
export const UNFORMED_COLUMNS = ['profile', 'missing', 'trace_id', 'span_id', 'end_ns', 'received_ns'] as const;

/** One `unformed_spans` row: a span that looks like job telemetry but forms no run. */
export function unformedTsvLine(span: SpanRecord, profile: string, missing: string, received: string): string {
  const end = span.endTimeUnixNano < span.startTimeUnixNano ? span.startTimeUnixNano : span.endTimeUnixNano;
  return tsvString(profile) + '\t' + tsvString(missing) + '\t' + tsvString(span.traceId) + '\t' + tsvString(span.spanId) + '\t' + int64Column(end, 'end_ns').toString() + '\t' + received + '\n';
}

/** Columns of `job_rows` in the order {@link encodeJobRowsTsv} writes them. */
export const JOB_ROW_COLUMNS = [
  'profile',
  'job',
  'run_id',
  'role',
  'attempt',
  'start_ns',
  'end_ns',
  'outcome',
  'terminal',
  'run_attempts',
  'error_type',
  'exit_code',
  'message',
  'queued_ns',
  'cost',
  'cpu_seconds',
  'max_rss_bytes',
  'dead_lettered',
  'trace_id',
  'span_id',
  'dim_keys',
  'dim_values',
  'received_ns',
] as const;

// Dimension arrays are shared by the rows of one resource: encode each once.
const encodedArrays = new WeakMap<readonly string[], string>();

/** An `Array(String)` in TabSeparated: quoted elements (their escapes leave no TAB or newline). */
function tsvStringArray(values: readonly string[]): string {
  let out = encodedArrays.get(values);
  if (out !== undefined) return out;
  out = '[';
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : ',') + quoteString(values[i] as string);
  out += ']';
  encodedArrays.set(values, out);
  return out;
}

/** Encodes job rows as `TabSeparated` rows of {@link JOB_ROW_COLUMNS}, clamped like spans. */
export function encodeJobRowsTsv(rows: readonly JobRow[], receivedNs: bigint): string {
  const received = receivedNs.toString();
  let out = '';
  for (const r of rows) out += jobRowTsvLine(r, received);
  return out;
}

function jobRowTsvLine(r: JobRow, received: string): string {
  const exit = r.exitCode === null || r.exitCode > INT32_MAX || r.exitCode < INT32_MIN ? '\\N' : String(r.exitCode);
  const queued = r.queuedNs === null || r.queuedNs > INT64_MAX || r.queuedNs < INT64_MIN ? '\\N' : r.queuedNs.toString();
  return (
    r.profile +
    '\t' + tsvString(r.job) +
    '\t' + tsvString(r.runId) +
    '\t' + r.role +
    '\t' + int32Column(r.attempt, 'attempt') +
    '\t' + int64Column(r.startNs, 'start_ns').toString() +
    '\t' + int64Column(r.endNs, 'end_ns').toString() +
    '\t' + tsvString(r.outcome) +
    '\t' + (r.terminal ? '1' : '0') +
    '\t' + int32Column(r.runAttempts, 'run_attempts') +
    '\t' + tsvString(r.errorType) +
    '\t' + exit +
    '\t' + tsvString(r.message) +
    '\t' + queued +
    '\t' + nullableFloat(r.cost) +
    '\t' + nullableFloat(r.cpuSeconds) +
    '\t' + nullableFloat(r.maxRssBytes) +
    '\t' + (r.deadLettered ? '1' : '0') +
    '\t' + tsvString(r.traceId) +
    '\t' + tsvString(r.spanId) +
    '\t' + tsvStringArray(r.dimKeys) +
    '\t' + tsvStringArray(r.dimValues) +
    '\t' + received +
    '\n'
  );
}

function spanTsvLine(span: SpanRecord, received: string, derived: readonly JobRow[] = deriveSpan(span).rows): string {
  const r = toSpanRow(span, derived[0]);
  const exit = r.exitCode === null || r.exitCode > INT32_MAX || r.exitCode < INT32_MIN ? '\\N' : String(r.exitCode);
  const queued = r.queuedNs === null || r.queuedNs > INT64_MAX || r.queuedNs < INT64_MIN ? '\\N' : r.queuedNs.toString();
  return (
    dayString(r.startNs) +
    '\t' + tsvString(r.traceId) +
    '\t' + tsvString(r.spanId) +
    '\t' + tsvString(r.parentSpanId) +
    '\t' + tsvString(r.name) +
    '\t' + String(r.kind & 0xff) +
    '\t' + int64Column(r.startNs, 'start_ns').toString() +
    '\t' + int64Column(r.endNs, 'end_ns').toString() +
    '\t' + String(r.statusCode & 0xff) +
    '\t' + tsvString(r.statusMessage) +
    '\t' + tsvString(r.serviceName) +
    '\t' + tsvString(r.job) +
    '\t' + tsvString(r.runId) +
    '\t' + r.spanType +
    '\t' + int32Column(r.attempt, 'attempt') +
    '\t' + tsvString(r.outcome) +
    '\t' + int32Column(r.runAttempts, 'run_attempts') +
    '\t' + tsvString(r.errorType) +
    '\t' + exit +
    '\t' + nullableFloat(r.cost) +
    '\t' + nullableFloat(r.cpuSeconds) +
    '\t' + nullableFloat(r.maxRssBytes) +
    '\t' + queued +
    '\t' + (r.deadLettered ? '1' : '0') +
    '\t' + tsvString(r.attributes) +
    '\t' + tsvString(r.resourceAttributes) +
    '\t' + tsvString(r.events) +
    '\t' + received +
    '\n'
  );
}

/**
 * SQL for the `q` quantile of a sorted `Array(Float64)` with linear
 * interpolation between closest ranks: the definition of DuckDB's
 * `quantile_cont` (and of `quantileExactInclusive`, which ClickHouse 18.16
 * lacks): `h = (n - 1) * q`, `a[floor(h)] + (h - floor(h)) * (a[floor(h) + 1] - a[floor(h)])`
 * with 0-based `a`. NULL for an empty array.
 *
 * @param sorted an expression or alias of an ascending `Array(Float64)`
 * @param q a quantile in [0, 1]
 * @throws {RangeError} when `q` is outside [0, 1]
 */
export function interpolatedQuantileSql(sorted: string, q: number): string {
  if (!Number.isFinite(q) || q < 0 || q > 1) throw new RangeError(`not a quantile: ${q}`);
  const n = `length(${sorted})`;
  // toInt64 before subtracting: length() is UInt64 and 0 - 1 would wrap.
  const h = `(greatest(toInt64(${n}) - 1, 0) * ${String(q)})`;
  const lo = `toUInt64(floor(${h}))`;
  const a = `arrayElement(${sorted}, ${lo} + 1)`;
  const b = `arrayElement(${sorted}, least(${lo} + 2, ${n}))`;
  return `if(${n} = 0, NULL, ${a} + (${h} - ${lo}) * (${b} - ${a}))`;
}

/** Error codes of ClickHouse servers that mean "try again later", not "your request is wrong". */
const TRANSIENT_CODES = new Set([
  159, // TIMEOUT_EXCEEDED
  164, // READONLY (e.g. a replica lost ZooKeeper)
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS
  279, // ALL_CONNECTION_TRIES_FAILED
  319, // UNKNOWN_STATUS_OF_INSERT
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
]);

/** Codes of failed logins: 192 UNKNOWN_USER, 193 WRONG_PASSWORD, 194 REQUIRED_PASSWORD, 516 AUTHENTICATION_FAILED. */
const AUTH_CODES = new Set([192, 193, 194, 516]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** The ClickHouse server error code in an error's message (`Code: 62, ...` or `Code: 62. DB::Exception`), if any. */
export function clickHouseErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const m = /\bCode: (\d+)[.,]/.exec(errorMessage(err));
  return m ? Number(m[1]) : undefined;
}

/** True when the error is a failure to reach the server at all (refused, reset, DNS, timeout). */
export function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    const msg = errorMessage(e);
    if (/^Timeout error\b|socket hang up|ECONNREFUSED|ECONNRESET|other side closed/i.test(msg)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Wraps an error of the ClickHouse client as a {@link StoreError}:
 * `JOBSLO_ERR_STORE_UNREACHABLE` when the server cannot be reached or says
 * "try later" (callers may retry), `JOBSLO_ERR_STORE_URL` when the login is
 * refused, else `JOBSLO_ERR_STORE_QUERY`.
 *
 * @param where the redacted URL and database, named in the message
 * @param doing what was being done, e.g. `insert of 500 spans`
 */
export function toStoreError(err: unknown, where: string, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  // Server messages can quote whole rows of a failed insert: keep them short.
  const full = errorMessage(err).trim();
  const msg = full.length > 600 ? `${full.slice(0, 600)}...` : full;
  if (isNetworkError(err)) {
    return new StoreError(
      'JOBSLO_ERR_STORE_UNREACHABLE',
      `cannot reach ClickHouse at ${where} (${doing}): ${msg}. ` +
        'Check that clickhouse-server is running and that the URL names its HTTP interface (port 8123 by default, not the native port 9000); ' +
        'for the development services run "bash scripts/services.sh up".',
      { cause: err },
    );
  }
  const code = clickHouseErrorCode(err);
  if (code !== undefined && AUTH_CODES.has(code)) {
    return new StoreError('JOBSLO_ERR_STORE_URL', `ClickHouse at ${where} refused the login (${doing}): ${msg}. Check the user and password in --store.`, {
      cause: err,
    });
  }
  if (code !== undefined && TRANSIENT_CODES.has(code)) {
    return new StoreError('JOBSLO_ERR_STORE_UNREACHABLE', `ClickHouse at ${where} is temporarily unable to serve (${doing}): ${msg}`, { cause: err });
  }
  return new StoreError('JOBSLO_ERR_STORE_QUERY', `ClickHouse ${doing} failed at ${where}: ${msg}`, { cause: err });
}

/** Columns of `lifecycle_events`, in the order {@link encodeLifecycleTsv} writes them. */
export const LIFECYCLE_COLUMNS = ['day', 'event_id', 'type', 'job', 'run_id', 'time_ns', 'attempt', 'attributes', 'received_ns'] as const;

/** Encodes lifecycle events as `TabSeparated` rows of {@link LIFECYCLE_COLUMNS}. */
export function encodeLifecycleTsv(events: readonly LifecycleEventRecord[], receivedNs: bigint): string {
  const received = receivedNs.toString();
  let out = '';
  for (const e of events) {
    const attempt = e.attempt === undefined || e.attempt > 2_147_483_647 ? '\\N' : String(e.attempt);
    out +=
      dayString(e.timeUnixNano) +
      '\t' + tsvString(e.eventId) +
      '\t' + tsvString(e.type) +
      '\t' + tsvString(e.job) +
      '\t' + tsvString(e.runId) +
      '\t' + int64Column(e.timeUnixNano, 'time_ns').toString() +
      '\t' + attempt +
      '\t' + tsvString(JSON.stringify(e.attributes)) +
      '\t' + received +
      '\n';
  }
  return out;
}
