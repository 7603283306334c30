import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../contracts/errors.js';
import type { AttributeValue } from '../../contracts/model.js';
import { MAX_ANY_VALUE_DEPTH, decodeTraceRequestProto } from '../../collector/otlp/index.js';
import {
  PARENT_ID,
  SPAN_ID,
  TRACE_ID,
  bytes,
  concat,
  double,
  fixed32,
  fixed64,
  hexBytes,
  kv,
  msg,
  request,
  span,
  str,
  tag,
  varint,
  vint,
} from './_proto.js';

/** Decodes a request whose only span has one attribute `v` holding the given AnyValue fields. */
function decodeValue(...valueFields: Uint8Array[]): AttributeValue | undefined {
  const out = decodeTraceRequestProto(request([span({ extra: [kv(9, 'v', ...valueFields)] })]));
  return out.spans[0]?.attributes['v'];
}

describe('decodeTraceRequestProto: AnyValue variants', () => {
  const cases: { name: string; fields: Uint8Array[]; expected: AttributeValue }[] = [
    { name: 'string', fields: [str(1, 'hello')], expected: 'hello' },
    { name: 'empty string', fields: [str(1, '')], expected: '' },
    { name: 'bool true', fields: [vint(2, 1)], expected: true },
    { name: 'bool false', fields: [vint(2, 0)], expected: false },
    { name: 'int', fields: [vint(3, 42)], expected: 42 },
    { name: 'negative int', fields: [vint(3, -42)], expected: -42 },
    { name: 'max safe int', fields: [vint(3, Number.MAX_SAFE_INTEGER)], expected: Number.MAX_SAFE_INTEGER },
    { name: 'int beyond safe range', fields: [vint(3, 2n ** 60n)], expected: '1152921504606846976' },
    { name: 'min int64', fields: [vint(3, -(2n ** 63n))], expected: '-9223372036854775808' },
    { name: 'double', fields: [double(4, 3.25)], expected: 3.25 },
    { name: 'integral double', fields: [double(4, 2)], expected: 2 },
    { name: 'NaN double', fields: [double(4, NaN)], expected: NaN },
    { name: 'bytes as base64', fields: [bytes(7, [0xde, 0xad, 0xbe, 0xef])], expected: '3q2+7w==' },
    { name: 'empty (no field set) as null', fields: [], expected: null },
    {
      name: 'array of mixed values',
      fields: [msg(5, msg(1, str(1, 'a')), msg(1, vint(3, 1)), msg(1, vint(2, 1)), msg(1))],
      expected: ['a', 1, true, null],
    },
    { name: 'empty array', fields: [msg(5)], expected: [] },
    {
      name: 'kvlist',
      fields: [msg(6, kv(1, 'a', str(1, 'x')), kv(1, 'b', msg(6, kv(1, 'c', double(4, 0.5)))))],
      expected: { a: 'x', b: { c: 0.5 } },
    },
    { name: 'empty kvlist', fields: [msg(6)], expected: {} },
    { name: 'oneof set twice: last wins', fields: [str(1, 'first'), vint(3, 7)], expected: 7 },
  ];
  it.each(cases)('$name', ({ fields, expected }) => {
    expect(decodeValue(...fields)).toEqual(expected);
  });

  it('a KeyValue without a value decodes to null', () => {
    const out = decodeTraceRequestProto(request([span({ extra: [msg(9, str(1, 'k'))] })]));
    expect(out.spans[0]?.attributes).toEqual({ k: null });
  });

  it('a __proto__ key becomes an own attribute, not the prototype', () => {
    const out = decodeTraceRequestProto(request([span({ extra: [kv(9, '__proto__', str(1, 'x'))] })]));
    const attrs = out.spans[0]!.attributes;
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(Object.keys(attrs)).toEqual(['__proto__']);
    expect(attrs['__proto__']).toBe('x');
  });

  it(`accepts nesting up to ${MAX_ANY_VALUE_DEPTH} levels and rejects deeper`, () => {
    const nested = (levels: number): Uint8Array => {
      let v = str(1, 'leaf');
      for (let i = 1; i < levels; i++) v = msg(5, msg(1, v));
      return v;
    };
    let expected: AttributeValue = 'leaf';
    for (let i = 1; i < MAX_ANY_VALUE_DEPTH; i++) expected = [expected];
    expect(decodeValue(nested(MAX_ANY_VALUE_DEPTH))).toEqual(expected);
    expect(() => decodeValue(nested(MAX_ANY_VALUE_DEPTH + 1))).toThrow(/AnyValue nested deeper than 32 levels/);
  });

  it('a hostile 2000-level nesting fails with a DecodeError instead of recursing that deep', () => {
    let inner: Uint8Array = Uint8Array.from([0x0a, 0x00]);
    for (let i = 0; i < 2000; i++) inner = msg(5, msg(1, inner));
    expect(() => decodeValue(inner)).toThrow(DecodeError);
  });
});

describe('decodeTraceRequestProto: span fields', () => {
  const fullSpan = span({
    parentSpanId: hexBytes(PARENT_ID),
    name: 'GET /items',
    extra: [
      str(3, 'k=v'),
      vint(6, 2),
      fixed64(7, 1_700_000_000_123_456_789n),
      fixed64(8, 1_700_000_001_000_000_000n),
      kv(9, 'http.status_code', vint(3, 200)),
      vint(10, 3), // dropped_attributes_count
      msg(11, fixed64(1, 1_700_000_000_500_000_000n), str(2, 'exception'), kv(3, 'exception.message', str(1, 'boom')), vint(4, 1)),
      msg(11, str(2, 'no time')),
      vint(12, 1), // dropped_events_count
      msg(13, bytes(1, hexBytes(TRACE_ID)), bytes(2, hexBytes(PARENT_ID)), str(3, 'x'), kv(4, 'l', vint(2, 1)), vint(5, 0), fixed32(6, 0x301)),
      vint(14, 2), // dropped_links_count
      msg(15, vint(1, 1), str(2, 'bad things'), vint(3, 2)), // status with deprecated_code (1)
      fixed32(16, 0x101), // flags
    ],
  });

  it('decodes every SpanRecord field and skips links, dropped counts and flags', () => {
    const out = decodeTraceRequestProto(request([fullSpan], [kv(1, 'service.name', str(1, 'svc'))]));
    expect(out.rejectedSpans).toBe(0);
    expect(out.rejectionReason).toBe('');
    expect(out.spans).toEqual([
      {
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        parentSpanId: PARENT_ID,
        traceState: 'k=v',
        name: 'GET /items',
        kind: 2,
        startTimeUnixNano: 1_700_000_000_123_456_789n,
        endTimeUnixNano: 1_700_000_001_000_000_000n,
        statusCode: 2,
        statusMessage: 'bad things',
        attributes: { 'http.status_code': 200 },
        events: [
          { name: 'exception', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { 'exception.message': 'boom' } },
          { name: 'no time', timeUnixNano: 0n, attributes: {} },
        ],
        resourceAttributes: { 'service.name': 'svc' },
        scopeName: 'scope',
        scopeVersion: '1.0',
      },
    ]);
  });

  it('defaults absent fields: root span, no status, no attributes', () => {
    const out = decodeTraceRequestProto(msg(1, msg(2, span())));
    expect(out.spans).toEqual([
      {
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        parentSpanId: '',
        traceState: '',
        name: 'op',
        kind: 0,
        startTimeUnixNano: 0n,
        endTimeUnixNano: 0n,
        statusCode: 0,
        statusMessage: '',
        attributes: {},
        events: [],
        resourceAttributes: {},
        scopeName: '',
        scopeVersion: '',
      },
    ]);
  });

  it('times above 2^63 keep full unsigned precision', () => {
    const out = decodeTraceRequestProto(request([span({ extra: [fixed64(7, 2n ** 64n - 1n)] })]));
    expect(out.spans[0]?.startTimeUnixNano).toBe(2n ** 64n - 1n);
  });

  it('shares one resourceAttributes object among the spans of a resource, and copies scope to each', () => {
    const body = concat(
      msg(
        1,
        msg(1, kv(1, 'service.name', str(1, 'a'))),
        msg(2, msg(1, str(1, 's1')), span({ name: 'x' }), span({ name: 'y' })),
        msg(2, msg(1, str(1, 's2'), str(2, 'v2')), span({ name: 'z' })),
      ),
      msg(1, msg(1, kv(1, 'service.name', str(1, 'b'))), msg(2, span({ name: 'w' }))),
    );
    const { spans } = decodeTraceRequestProto(body);
    expect(spans.map((s) => [s.name, s.resourceAttributes['service.name'], s.scopeName, s.scopeVersion])).toEqual([
      ['x', 'a', 's1', ''],
      ['y', 'a', 's1', ''],
      ['z', 'a', 's2', 'v2'],
      ['w', 'b', '', ''],
    ]);
    expect(spans[0]!.resourceAttributes).toBe(spans[2]!.resourceAttributes);
    expect(spans[0]!.resourceAttributes).not.toBe(spans[3]!.resourceAttributes);
  });

  it('applies a resource and scope that arrive after their spans (any field order is legal)', () => {
    const body = msg(1, msg(2, span({ name: 'x' }), msg(1, str(1, 'late-scope'))), msg(1, kv(1, 'r', vint(3, 1))));
    const { spans } = decodeTraceRequestProto(body);
    expect(spans[0]).toMatchObject({ scopeName: 'late-scope', resourceAttributes: { r: 1 } });
  });

  it('an empty body is an empty request', () => {
    expect(decodeTraceRequestProto(new Uint8Array(0))).toEqual({ spans: [], rejectedSpans: 0, rejectionReason: '' });
  });
});

describe('decodeTraceRequestProto: unknown fields are skipped per wire type', () => {
  const unknowns = concat(
    vint(99, 2n ** 63n),
    fixed64(98, 123n),
    msg(97, str(1, 'nested unknown')),
    fixed32(96, 7),
    vint(536870911, 1), // largest field number
  );
  it.each([
    ['ExportTraceServiceRequest', (u: Uint8Array) => concat(u, request([span()]), u)],
    ['ResourceSpans', (u: Uint8Array) => msg(1, u, msg(1), u, msg(2, span()), u)],
    ['Resource', (u: Uint8Array) => msg(1, msg(1, u, kv(1, 'k', str(1, 'v')), u), msg(2, span()))],
    ['ScopeSpans', (u: Uint8Array) => msg(1, msg(2, u, msg(1, u, str(1, 'scope')), u, span(), u))],
    ['Span', (u: Uint8Array) => request([span({ extra: [u] })])],
    ['Event', (u: Uint8Array) => request([span({ extra: [msg(11, u, str(2, 'e'), u)] })])],
    ['KeyValue and AnyValue', (u: Uint8Array) => request([span({ extra: [msg(9, u, str(1, 'k'), u, msg(2, u, vint(3, 5), u))] })])],
    ['Status', (u: Uint8Array) => request([span({ extra: [msg(15, u, vint(3, 1), u)] })])],
  ])('in %s', (_name, build) => {
    const withUnknowns = decodeTraceRequestProto(build(unknowns));
    const without = decodeTraceRequestProto(build(new Uint8Array(0)));
    expect(withUnknowns.spans).toHaveLength(1);
    expect(withUnknowns).toEqual(without);
  });

  it('a known field number with an unexpected wire type is skipped like an unknown field', () => {
    const out = decodeTraceRequestProto(request([span({ extra: [vint(5, 7), fixed64(3, 1n)] })]));
    expect(out.spans[0]).toMatchObject({ name: 'op', traceState: '' });
  });

  it('rejects a group wire type with a DecodeError naming field and offset', () => {
    const body = concat(tag(42, 3), tag(42, 4));
    expect(() => decodeTraceRequestProto(body)).toThrow(/unsupported group wire type 3 for field 42 at byte offset 0/);
  });
});

describe('decodeTraceRequestProto: span rejection', () => {
  const zero8 = new Array<number>(8).fill(0);
  const cases: { name: string; spec: Parameters<typeof span>[0]; reason: string }[] = [
    { name: '8-byte trace id', spec: { traceId: hexBytes(SPAN_ID) }, reason: 'invalid trace id length' },
    { name: 'missing trace id', spec: { traceId: [] }, reason: 'invalid trace id length' },
    { name: '7-byte span id', spec: { spanId: [1, 2, 3, 4, 5, 6, 7] }, reason: 'invalid span id length' },
    { name: '16-byte span id', spec: { spanId: hexBytes(TRACE_ID) }, reason: 'invalid span id length' },
    { name: '4-byte parent span id', spec: { parentSpanId: [1, 2, 3, 4] }, reason: 'invalid parent span id length' },
    { name: 'all-zero trace id', spec: { traceId: new Array<number>(16).fill(0) }, reason: 'all-zero trace id' },
    { name: 'all-zero span id', spec: { spanId: zero8 }, reason: 'all-zero span id' },
  ];
  it.each(cases)('rejects a span with $name', ({ spec, reason }) => {
    const out = decodeTraceRequestProto(request([span({ name: 'good' }), span({ ...spec, name: 'bad' })]));
    expect(out.spans.map((s) => s.name)).toEqual(['good']);
    expect(out.rejectedSpans).toBe(1);
    expect(out.rejectionReason).toBe(`1 span rejected: ${reason}`);
  });

  it('counts several rejections and summarises their reasons', () => {
    const out = decodeTraceRequestProto(
      request([span({ spanId: [1] }), span(), span({ spanId: [1, 2] }), span({ traceId: new Array<number>(16).fill(0) })]),
    );
    expect(out.spans).toHaveLength(1);
    expect(out.rejectedSpans).toBe(3);
    expect(out.rejectionReason).toBe('3 spans rejected: invalid span id length (2), all-zero trace id (1)');
  });

  it('reads an all-zero parent span id as a root span', () => {
    const out = decodeTraceRequestProto(request([span({ parentSpanId: zero8 })]));
    expect(out.rejectedSpans).toBe(0);
    expect(out.spans[0]?.parentSpanId).toBe('');
  });
});

describe('decodeTraceRequestProto: malformed input', () => {
  const valid = request(
    [
      span({
        parentSpanId: hexBytes(PARENT_ID),
        extra: [
          vint(6, 3),
          fixed64(7, 1n),
          fixed64(8, 2n),
          kv(9, 'a', msg(5, msg(1, str(1, 'x')), msg(1, double(4, 1.5)))),
          kv(9, 'b', msg(6, kv(1, 'c', vint(3, -1)))),
          msg(11, fixed64(1, 3n), str(2, 'e')),
          msg(13, bytes(1, hexBytes(TRACE_ID))),
          msg(15, vint(3, 2), str(2, 'm')),
          fixed32(16, 1),
        ],
      }),
    ],
    [kv(1, 'service.name', str(1, 'svc'))],
  );

  it('every strict non-empty prefix of a valid message throws DecodeError (never another error, never hangs)', () => {
    expect(decodeTraceRequestProto(valid).spans).toHaveLength(1);
    for (let n = 1; n < valid.length; n++) {
      let thrown: unknown;
      try {
        decodeTraceRequestProto(valid.subarray(0, n));
      } catch (err) {
        thrown = err;
      }
      expect(thrown, `prefix of ${n} bytes`).toBeInstanceOf(DecodeError);
      expect((thrown as Error).message, `prefix of ${n} bytes`).toMatch(/at byte offset \d+/);
    }
  });

  it('random corruption yields a result or a DecodeError, nothing else', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      const copy = valid.slice();
      const flips = 1 + (rand() % 4);
      for (let f = 0; f < flips; f++) copy[rand() % copy.length] = rand() & 0xff;
      try {
        decodeTraceRequestProto(copy);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
      }
    }
  });

  it.each([
    ['a length past the end', concat(tag(1, 2), varint(10), Uint8Array.from([1, 2])), /length 10 exceeds the 2 bytes left .* at byte offset 1/],
    ['a truncated tag', Uint8Array.from([0x80]), /truncated tag .* at byte offset 0/],
    ['a field number 0', Uint8Array.from([0x00, 0x00]), /field number 0 in tag at byte offset 0/],
    ['an invalid wire type', concat(tag(1, 7)), /invalid wire type 7 for field 1 at byte offset 0/],
    ['a truncated fixed64 in a span', request([span({ extra: [concat(tag(7, 1), Uint8Array.from([1, 2]))] })]), /truncated fixed64/],
  ])('names %s', (_name, body, pattern) => {
    expect(() => decodeTraceRequestProto(body)).toThrow(pattern);
  });

  it('decodes a Uint8Array view into a larger buffer', () => {
    const big = new Uint8Array(valid.length + 20).fill(0xff);
    big.set(valid, 10);
    expect(decodeTraceRequestProto(big.subarray(10, 10 + valid.length))).toEqual(decodeTraceRequestProto(valid));
  });
});
