/**
 * The in-memory shape of received telemetry, independent of wire format
 * (OTLP protobuf or JSON) and of store (DuckDB or ClickHouse).
 */

/** An OTLP AnyValue, decoded. int64 values outside the safe integer range are kept as decimal strings. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

export type Attributes = Record<string, AttributeValue>;

/** One OTLP span event. */
export interface SpanEventRecord {
  name: string;
  /** Unix epoch nanoseconds. */
  timeUnixNano: bigint;
  attributes: Attributes;
}

/** One OTLP span, flattened with its resource and scope. */
export interface SpanRecord {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  /** 16 lowercase hex characters, or `''` for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP `SpanKind` enum value (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
  kind: number;
  /** Unix epoch nanoseconds. */
  startTimeUnixNano: bigint;
  /** Unix epoch nanoseconds. */
  endTimeUnixNano: bigint;
  /** OTLP `Status.code` (0 unset, 1 ok, 2 error). */
  statusCode: number;
  statusMessage: string;
  attributes: Attributes;
  events: SpanEventRecord[];
  resourceAttributes: Attributes;
  scopeName: string;
  scopeVersion: string;
}

/** Span status codes from OTLP. */
export const StatusCode = { Unset: 0, Ok: 1, Error: 2 } as const;
