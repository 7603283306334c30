/**
 * Encoder of {@link SpanRecord}s into an `ExportTraceServiceRequest`
 * (field numbers as listed in `decode-proto.ts`).
 */
import type { AttributeValue, Attributes, SpanEventRecord, SpanRecord } from '../../../contracts/model.js';
import { hexToBytesInto } from './hex.js';
import { ProtoWriter } from './proto-writer.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from './rejections.js';

interface ScopeGroup {
  name: string;
  version: string;
  spans: SpanRecord[];
}

interface ResourceGroup {
  attributes: Attributes;
  scopes: Map<string, ScopeGroup>;
}

/** Encodes spans; see the public `encodeTraceRequestProto`. */
export function encodeTraceRequest(spans: readonly SpanRecord[]): Uint8Array {
  const groups = groupSpans(spans);
  const w = new ProtoWriter(Math.max(1024, spans.length * 256));
  for (const group of groups) {
    w.tag(1, 2); // ExportTraceServiceRequest.resource_spans
    const rs = w.begin();
    w.tag(1, 2); // ResourceSpans.resource
    const res = w.begin();
    writeAttributes(w, 1, group.attributes); // Resource.attributes
    w.end(res);
    for (const scope of group.scopes.values()) {
      w.tag(2, 2); // ResourceSpans.scope_spans
      const ss = w.begin();
      w.tag(1, 2); // ScopeSpans.scope
      const sc = w.begin();
      if (scope.name !== '') {
        w.tag(1, 2);
        w.string(scope.name);
      }
      if (scope.version !== '') {
        w.tag(2, 2);
        w.string(scope.version);
      }
      w.end(sc);
      for (const span of scope.spans) {
        w.tag(2, 2); // ScopeSpans.spans
        writeSpan(w, span);
      }
      w.end(ss);
    }
    w.end(rs);
  }
  return w.finish();
}

/**
 * Groups spans by resource, then scope, keeping first-seen order. Resources
 * are compared by content, so equal attribute sets held in distinct objects
 * share one ResourceSpans; the canonical key is computed once per object.
 */
function groupSpans(spans: readonly SpanRecord[]): ResourceGroup[] {
  const byObject = new Map<Attributes, ResourceGroup>();
  const byContent = new Map<string, ResourceGroup>();
  const groups: ResourceGroup[] = [];
  for (const span of spans) {
    let group = byObject.get(span.resourceAttributes);
    if (group === undefined) {
      const key = canonicalKey(span.resourceAttributes);
      group = byContent.get(key);
      if (group === undefined) {
        group = { attributes: span.resourceAttributes, scopes: new Map() };
        byContent.set(key, group);
        groups.push(group);
      }
      byObject.set(span.resourceAttributes, group);
    }
    const scopeKey = `${span.scopeName}\u0000${span.scopeVersion}`;
    let scope = group.scopes.get(scopeKey);
    if (scope === undefined) {
      scope = { name: span.scopeName, version: span.scopeVersion, spans: [] };
      group.scopes.set(scopeKey, scope);
    }
    scope.spans.push(span);
  }
  return groups;
}

/** A string equal for attribute values of equal content, whatever their key order. */
function canonicalKey(v: AttributeValue): string {
  if (v === null) return 'z';
  switch (typeof v) {
    case 'string':
      return `s${JSON.stringify(v)}`;
    case 'number':
      return Object.is(v, -0) ? 'n-0' : `n${v}`;
    case 'boolean':
      return v ? 't' : 'f';
  }
  if (Array.isArray(v)) return `[${v.map(canonicalKey).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalKey(v[k] ?? null)}`).join(',')}}`;
}

function writeId(w: ProtoWriter, fieldNumber: number, hex: string, bytes: number, what: string): void {
  w.tag(fieldNumber, 2);
  const at = w.reserveBytes(bytes);
  if (hexToBytesInto(hex, w.target(), at) !== bytes) {
    throw new TypeError(`cannot encode span ${what} ${JSON.stringify(hex)}: expected ${2 * bytes} hex characters`);
  }
}

function writeSpan(w: ProtoWriter, span: SpanRecord): void {
  const start = w.begin();
  writeId(w, 1, span.traceId, TRACE_ID_BYTES, 'traceId');
  writeId(w, 2, span.spanId, SPAN_ID_BYTES, 'spanId');
  if (span.traceState !== '') {
    w.tag(3, 2);
    w.string(span.traceState);
  }
  if (span.parentSpanId !== '') writeId(w, 4, span.parentSpanId, SPAN_ID_BYTES, 'parentSpanId');
  w.tag(5, 2);
  w.string(span.name);
  if (span.kind !== 0) {
    w.tag(6, 0);
    w.int64(span.kind);
  }
  w.tag(7, 1);
  w.fixed64(span.startTimeUnixNano);
  w.tag(8, 1);
  w.fixed64(span.endTimeUnixNano);
  writeAttributes(w, 9, span.attributes);
  for (const event of span.events) writeEvent(w, event);
  if (span.statusCode !== 0 || span.statusMessage !== '') {
    w.tag(15, 2);
    const status = w.begin();
    if (span.statusMessage !== '') {
      w.tag(2, 2);
      w.string(span.statusMessage);
    }
    if (span.statusCode !== 0) {
      w.tag(3, 0);
      w.int64(span.statusCode);
    }
    w.end(status);
  }
  w.end(start);
}

function writeEvent(w: ProtoWriter, event: SpanEventRecord): void {
  w.tag(11, 2); // Span.events
  const start = w.begin();
  w.tag(1, 1);
  w.fixed64(event.timeUnixNano);
  if (event.name !== '') {
    w.tag(2, 2);
    w.string(event.name);
  }
  writeAttributes(w, 3, event.attributes);
  w.end(start);
}

/** Writes each attribute as a KeyValue in field `fieldNumber`. */
function writeAttributes(w: ProtoWriter, fieldNumber: number, attributes: Attributes): void {
  for (const key of Object.keys(attributes)) {
    w.tag(fieldNumber, 2);
    const kv = w.begin();
    w.tag(1, 2);
    w.string(key);
    w.tag(2, 2);
    const value = w.begin();
    writeAnyValueFields(w, attributes[key] ?? null);
    w.end(value);
    w.end(kv);
  }
}

/**
 * Writes the fields of an AnyValue (the caller writes its tag and length).
 * Safe integers go to `int_value`; other numbers, including -0 and integers
 * beyond 2^53, to `double_value`, so that decoding gives back the same number.
 * `null` is an AnyValue with no field set.
 */
function writeAnyValueFields(w: ProtoWriter, v: AttributeValue): void {
  if (v === null) return;
  switch (typeof v) {
    case 'string':
      w.tag(1, 2);
      w.string(v);
      return;
    case 'boolean':
      w.tag(2, 0);
      w.uint32(v ? 1 : 0);
      return;
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        w.tag(3, 0);
        w.int64(v);
      } else {
        w.tag(4, 1);
        w.double(v);
      }
      return;
  }
  if (Array.isArray(v)) {
    w.tag(5, 2);
    const arr = w.begin();
    for (const item of v) {
      w.tag(1, 2);
      const itemStart = w.begin();
      writeAnyValueFields(w, item);
      w.end(itemStart);
    }
    w.end(arr);
    return;
  }
  w.tag(6, 2);
  const list = w.begin();
  writeAttributes(w, 1, v);
  w.end(list);
}
