import type { AttributeValue, Attributes, SpanRecord } from '../../../contracts/model.js';

/** Result of decoding one OTLP trace export request. */
export interface DecodedTraces {
  /** Accepted spans, in request order. */
  spans: SpanRecord[];
  /** Spans dropped because their ids were invalid (see `rejectionReason`). */
  rejectedSpans: number;
  /** One-line summary of why spans were rejected, e.g. `2 spans rejected: invalid span id length`; `''` when none were. */
  rejectionReason: string;
}

/**
 * Deepest AnyValue nesting (arrays and kvlists inside each other) accepted;
 * deeper input is rejected with a DecodeError rather than risking the stack.
 */
export const MAX_ANY_VALUE_DEPTH = 32;

/**
 * `into[key] = value`, except that a `__proto__` key becomes an own property
 * instead of replacing the object's prototype.
 */
export function setAttribute(into: Attributes, key: string, value: AttributeValue): void {
  if (key === '__proto__') {
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    into[key] = value;
  }
}
