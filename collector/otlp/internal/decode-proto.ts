/**
 * Decoder of `ExportTraceServiceRequest` protobuf bytes straight into
 * {@link SpanRecord}s, without an intermediate message tree.
 *
 * Field numbers (opentelemetry-proto v1):
 * - ExportTraceServiceRequest: 1 resource_spans
 * - ResourceSpans: 1 resource, 2 scope_spans, 3 schema_url
 * - Resource: 1 attributes, 2 dropped_attributes_count
 * - ScopeSpans: 1 scope, 2 spans, 3 schema_url
 * - InstrumentationScope: 1 name, 2 version, 3 attributes, 4 dropped_attributes_count
 * - Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id, 5 name, 6 kind,
 *   7 start_time_unix_nano (fixed64), 8 end_time_unix_nano (fixed64), 9 attributes,
 *   10 dropped_attributes_count, 11 events, 12 dropped_events_count, 13 links,
 *   14 dropped_links_count, 15 status, 16 flags (fixed32)
 * - Span.Event: 1 time_unix_nano (fixed64), 2 name, 3 attributes, 4 dropped_attributes_count
 * - Status: 2 message, 3 code
 * - KeyValue: 1 key, 2 value; KeyValueList / ArrayValue: 1 values
 * - AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 array, 6 kvlist, 7 bytes
 *
 * Cases below are whole tags, `(field << 3) | wireType`.
 */
import type { AttributeValue, Attributes, SpanEventRecord, SpanRecord } from '../../../contracts/model.js';
import { bytesToHex } from './hex.js';
import { ProtoReader } from './proto-reader.js';
import {
  RejectionTally,
  REASON_SPAN_ID_ZERO,
  REASON_TRACE_ID_ZERO,
  SPAN_ID_BYTES,
  idLengthProblem,
} from './rejections.js';
import { MAX_ANY_VALUE_DEPTH, setAttribute, type DecodedTraces } from './types.js';

/** Decodes an `ExportTraceServiceRequest`; see the public `decodeTraceRequestProto`. */
export function decodeTraceRequest(bytes: Uint8Array): DecodedTraces {
  const r = new ProtoReader(bytes);
  const spans: SpanRecord[] = [];
  const tally = new RejectionTally();
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag === 0x0a) decodeResourceSpans(r, spans, tally);
    else r.skip(tag);
  }
  return { spans, rejectedSpans: tally.count, rejectionReason: tally.summary() };
}

function decodeResourceSpans(r: ProtoReader, out: SpanRecord[], tally: RejectionTally): void {
  const outer = r.enter();
  // One object shared by every span of this resource. It is filled in place,
  // so spans decoded before a (legal but unusual) trailing `resource` field
  // still see its attributes.
  const resourceAttributes: Attributes = {};
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
        decodeResource(r, resourceAttributes);
        break;
      case 0x12:
        decodeScopeSpans(r, out, tally, resourceAttributes);
        break;
      default:
        r.skip(tag);
    }
  }
  r.leave(outer);
}

function decodeResource(r: ProtoReader, attributes: Attributes): void {
  const outer = r.enter();
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag === 0x0a) decodeKeyValue(r, attributes, 0);
    else r.skip(tag);
  }
  r.leave(outer);
}

function decodeScopeSpans(r: ProtoReader, out: SpanRecord[], tally: RejectionTally, resourceAttributes: Attributes): void {
  const outer = r.enter();
  const first = out.length;
  let scopeName = '';
  let scopeVersion = '';
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: {
        // InstrumentationScope, inlined: only name and version are kept.
        // Fields absent from a repeated occurrence keep their value (protobuf merge).
        const scopeOuter = r.enter();
        while (r.pos < r.limit) {
          const t = r.tag();
          if (t === 0x0a) scopeName = r.cachedString();
          else if (t === 0x12) scopeVersion = r.cachedString();
          else r.skip(t);
        }
        r.leave(scopeOuter);
        // Normally the scope precedes the spans and this loop is empty.
        for (let i = first; i < out.length; i++) {
          const span = out[i]!;
          span.scopeName = scopeName;
          span.scopeVersion = scopeVersion;
        }
        break;
      }
      case 0x12:
        decodeSpan(r, out, tally, resourceAttributes, scopeName, scopeVersion);
        break;
      default:
        r.skip(tag);
    }
  }
  r.leave(outer);
}

function isZero(buf: Uint8Array, start: number, len: number): boolean {
  for (let i = start; i < start + len; i++) {
    if (buf[i] !== 0) return false;
  }
  return true;
}

function decodeSpan(
  r: ProtoReader,
  out: SpanRecord[],
  tally: RejectionTally,
  resourceAttributes: Attributes,
  scopeName: string,
  scopeVersion: string,
): void {
  const outer = r.enter();
  // Ids are kept as byte ranges and only turned into hex once validated.
  let traceIdStart = 0;
  let traceIdLen = 0;
  let spanIdStart = 0;
  let spanIdLen = 0;
  let parentStart = 0;
  let parentLen = 0;
  let traceState = '';
  let name = '';
  let kind = 0;
  let startTimeUnixNano = 0n;
  let endTimeUnixNano = 0n;
  let statusCode = 0;
  let statusMessage = '';
  const attributes: Attributes = {};
  const events: SpanEventRecord[] = [];
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: {
        const end = r.lengthEnd();
        traceIdStart = r.pos;
        traceIdLen = end - r.pos;
        r.pos = end;
        break;
      }
      case 0x12: {
        const end = r.lengthEnd();
        spanIdStart = r.pos;
        spanIdLen = end - r.pos;
        r.pos = end;
        break;
      }
      case 0x1a:
        traceState = r.string();
        break;
      case 0x22: {
        const end = r.lengthEnd();
        parentStart = r.pos;
        parentLen = end - r.pos;
        r.pos = end;
        break;
      }
      case 0x2a:
        name = r.cachedString();
        break;
      case 0x30:
        kind = r.int32();
        break;
      case 0x39:
        startTimeUnixNano = r.fixed64();
        break;
      case 0x41:
        endTimeUnixNano = r.fixed64();
        break;
      case 0x4a:
        decodeKeyValue(r, attributes, 0);
        break;
      case 0x5a:
        events.push(decodeEvent(r));
        break;
      case 0x7a: {
        const statusOuter = r.enter();
        while (r.pos < r.limit) {
          const t = r.tag();
          if (t === 0x12) statusMessage = r.string();
          else if (t === 0x18) statusCode = r.int32();
          else r.skip(t);
        }
        r.leave(statusOuter);
        break;
      }
      default:
        // Links (13), dropped counts (10, 12, 14), flags (16, fixed32) and unknown fields.
        r.skip(tag);
    }
  }
  r.leave(outer);

  const buf = r.buf;
  let problem = idLengthProblem(traceIdLen, spanIdLen, parentLen);
  if (problem === '') {
    if (isZero(buf, traceIdStart, traceIdLen)) problem = REASON_TRACE_ID_ZERO;
    else if (isZero(buf, spanIdStart, spanIdLen)) problem = REASON_SPAN_ID_ZERO;
  }
  if (problem !== '') {
    tally.add(problem);
    return;
  }
  const nodeBuf = r.nodeBuf;
  out.push({
    traceId: bytesToHex(nodeBuf, traceIdStart, traceIdLen),
    spanId: bytesToHex(nodeBuf, spanIdStart, spanIdLen),
    // An all-zero parent is the invalid span id, i.e. no parent.
    parentSpanId:
      parentLen === SPAN_ID_BYTES && !isZero(buf, parentStart, parentLen) ? bytesToHex(nodeBuf, parentStart, parentLen) : '',
    traceState,
    name,
    kind,
    startTimeUnixNano,
    endTimeUnixNano,
    statusCode,
    statusMessage,
    attributes,
    events,
    resourceAttributes,
    scopeName,
    scopeVersion,
  });
}

function decodeEvent(r: ProtoReader): SpanEventRecord {
  const outer = r.enter();
  let timeUnixNano = 0n;
  let name = '';
  const attributes: Attributes = {};
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 0x09:
        timeUnixNano = r.fixed64();
        break;
      case 0x12:
        name = r.cachedString();
        break;
      case 0x1a:
        decodeKeyValue(r, attributes, 0);
        break;
      default:
        r.skip(tag);
    }
  }
  r.leave(outer);
  return { name, timeUnixNano, attributes };
}

/** Decodes one KeyValue message into `into[key]`. `depth` counts the AnyValue nesting above it. */
function decodeKeyValue(r: ProtoReader, into: Attributes, depth: number): void {
  const outer = r.enter();
  let key = '';
  let value: AttributeValue = null;
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag === 0x0a) key = r.cachedString();
    else if (tag === 0x12) value = decodeAnyValue(r, depth + 1);
    else r.skip(tag);
  }
  r.leave(outer);
  setAttribute(into, key, value);
}

function decodeAnyValue(r: ProtoReader, depth: number): AttributeValue {
  if (depth > MAX_ANY_VALUE_DEPTH) r.fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`, r.pos);
  const outer = r.enter();
  // An AnyValue with no field set is an empty value, i.e. null.
  let value: AttributeValue = null;
  while (r.pos < r.limit) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
        value = r.cachedString();
        break;
      case 0x10:
        value = r.bool();
        break;
      case 0x18:
        value = r.int64();
        break;
      case 0x21:
        value = r.double();
        break;
      case 0x2a: {
        const arrayOuter = r.enter();
        const items: AttributeValue[] = [];
        while (r.pos < r.limit) {
          const t = r.tag();
          if (t === 0x0a) items.push(decodeAnyValue(r, depth + 1));
          else r.skip(t);
        }
        r.leave(arrayOuter);
        value = items;
        break;
      }
      case 0x32: {
        const listOuter = r.enter();
        const obj: Attributes = {};
        while (r.pos < r.limit) {
          const t = r.tag();
          if (t === 0x0a) decodeKeyValue(r, obj, depth);
          else r.skip(t);
        }
        r.leave(listOuter);
        value = obj;
        break;
      }
      case 0x3a:
        value = r.bytesBase64();
        break;
      default:
        r.skip(tag);
    }
  }
  r.leave(outer);
  return value;
}
