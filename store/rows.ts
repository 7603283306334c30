import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME, SpanType } from '../contracts/index.js';
import type { SpanRecord } from '../contracts/index.js';
import { deriveSpan, str } from './derive/index.js';
import type { JobRow } from './derive/index.js';

/**
 * One stored span: the OTLP span plus the job columns extracted from its
 * attributes at ingest, so that queries never parse JSON on the hot path.
 * Both stores write exactly these columns.
 */
export interface SpanRow {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  statusCode: number;
  statusMessage: string;
  serviceName: string;
  /** Job name, `''` when the span is not part of a job run. */
  job: string;
  runId: string;
  /** `run`, `attempt`, or `''` for any other span. */
  spanType: string;
  /** Attempt number on attempt spans, else 0. */
  attempt: number;
  /** Run outcome on run spans, attempt outcome on attempt spans, else `''`. */
  outcome: string;
  /** Attempts the run made as the run span says, else 0. */
  runAttempts: number;
  errorType: string;
  exitCode: number | null;
  cost: number | null;
  cpuSeconds: number | null;
  maxRssBytes: number | null;
  /** When the run was queued, Unix ns, or null. */
  queuedNs: bigint | null;
  deadLettered: boolean;
  /** Span attributes as JSON text. */
  attributes: string;
  resourceAttributes: string;
  /** Span events as JSON text: `[{"name","time_unix_nano","attributes"}]`. */
  events: string;
}

/**
 * The span row of a span. Its job columns (`job`, `run_id`, `span_type`,
 * `attempt`, `outcome`, ...) are copied from the first job row the span was
 * derived into (see `store/derive`), for ad-hoc queries; the stores count runs
 * from the job rows alone.
 */
export function toSpanRow(span: SpanRecord, row: JobRow | undefined = deriveSpan(span).rows[0]): SpanRow {
  const spanType = row === undefined ? '' : row.role === 'attempt' ? SpanType.Attempt : row.role === 'run' || row.role === 'run_attempt' ? SpanType.Run : '';
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    startNs: span.startTimeUnixNano,
    endNs: span.endTimeUnixNano < span.startTimeUnixNano ? span.startTimeUnixNano : span.endTimeUnixNano,
    statusCode: span.statusCode,
    statusMessage: span.statusMessage,
    serviceName: str(span.resourceAttributes[ATTR_SERVICE_NAME]),
    job: row?.job ?? '',
    runId: row?.runId ?? '',
    spanType,
    attempt: spanType === SpanType.Attempt ? (row?.attempt ?? 0) : 0,
    outcome: row?.outcome ?? '',
    runAttempts: row?.runAttempts ?? 0,
    errorType: row?.errorType ?? str(span.attributes[ATTR_ERROR_TYPE]),
    exitCode: row?.exitCode ?? null,
    cost: row?.cost ?? null,
    cpuSeconds: row?.cpuSeconds ?? null,
    maxRssBytes: row?.maxRssBytes ?? null,
    queuedNs: row?.queuedNs ?? null,
    deadLettered: row?.deadLettered ?? false,
    attributes: JSON.stringify(span.attributes),
    resourceAttributes: resourceJson(span),
    events:
      span.events.length === 0
        ? '[]'
        : JSON.stringify(span.events.map((e) => ({ name: e.name, time_unix_nano: e.timeUnixNano.toString(), attributes: e.attributes }))),
  };
}

// A resource's attributes object is shared by all its spans (one per
// ResourceSpans when decoded): serialize it once per object.
const resourceJsonCache = new WeakMap<object, string>();

function resourceJson(span: SpanRecord): string {
  let text = resourceJsonCache.get(span.resourceAttributes);
  if (text === undefined) {
    text = JSON.stringify(span.resourceAttributes);
    resourceJsonCache.set(span.resourceAttributes, text);
  }
  return text;
}
