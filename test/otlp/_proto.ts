/**
 * A deliberately naive protobuf builder for tests, independent of the codec's
 * own writer, so decoder tests do not trust the code they check.
 */

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Unsigned varint of a non-negative bigint or number; negative values are taken as 64-bit two's complement. */
export function varint(value: bigint | number): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    bytes.push(b);
  } while (v !== 0n);
  return Uint8Array.from(bytes);
}

export const tag = (field: number, wireType: number): Uint8Array => varint(field * 8 + wireType);

/** Length-delimited field (wire type 2) holding the concatenated parts. */
export function msg(field: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(...parts);
  return concat(tag(field, 2), varint(body.length), body);
}

export const str = (field: number, s: string): Uint8Array => msg(field, new TextEncoder().encode(s));
export const bytes = (field: number, b: Uint8Array | number[]): Uint8Array => msg(field, Uint8Array.from(b));
export const vint = (field: number, v: bigint | number): Uint8Array => concat(tag(field, 0), varint(v));

export function fixed64(field: number, v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return concat(tag(field, 1), b);
}

export function fixed32(field: number, v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return concat(tag(field, 5), b);
}

export function double(field: number, v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return concat(tag(field, 1), b);
}

export const hexBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

/** KeyValue in field `field` with an AnyValue made of `valueFields`. */
export const kv = (field: number, key: string, ...valueFields: Uint8Array[]): Uint8Array =>
  msg(field, str(1, key), msg(2, ...valueFields));

export interface SpanSpec {
  traceId?: Uint8Array | number[];
  spanId?: Uint8Array | number[];
  parentSpanId?: Uint8Array | number[];
  name?: string;
  extra?: Uint8Array[];
}

export const TRACE_ID = '0102030405060708090a0b0c0d0e0f10';
export const SPAN_ID = 'a1a2a3a4a5a6a7a8';
export const PARENT_ID = 'b1b2b3b4b5b6b7b8';

/** A Span message (field 2 of ScopeSpans) with valid ids unless overridden. */
export function span(spec: SpanSpec = {}): Uint8Array {
  const parts = [
    bytes(1, spec.traceId ?? hexBytes(TRACE_ID)),
    bytes(2, spec.spanId ?? hexBytes(SPAN_ID)),
  ];
  if (spec.parentSpanId !== undefined) parts.push(bytes(4, spec.parentSpanId));
  parts.push(str(5, spec.name ?? 'op'));
  parts.push(...(spec.extra ?? []));
  return msg(2, ...parts);
}

/** A whole ExportTraceServiceRequest with one resource and one scope holding `spans`. */
export function request(spans: Uint8Array[], resourceAttrs: Uint8Array[] = []): Uint8Array {
  return msg(1, msg(1, ...resourceAttrs), msg(2, msg(1, str(1, 'scope'), str(2, '1.0')), ...spans));
}
