/**
 * Decoder of OTLP/JSON `ExportTraceServiceRequest` text into {@link SpanRecord}s.
 *
 * Follows the OTLP JSON encoding rules: lowerCamelCase keys (snake_case keys
 * are unknown fields and ignored, as are all unknown fields), trace and span
 * ids as case-insensitive hex, enums as integers (names are accepted too),
 * 64-bit integers as JSON strings or numbers, bytes as base64, `null` as the
 * field's default.
 */
import type { AttributeValue, Attributes, SpanEventRecord, SpanRecord } from '../../../contracts/model.js';
import { DecodeError } from '../../../contracts/errors.js';
import { isAllZeroHex, isHex } from './hex.js';
import {
  RejectionTally,
  REASON_SPAN_ID_ZERO,
  REASON_TRACE_ID_ZERO,
  SPAN_ID_BYTES,
  idLengthProblem,
} from './rejections.js';
import { MAX_ANY_VALUE_DEPTH, setAttribute, type DecodedTraces } from './types.js';

type JsonObject = Record<string, unknown>;

const SPAN_KIND_NAMES: Readonly<Record<string, number>> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};

const STATUS_CODE_NAMES: Readonly<Record<string, number>> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const DIGITS = /^\d+$/;
const SIGNED_DIGITS = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/** Decodes OTLP/JSON text; see the public `decodeTraceRequestJson`. */
export function decodeTraceRequest(text: string): DecodedTraces {
  if (typeof text !== 'string') throw new DecodeError(`invalid OTLP JSON: expected a string, got ${typeName(text)}`);
  let root: unknown;
  try {
    // A leading byte order mark is legal in a JSON document but not for JSON.parse.
    root = JSON.parse(quoteLongIntegers(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
  } catch (err) {
    throw new DecodeError(`invalid OTLP JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const d = new JsonTraceDecoder();
  d.request(root);
  return { spans: d.spans, rejectedSpans: d.tally.count, rejectionReason: d.tally.summary() };
}

/** Integers of this many digits or more may not be exact as doubles (2^53 has 16 digits). */
const LONG_INTEGER = /\d{16}/;

/**
 * Rewrites every JSON number token that is an integer of 16 or more digits
 * into a JSON string of the same digits, so that `JSON.parse` keeps it
 * exact: proto3 JSON allows 64-bit integers (times, int attributes) as
 * numbers, and a double holds only 53 bits (1795996799999999999 would become
 * 1796000000000000000). Every field that takes such a number also takes its
 * decimal string. Text inside strings is left alone; numbers with a fraction
 * or exponent are left to `JSON.parse`.
 */
export function quoteLongIntegers(text: string): string {
  if (!LONG_INTEGER.test(text)) return text;
  let out = '';
  let copied = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, honouring backslash escapes.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      if (c === 0x2d) i++;
      while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      const next = i < n ? text.charCodeAt(i) : 0;
      const digits = i - start - (c === 0x2d ? 1 : 0);
      // '.', 'e', 'E': not an integer token.
      // A leading zero is invalid JSON: left for JSON.parse to refuse.
      const leadingZero = text.charCodeAt(c === 0x2d ? start + 1 : start) === 0x30;
      if (next === 0x2e || next === 0x65 || next === 0x45) {
        // A fraction or exponent: skip the rest of the token, it is left to JSON.parse.
        while (i < n && /[0-9.eE+-]/.test(text[i] as string)) i++;
        continue;
      }
      if (digits >= 16 && !leadingZero) {
        out += `${text.slice(copied, start)}"${text.slice(start, i)}"`;
        copied = i;
      }
      continue;
    }
    i++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class JsonTraceDecoder {
  readonly spans: SpanRecord[] = [];
  readonly tally = new RejectionTally();
  /** Path of the value being decoded; only rendered into a string when an error is thrown. */
  private readonly path: (string | number)[] = [];

  private fail(problem: string, key?: string): never {
    let where = '';
    for (const seg of this.path) where += typeof seg === 'number' ? `[${seg}]` : where === '' ? seg : `.${seg}`;
    if (key !== undefined) where += where === '' ? key : `.${key}`;
    throw new DecodeError(`invalid OTLP JSON at ${where === '' ? '(root)' : where}: ${problem}`);
  }

  /** `o[key]` as an object, or undefined when absent or null. */
  private objectField(o: JsonObject, key: string): JsonObject | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) this.fail(`expected an object, got ${typeName(v)}`, key);
    return v;
  }

  /** `o[key]` as an array, or an empty array when absent or null. */
  private arrayField(o: JsonObject, key: string): readonly unknown[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(`expected an array, got ${typeName(v)}`, key);
    return v;
  }

  /** `o[key]` as a string, or `''` when absent or null. */
  private stringField(o: JsonObject, key: string): string {
    const v = o[key];
    if (typeof v === 'string') return v;
    if (v === undefined || v === null) return '';
    this.fail(`expected a string, got ${typeName(v)}`, key);
  }

  /** `o[key]` as a lowercase hex id, or `''` when absent, null or empty. */
  private hexField(o: JsonObject, key: string): string {
    const v = this.stringField(o, key);
    if (!isHex(v)) this.fail(`expected a hex string, got ${JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v)}`, key);
    return v.toLowerCase();
  }

  /** `o[key]` as an unsigned 64-bit integer (JSON string or number), `0n` when absent. */
  private uint64Field(o: JsonObject, key: string): bigint {
    const v = o[key];
    if (typeof v === 'string') {
      if (DIGITS.test(v)) {
        const n = BigInt(v);
        if (n <= UINT64_MAX) return n;
      }
      this.fail(`expected an unsigned 64-bit integer, got ${JSON.stringify(v)}`, key);
    }
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 0 && v < 2 ** 64) return BigInt(v);
      this.fail(`expected an unsigned 64-bit integer, got ${v}`, key);
    }
    if (v === undefined || v === null) return 0n;
    this.fail(`expected an unsigned 64-bit integer, got ${typeName(v)}`, key);
  }

  /** `o[key]` as an enum value: an integer or one of `names`, `0` when absent. */
  private enumField(o: JsonObject, key: string, names: Readonly<Record<string, number>>): number {
    const v = o[key];
    if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return v;
    if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(names, v)) return names[v] ?? 0;
    if (v === undefined || v === null) return 0;
    this.fail(`expected an enum integer, got ${JSON.stringify(v)}`, key);
  }

  request(root: unknown): void {
    if (!isObject(root)) this.fail(`expected an ExportTraceServiceRequest object, got ${typeName(root)}`);
    const resourceSpans = this.arrayField(root, 'resourceSpans');
    this.path.push('resourceSpans', 0);
    for (let i = 0; i < resourceSpans.length; i++) {
      this.path[1] = i;
      this.resourceSpans(resourceSpans[i]);
    }
    this.path.length = 0;
  }

  private resourceSpans(rs: unknown): void {
    if (!isObject(rs)) this.fail(`expected a ResourceSpans object, got ${typeName(rs)}`);
    const resourceAttributes: Attributes = {};
    const resource = this.objectField(rs, 'resource');
    if (resource !== undefined) {
      this.path.push('resource');
      this.attributes(resource, 'attributes', resourceAttributes, 0);
      this.path.pop();
    }
    const scopeSpans = this.arrayField(rs, 'scopeSpans');
    const depth = this.path.length;
    this.path.push('scopeSpans', 0);
    for (let i = 0; i < scopeSpans.length; i++) {
      this.path[depth + 1] = i;
      this.scopeSpans(scopeSpans[i], resourceAttributes);
    }
    this.path.length = depth;
  }

  private scopeSpans(ss: unknown, resourceAttributes: Attributes): void {
    if (!isObject(ss)) this.fail(`expected a ScopeSpans object, got ${typeName(ss)}`);
    let scopeName = '';
    let scopeVersion = '';
    const scope = this.objectField(ss, 'scope');
    if (scope !== undefined) {
      this.path.push('scope');
      scopeName = this.stringField(scope, 'name');
      scopeVersion = this.stringField(scope, 'version');
      this.path.pop();
    }
    const spans = this.arrayField(ss, 'spans');
    const depth = this.path.length;
    this.path.push('spans', 0);
    for (let i = 0; i < spans.length; i++) {
      this.path[depth + 1] = i;
      this.span(spans[i], resourceAttributes, scopeName, scopeVersion);
    }
    this.path.length = depth;
  }

  private span(s: unknown, resourceAttributes: Attributes, scopeName: string, scopeVersion: string): void {
    if (!isObject(s)) this.fail(`expected a Span object, got ${typeName(s)}`);
    const traceId = this.hexField(s, 'traceId');
    const spanId = this.hexField(s, 'spanId');
    const parentSpanId = this.hexField(s, 'parentSpanId');
    const traceState = this.stringField(s, 'traceState');
    const name = this.stringField(s, 'name');
    const kind = this.enumField(s, 'kind', SPAN_KIND_NAMES);
    const startTimeUnixNano = this.uint64Field(s, 'startTimeUnixNano');
    const endTimeUnixNano = this.uint64Field(s, 'endTimeUnixNano');
    const attributes: Attributes = {};
    this.attributes(s, 'attributes', attributes, 0);
    const events = this.events(s);
    let statusCode = 0;
    let statusMessage = '';
    const status = this.objectField(s, 'status');
    if (status !== undefined) {
      this.path.push('status');
      statusCode = this.enumField(status, 'code', STATUS_CODE_NAMES);
      statusMessage = this.stringField(status, 'message');
      this.path.pop();
    }

    // Hex strings are validated above, so their byte length is half their length.
    let problem = idLengthProblem(traceId.length >>> 1, spanId.length >>> 1, parentSpanId.length >>> 1);
    if (problem === '') {
      if (isAllZeroHex(traceId)) problem = REASON_TRACE_ID_ZERO;
      else if (isAllZeroHex(spanId)) problem = REASON_SPAN_ID_ZERO;
    }
    if (problem !== '') {
      this.tally.add(problem);
      return;
    }
    this.spans.push({
      traceId,
      spanId,
      // An all-zero parent is the invalid span id, i.e. no parent.
      parentSpanId: parentSpanId.length === 2 * SPAN_ID_BYTES && !isAllZeroHex(parentSpanId) ? parentSpanId : '',
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

  private events(s: JsonObject): SpanEventRecord[] {
    const list = this.arrayField(s, 'events');
    const events: SpanEventRecord[] = [];
    if (list.length === 0) return events;
    const depth = this.path.length;
    this.path.push('events', 0);
    for (let i = 0; i < list.length; i++) {
      this.path[depth + 1] = i;
      const e = list[i];
      if (!isObject(e)) this.fail(`expected an Event object, got ${typeName(e)}`);
      const attributes: Attributes = {};
      const timeUnixNano = this.uint64Field(e, 'timeUnixNano');
      const name = this.stringField(e, 'name');
      this.attributes(e, 'attributes', attributes, 0);
      events.push({ name, timeUnixNano, attributes });
    }
    this.path.length = depth;
    return events;
  }

  /** Decodes the KeyValue array `o[key]` into `into`. `depth` is the AnyValue nesting above it. */
  private attributes(o: JsonObject, key: string, into: Attributes, depth: number): void {
    const list = this.arrayField(o, key);
    if (list.length === 0) return;
    const base = this.path.length;
    this.path.push(key, 0);
    for (let i = 0; i < list.length; i++) {
      this.path[base + 1] = i;
      const kv = list[i];
      if (!isObject(kv)) this.fail(`expected a KeyValue object, got ${typeName(kv)}`);
      const k = this.stringField(kv, 'key');
      const v = kv['value'];
      let value: AttributeValue = null;
      if (v !== undefined && v !== null) {
        this.path.push('value');
        value = this.anyValue(v, depth + 1);
        this.path.pop();
      }
      setAttribute(into, k, value);
    }
    this.path.length = base;
  }

  private anyValue(v: unknown, depth: number): AttributeValue {
    if (depth > MAX_ANY_VALUE_DEPTH) this.fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
    if (!isObject(v)) this.fail(`expected an AnyValue object, got ${typeName(v)}`);
    // A oneof: the first field present wins; an AnyValue with none is null.
    let x = v['stringValue'];
    if (x !== undefined && x !== null) {
      if (typeof x !== 'string') this.fail(`expected a string, got ${typeName(x)}`, 'stringValue');
      return x;
    }
    x = v['boolValue'];
    if (x !== undefined && x !== null) {
      if (typeof x !== 'boolean') this.fail(`expected a boolean, got ${typeName(x)}`, 'boolValue');
      return x;
    }
    x = v['intValue'];
    if (x !== undefined && x !== null) return this.int64(x);
    x = v['doubleValue'];
    if (x !== undefined && x !== null) return this.double(x);
    x = v['arrayValue'];
    if (x !== undefined && x !== null) {
      if (!isObject(x)) this.fail(`expected an ArrayValue object, got ${typeName(x)}`, 'arrayValue');
      const values = x['values'];
      if (values === undefined || values === null) return [];
      if (!Array.isArray(values)) this.fail(`expected an array, got ${typeName(values)}`, 'arrayValue.values');
      const items: AttributeValue[] = [];
      const base = this.path.length;
      this.path.push('arrayValue', 'values', 0);
      for (let i = 0; i < values.length; i++) {
        this.path[base + 2] = i;
        const item: unknown = values[i];
        // null elements are legal JSON for an empty AnyValue.
        items.push(item === null ? null : this.anyValue(item, depth + 1));
      }
      this.path.length = base;
      return items;
    }
    x = v['kvlistValue'];
    if (x !== undefined && x !== null) {
      if (!isObject(x)) this.fail(`expected a KeyValueList object, got ${typeName(x)}`, 'kvlistValue');
      const obj: Attributes = {};
      this.path.push('kvlistValue');
      this.attributes(x, 'values', obj, depth);
      this.path.pop();
      return obj;
    }
    x = v['bytesValue'];
    if (x !== undefined && x !== null) {
      if (typeof x !== 'string' || !BASE64.test(x)) this.fail(`expected a base64 string, got ${JSON.stringify(x)}`, 'bytesValue');
      // Normalise URL-safe or unpadded input to standard padded base64.
      return Buffer.from(x, 'base64').toString('base64');
    }
    return null;
  }

  private int64(x: unknown): number | string {
    if (typeof x === 'number') {
      if (!Number.isInteger(x)) this.fail(`expected an integer, got ${x}`, 'intValue');
      // `=== 0` folds -0 into 0, as an int64 has no negative zero.
      if (Number.isSafeInteger(x)) return x === 0 ? 0 : x;
      const n = BigInt(x);
      if (n < INT64_MIN || n > INT64_MAX) this.fail(`integer ${x} is outside the int64 range`, 'intValue');
      return n.toString();
    }
    if (typeof x === 'string' && SIGNED_DIGITS.test(x)) {
      if (x.length <= 15) {
        const n = Number(x);
        return n === 0 ? 0 : n;
      }
      const n = BigInt(x);
      if (n < INT64_MIN || n > INT64_MAX) this.fail(`integer ${x} is outside the int64 range`, 'intValue');
      const asNumber = Number(n);
      return Number.isSafeInteger(asNumber) ? asNumber : n.toString();
    }
    this.fail(`expected an int64 as a JSON number or decimal string, got ${JSON.stringify(x)}`, 'intValue');
  }

  private double(x: unknown): number {
    if (typeof x === 'number') return x;
    // The protobuf JSON mapping allows doubles as strings, including NaN and the infinities.
    if (typeof x === 'string' && x.trim() !== '') {
      const n = Number(x);
      if (!Number.isNaN(n) || x === 'NaN') return n;
    }
    this.fail(`expected a double, got ${JSON.stringify(x)}`, 'doubleValue');
  }
}
