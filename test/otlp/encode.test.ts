import { describe, expect, it } from 'vitest';
import type { Attributes, SpanRecord } from '../../contracts/model.js';
import {
  decodeTraceRequestJson,
  decodeTraceRequestProto,
  encodeRpcStatus,
  encodeTraceRequestProto,
  encodeTraceResponse,
} from '../../collector/otlp/index.js';
import { ProtoReader } from '../../collector/otlp/internal/proto-reader.js';
import { ProtoWriter } from '../../collector/otlp/internal/proto-writer.js';
import { varint } from './_proto.js';

function makeSpan(over: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId: '0102030405060708090a0b0c0d0e0f10',
    spanId: 'a1a2a3a4a5a6a7a8',
    parentSpanId: '',
    traceState: '',
    name: 'op',
    kind: 1,
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_000_250_000_000n,
    statusCode: 0,
    statusMessage: '',
    attributes: {},
    events: [],
    resourceAttributes: {},
    scopeName: 'scope',
    scopeVersion: '1.0',
    ...over,
  };
}

describe('encodeTraceRequestProto', () => {
  it('round trips through decodeTraceRequestProto to equal SpanRecords', () => {
    const resA: Attributes = { 'service.name': 'svc-a', 'host.cores': 8, tags: ['x', 'y'] };
    const resB: Attributes = { 'service.name': 'svc-b' };
    const long = 'é✓'.repeat(200); // multi-byte, and long enough for multi-byte lengths
    const spans: SpanRecord[] = [
      makeSpan({
        parentSpanId: 'b1b2b3b4b5b6b7b8',
        traceState: 'k=v',
        name: long,
        kind: 3,
        statusCode: 2,
        statusMessage: 'failed',
        attributes: {
          str: 'hello',
          empty: '',
          int: 42,
          negative: -123456789012,
          maxSafe: Number.MAX_SAFE_INTEGER,
          minSafe: Number.MIN_SAFE_INTEGER,
          bigAsString: '9223372036854775807',
          double: 3.14159,
          negZero: -0,
          huge: 2 ** 70,
          inf: -Infinity,
          nan: NaN,
          yes: true,
          no: false,
          nothing: null,
          list: [1, 'two', 3.5, false, null, [[]], { k: 'v' }],
          map: { a: { b: { c: [1, 2] } }, e: {} },
          '': 'empty key',
          ['__proto__']: 'own key',
        },
        events: [
          { name: 'exception', timeUnixNano: 1_700_000_000_100_000_000n, attributes: { 'exception.type': 'Error' } },
          { name: 'checkpoint', timeUnixNano: 2n ** 64n - 1n, attributes: {} },
        ],
        resourceAttributes: resA,
      }),
      makeSpan({ spanId: 'c1c2c3c4c5c6c7c8', kind: 0, resourceAttributes: resA, scopeName: 'other', scopeVersion: '' }),
      makeSpan({ spanId: 'd1d2d3d4d5d6d7d8', resourceAttributes: resB, scopeName: '', startTimeUnixNano: 0n, endTimeUnixNano: 0n }),
      makeSpan({ spanId: 'e1e2e3e4e5e6e7e8', resourceAttributes: resA }),
    ];
    const decoded = decodeTraceRequestProto(encodeTraceRequestProto(spans));
    expect(decoded.rejectedSpans).toBe(0);
    // Grouping puts the 4th span (resource A, scope "scope") with the first.
    const expected = [spans[0], spans[3], spans[1], spans[2]];
    expect(decoded.spans).toEqual(expected);
    expect(Object.is(decoded.spans[0]!.attributes['negZero'], -0)).toBe(true);
    expect(Object.keys(decoded.spans[0]!.attributes)).toContain('__proto__');
  });

  it('groups by resource content (not identity) and by scope, in first-seen order', () => {
    const spans = [
      makeSpan({ name: 'a1', resourceAttributes: { 'service.name': 'a', x: 1 } }),
      makeSpan({ name: 'b1', resourceAttributes: { 'service.name': 'b' } }),
      makeSpan({ name: 'a2', resourceAttributes: { x: 1, 'service.name': 'a' }, scopeName: 's2' }),
      makeSpan({ name: 'a3', resourceAttributes: { 'service.name': 'a', x: 1 } }),
    ];
    const bytes = encodeTraceRequestProto(spans);
    // Count top-level ResourceSpans fields by walking the outer message.
    const r = new ProtoReader(bytes);
    let resourceSpans = 0;
    while (r.pos < r.limit) {
      r.skip(r.tag());
      resourceSpans++;
    }
    expect(resourceSpans).toBe(2);
    const decoded = decodeTraceRequestProto(bytes).spans;
    expect(decoded.map((s) => [s.name, s.scopeName])).toEqual([
      ['a1', 'scope'],
      ['a3', 'scope'],
      ['a2', 's2'],
      ['b1', 'scope'],
    ]);
    expect(decoded[0]!.resourceAttributes).toBe(decoded[2]!.resourceAttributes);
  });

  it('re-encodes JSON-received spans so that the protobuf decodes to the same records', () => {
    const json = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeSpans: [
            {
              scope: { name: 'lib', version: '2' },
              spans: [
                {
                  traceId: 'ABCDEF0123456789ABCDEF0123456789',
                  spanId: '0123456789ABCDEF',
                  name: 'x',
                  startTimeUnixNano: '1',
                  endTimeUnixNano: '2',
                  attributes: [
                    { key: 'big', value: { intValue: '-9223372036854775808' } },
                    { key: 'bytes', value: { bytesValue: 'AAEC' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const fromJson = decodeTraceRequestJson(json).spans;
    expect(decodeTraceRequestProto(encodeTraceRequestProto(fromJson)).spans).toEqual(fromJson);
  });

  it('encodes no spans as an empty message', () => {
    expect(encodeTraceRequestProto([])).toEqual(new Uint8Array(0));
  });

  it('refuses ids that are not hex of the documented length', () => {
    expect(() => encodeTraceRequestProto([makeSpan({ traceId: 'xyz' })])).toThrow(/cannot encode span traceId "xyz"/);
    expect(() => encodeTraceRequestProto([makeSpan({ parentSpanId: 'abcd' })])).toThrow(TypeError);
  });

  it('round trips 5000 spans (buffer growth, multi-byte lengths)', () => {
    const res: Attributes = { 'service.name': 'bulk' };
    const spans = Array.from({ length: 5000 }, (_, i) =>
      makeSpan({
        spanId: (i + 1).toString(16).padStart(16, '0'),
        name: `span-${i}`,
        attributes: { i, payload: 'p'.repeat(i % 300) },
        resourceAttributes: res,
      }),
    );
    expect(decodeTraceRequestProto(encodeTraceRequestProto(spans)).spans).toEqual(spans);
  });
});

describe('ProtoWriter', () => {
  it.each([0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -300, -(2 ** 53 - 1)])(
    'int64(%d) matches the reference varint encoding',
    (v) => {
      const w = new ProtoWriter(1);
      w.int64(v);
      expect(w.finish()).toEqual(varint(v));
    },
  );

  it('end() writes a multi-byte length by shifting the content', () => {
    const w = new ProtoWriter(4);
    w.tag(1, 2);
    const start = w.begin();
    for (let i = 0; i < 200; i++) w.uint32(i & 0x7f);
    w.end(start);
    const out = w.finish();
    expect(Array.from(out.subarray(0, 3))).toEqual([0x0a, 0xc8, 0x01]);
    expect(out.length).toBe(203);
    expect(out[3]).toBe(0);
    expect(out[202]).toBe(199 & 0x7f);
  });
});

/** Reads the fields of a message into a map of field number to raw values, for checking exact encodings. */
function fields(bytes: Uint8Array): Map<number, (bigint | Uint8Array)[]> {
  const r = new ProtoReader(bytes);
  const out = new Map<number, (bigint | Uint8Array)[]>();
  while (r.pos < r.limit) {
    const t = r.tag();
    let v: bigint | Uint8Array;
    if ((t & 7) === 0) {
      r.varint64();
      v = BigInt.asIntN(64, (BigInt(r.hi) << 32n) | BigInt(r.lo));
    } else if ((t & 7) === 2) {
      const end = r.lengthEnd();
      v = bytes.subarray(r.pos, end);
      r.pos = end;
    } else throw new Error(`unexpected wire type in ${t}`);
    out.set(t >>> 3, [...(out.get(t >>> 3) ?? []), v]);
  }
  return out;
}

describe('encodeTraceResponse', () => {
  it('is an empty message when nothing was rejected', () => {
    expect(encodeTraceResponse('proto', 0, '')).toEqual(new Uint8Array(0));
    expect(encodeTraceResponse('json', 0, '')).toBe('{}');
  });

  it('proto carries partial_success (1) with rejected_spans (1) and error_message (2)', () => {
    const bytes = encodeTraceResponse('proto', 3, '3 spans rejected: invalid span id length');
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x0a, 0x2c, 0x08, 0x03]);
    const top = fields(bytes);
    expect([...top.keys()]).toEqual([1]);
    const partial = fields(top.get(1)![0] as Uint8Array);
    expect(partial.get(1)).toEqual([3n]);
    expect(new TextDecoder().decode(partial.get(2)![0] as Uint8Array)).toBe('3 spans rejected: invalid span id length');
  });

  it('proto encodes rejected counts beyond 32 bits', () => {
    const partial = fields(fields(encodeTraceResponse('proto', 2 ** 40, 'x')).get(1)![0] as Uint8Array);
    expect(partial.get(1)).toEqual([2n ** 40n]);
  });

  it('a warning with 0 rejected spans still sends partial_success', () => {
    const partial = fields(fields(encodeTraceResponse('proto', 0, 'slow down')).get(1)![0] as Uint8Array);
    expect(partial.has(1)).toBe(false);
    expect(JSON.parse(encodeTraceResponse('json', 0, 'slow down'))).toEqual({ partialSuccess: { rejectedSpans: '0', errorMessage: 'slow down' } });
  });

  it('json uses the lowerCamelCase names and int64 as a decimal string', () => {
    expect(JSON.parse(encodeTraceResponse('json', 2, 'bad ids'))).toEqual({
      partialSuccess: { rejectedSpans: '2', errorMessage: 'bad ids' },
    });
  });

  it('rejects a negative or fractional count', () => {
    expect(() => encodeTraceResponse('proto', -1, '')).toThrow(RangeError);
    expect(() => encodeTraceResponse('json', 1.5, '')).toThrow(RangeError);
  });
});

describe('encodeRpcStatus', () => {
  it('proto has code (1) and message (2)', () => {
    const bytes = encodeRpcStatus('proto', 3, 'invalid protobuf');
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x08, 0x03, 0x12, 16]);
    expect(new TextDecoder().decode(bytes.subarray(4))).toBe('invalid protobuf');
  });

  it('proto sign-extends a negative code, and omits defaults', () => {
    expect(fields(encodeRpcStatus('proto', -5, '')).get(1)).toEqual([-5n]);
    expect(encodeRpcStatus('proto', 0, '')).toEqual(new Uint8Array(0));
  });

  it('json has code and message', () => {
    expect(JSON.parse(encodeRpcStatus('json', 8, 'queue full'))).toEqual({ code: 8, message: 'queue full' });
    expect(JSON.parse(encodeRpcStatus('json', 0, ''))).toEqual({ code: 0, message: '' });
  });

  it('rejects a code outside int32', () => {
    expect(() => encodeRpcStatus('proto', 2 ** 31, '')).toThrow(RangeError);
  });
});
