/**
 * Re-deriving job rows from stored spans, for the migration that adds the
 * `job_rows` table to a store that already holds spans.
 */
import type { Attributes, SpanEventRecord, SpanRecord } from '../contracts/index.js';

/** The stored columns of a span that derivation reads. */
export interface StoredSpan {
  trace_id: unknown;
  span_id: unknown;
  parent_span_id: unknown;
  name: unknown;
  kind: unknown;
  start_ns: unknown;
  end_ns: unknown;
  status_code: unknown;
  status_message: unknown;
  attributes: unknown;
  resource_attributes: unknown;
  events: unknown;
}

/** Columns to select for {@link spanFromStored}. */
export const STORED_SPAN_COLUMNS = 'trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, status_message, attributes, resource_attributes, events';

function json<T>(v: unknown, fallback: T): T {
  try {
    return (JSON.parse(String(v)) as T | null) ?? fallback;
  } catch {
    return fallback;
  }
}

/** A span as it was received, from its stored columns (trace state and scope are not stored and come back empty). */
export function spanFromStored(r: StoredSpan): SpanRecord {
  const events = json<{ name?: unknown; time_unix_nano?: unknown; attributes?: Attributes }[]>(r.events, []);
  return {
    traceId: String(r.trace_id),
    spanId: String(r.span_id),
    parentSpanId: String(r.parent_span_id),
    traceState: '',
    name: String(r.name),
    kind: Number(r.kind),
    startTimeUnixNano: BigInt(String(r.start_ns)),
    endTimeUnixNano: BigInt(String(r.end_ns)),
    statusCode: Number(r.status_code),
    statusMessage: String(r.status_message),
    attributes: json<Attributes>(r.attributes, {}),
    resourceAttributes: json<Attributes>(r.resource_attributes, {}),
    events: events.map(
      (e): SpanEventRecord => ({
        name: String(e.name ?? ''),
        timeUnixNano: /^\d+$/.test(String(e.time_unix_nano)) ? BigInt(String(e.time_unix_nano)) : 0n,
        attributes: e.attributes ?? {},
      }),
    ),
    scopeName: '',
    scopeVersion: '',
  };
}
