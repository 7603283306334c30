import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../contracts/errors.js';
import type { AttributeValue } from '../../contracts/model.js';
import { MAX_ANY_VALUE_DEPTH, decodeTraceRequestJson, quoteLongIntegers } from '../../collector/otlp/index.js';

const TRACE_ID = '0102030405060708090a0b0c0d0e0f10';
const SPAN_ID = 'a1a2a3a4a5a6a7a8';
const PARENT_ID = 'b1b2b3b4b5b6b7b8';

type Json = Record<string, unknown>;

function body(spans: Json[], resource: Json = {}, scope: Json = { name: 'scope', version: '1.0' }): string {
  return JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] });
}

const span = (over: Json = {}): Json => ({ traceId: TRACE_ID, spanId: SPAN_ID, name: 'op', ...over });

function decodeValue(value: unknown): AttributeValue | undefined {
  return decodeTraceRequestJson(body([span({ attributes: [{ key: 'v', value }] })])).spans[0]?.attributes['v'];
}

describe('decodeTraceRequestJson: AnyValue variants', () => {
  const cases: { name: string; value: unknown; expected: AttributeValue }[] = [
    { name: 'string', value: { stringValue: 'hi' }, expected: 'hi' },
    { name: 'bool', value: { boolValue: false }, expected: false },
    { name: 'int as number', value: { intValue: 42 }, expected: 42 },
    { name: 'negative int as string', value: { intValue: '-42' }, expected: -42 },
    { name: 'int64 string beyond safe range', value: { intValue: '9223372036854775807' }, expected: '9223372036854775807' },
    { name: 'int64 string with leading zeros, safe', value: { intValue: '0000000000000000042' }, expected: 42 },
    // JSON.stringify(2 ** 60) is the text 1152921504606847000: that text is the int64 sent, read exactly.
    { name: 'int as unsafe JSON number', value: { intValue: 2 ** 60 }, expected: '1152921504606847000' },
    { name: 'int "-0" is 0', value: { intValue: '-0' }, expected: 0 },
    { name: 'double', value: { doubleValue: 1.5 }, expected: 1.5 },
    { name: 'double as string', value: { doubleValue: '2.5' }, expected: 2.5 },
    { name: 'double Infinity string', value: { doubleValue: 'Infinity' }, expected: Infinity },
    { name: 'double NaN string', value: { doubleValue: 'NaN' }, expected: NaN },
    { name: 'bytes', value: { bytesValue: '3q2+7w==' }, expected: '3q2+7w==' },
    { name: 'bytes url-safe unpadded, normalised', value: { bytesValue: '3q2-7w' }, expected: '3q2+7w==' },
    { name: 'array', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, {}, null] } }, expected: ['a', 1, null, null] },
    { name: 'array without values', value: { arrayValue: {} }, expected: [] },
    {
      name: 'kvlist',
      value: { kvlistValue: { values: [{ key: 'a', value: { boolValue: true } }, { key: 'b' }] } },
      expected: { a: true, b: null },
    },
    { name: 'empty AnyValue', value: {}, expected: null },
    { name: 'null AnyValue', value: null, expected: null },
    { name: 'unknown AnyValue field ignored', value: { futureValue: 1, stringValue: 'x' }, expected: 'x' },
  ];
  it.each(cases)('$name', ({ value, expected }) => {
    expect(decodeValue(value)).toEqual(expected);
  });

  it(`rejects AnyValue nesting deeper than ${MAX_ANY_VALUE_DEPTH}`, () => {
    let v: unknown = { stringValue: 'leaf' };
    for (let i = 1; i < MAX_ANY_VALUE_DEPTH; i++) v = { arrayValue: { values: [v] } };
    expect(decodeValue(v)).toBeDefined();
    expect(() => decodeValue({ arrayValue: { values: [v] } })).toThrow(/nested deeper than 32/);
  });
});

describe('decodeTraceRequestJson: spans', () => {
  it('decodes every SpanRecord field; ids any case become lowercase; int64 times as strings or numbers', () => {
    const text = body(
      [
        span({
          traceId: TRACE_ID.toUpperCase(),
          parentSpanId: PARENT_ID.toUpperCase(),
          traceState: 'k=v',
          name: 'GET /items',
          kind: 2,
          startTimeUnixNano: '1700000000123456789',
          endTimeUnixNano: 1700000001000000000,
          attributes: [{ key: 'http.status_code', value: { intValue: 200 } }],
          droppedAttributesCount: 3,
          events: [
            { timeUnixNano: '1700000000500000000', name: 'exception', attributes: [{ key: 'm', value: { stringValue: 'boom' } }] },
            { name: 'bare' },
          ],
          links: [{ traceId: TRACE_ID, spanId: PARENT_ID }],
          status: { code: 2, message: 'bad things' },
          flags: 257,
          somethingNew: { nested: true },
        }),
      ],
      { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], droppedAttributesCount: 0 },
    );
    expect(decodeTraceRequestJson(text)).toEqual({
      spans: [
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
            { name: 'exception', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { m: 'boom' } },
            { name: 'bare', timeUnixNano: 0n, attributes: {} },
          ],
          resourceAttributes: { 'service.name': 'svc' },
          scopeName: 'scope',
          scopeVersion: '1.0',
        },
      ],
      rejectedSpans: 0,
      rejectionReason: '',
    });
  });

  it('accepts enum names as well as integers', () => {
    const out = decodeTraceRequestJson(body([span({ kind: 'SPAN_KIND_CONSUMER', status: { code: 'STATUS_CODE_OK' } })]));
    expect(out.spans[0]).toMatchObject({ kind: 5, statusCode: 1 });
  });

  it('treats null and absent fields as defaults, and snake_case keys as unknown', () => {
    const out = decodeTraceRequestJson(
      JSON.stringify({
        resourceSpans: [
          { resource: null, scopeSpans: [{ scope: null, spans: [span({ parentSpanId: '', kind: null, start_time_unix_nano: '5' })] }] },
          { scopeSpans: null },
          {},
        ],
      }),
    );
    expect(out.spans).toHaveLength(1);
    expect(out.spans[0]).toMatchObject({ parentSpanId: '', kind: 0, startTimeUnixNano: 0n, resourceAttributes: {}, scopeName: '' });
  });

  it('shares one resourceAttributes object per resource', () => {
    const out = decodeTraceRequestJson(body([span({ name: 'a' }), span({ name: 'b' })], { attributes: [{ key: 'r', value: { intValue: 1 } }] }));
    expect(out.spans[0]!.resourceAttributes).toBe(out.spans[1]!.resourceAttributes);
  });

  it('an empty object, and a leading BOM, are accepted', () => {
    expect(decodeTraceRequestJson('{}')).toEqual({ spans: [], rejectedSpans: 0, rejectionReason: '' });
    expect(decodeTraceRequestJson('\ufeff{"resourceSpans":[]}').spans).toEqual([]);
  });
});

describe('decodeTraceRequestJson: span rejection', () => {
  const cases: { name: string; over: Json; reason: string }[] = [
    { name: 'short trace id', over: { traceId: SPAN_ID }, reason: 'invalid trace id length' },
    { name: 'missing trace id', over: { traceId: undefined }, reason: 'invalid trace id length' },
    { name: 'long span id', over: { spanId: TRACE_ID }, reason: 'invalid span id length' },
    { name: 'empty span id', over: { spanId: '' }, reason: 'invalid span id length' },
    { name: 'short parent span id', over: { parentSpanId: 'abcd' }, reason: 'invalid parent span id length' },
    { name: 'all-zero trace id', over: { traceId: '0'.repeat(32) }, reason: 'all-zero trace id' },
    { name: 'all-zero span id', over: { spanId: '0'.repeat(16) }, reason: 'all-zero span id' },
  ];
  it.each(cases)('rejects a span with $name', ({ over, reason }) => {
    const out = decodeTraceRequestJson(body([span({ name: 'good' }), span({ ...over, name: 'bad' })]));
    expect(out.spans.map((s) => s.name)).toEqual(['good']);
    expect(out.rejectedSpans).toBe(1);
    expect(out.rejectionReason).toBe(`1 span rejected: ${reason}`);
  });

  it('counts rejections across resources and scopes', () => {
    const text = JSON.stringify({
      resourceSpans: [
        { scopeSpans: [{ spans: [span({ spanId: 'ab' })] }, { spans: [span({ spanId: 'cd' })] }] },
        { scopeSpans: [{ spans: [span(), span({ spanId: 'ef' })] }] },
      ],
    });
    const out = decodeTraceRequestJson(text);
    expect(out.spans).toHaveLength(1);
    expect(out.rejectedSpans).toBe(3);
    expect(out.rejectionReason).toBe('3 spans rejected: invalid span id length');
  });

  it('reads an all-zero parent span id as a root span', () => {
    expect(decodeTraceRequestJson(body([span({ parentSpanId: '0'.repeat(16) })])).spans[0]?.parentSpanId).toBe('');
  });
});

describe('decodeTraceRequestJson: invalid input', () => {
  it.each(['', '{', '{"resourceSpans":[}', 'nul', '{"a":1}x'])('invalid JSON %j throws DecodeError', (text) => {
    expect(() => decodeTraceRequestJson(text)).toThrow(DecodeError);
    expect(() => decodeTraceRequestJson(text)).toThrow(/^invalid OTLP JSON: /);
  });

  const wrongShapes: { name: string; text: string; message: RegExp }[] = [
    { name: 'root not an object', text: '[]', message: /at \(root\): expected an ExportTraceServiceRequest object, got array/ },
    { name: 'root null', text: 'null', message: /at \(root\): .* got null/ },
    { name: 'resourceSpans not an array', text: '{"resourceSpans":{}}', message: /at resourceSpans: expected an array, got object/ },
    { name: 'resourceSpans element not an object', text: '{"resourceSpans":[{},3]}', message: /at resourceSpans\[1\]: expected a ResourceSpans object, got number/ },
    {
      name: 'non-hex trace id',
      text: JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [] }, { spans: [span(), span(), span(), span({ traceId: 'zz'.repeat(16) })] }] }],
      }),
      message: /at resourceSpans\[0\]\.scopeSpans\[1\]\.spans\[3\]\.traceId: expected a hex string, got "zzzz/,
    },
    { name: 'numeric span id', text: body([span({ spanId: 12 })]), message: /spans\[0\]\.spanId: expected a string, got number/ },
    { name: 'odd-length parent id', text: body([span({ parentSpanId: 'abc' })]), message: /spans\[0\]\.parentSpanId: expected a hex string/ },
    { name: 'name not a string', text: body([span({ name: ['x'] })]), message: /spans\[0\]\.name: expected a string, got array/ },
    { name: 'negative start time', text: body([span({ startTimeUnixNano: '-1' })]), message: /spans\[0\]\.startTimeUnixNano: expected an unsigned 64-bit integer, got "-1"/ },
    { name: 'start time too large', text: body([span({ startTimeUnixNano: '18446744073709551616' })]), message: /startTimeUnixNano: expected an unsigned 64-bit/ },
    { name: 'fractional end time', text: body([span({ endTimeUnixNano: 1.5 })]), message: /spans\[0\]\.endTimeUnixNano/ },
    { name: 'unknown kind name', text: body([span({ kind: 'SPAN_KIND_WEIRD' })]), message: /spans\[0\]\.kind: expected an enum integer, got "SPAN_KIND_WEIRD"/ },
    { name: 'status not an object', text: body([span({ status: 'ERROR' })]), message: /spans\[0\]\.status: expected an object, got string/ },
    { name: 'status code wrong type', text: body([span({ status: { code: true } })]), message: /spans\[0\]\.status\.code: expected an enum integer/ },
    {
      name: 'attribute not a KeyValue',
      text: body([span({ attributes: [{ key: 'a', value: { stringValue: 'x' } }, 'b'] })]),
      message: /spans\[0\]\.attributes\[1\]: expected a KeyValue object, got string/,
    },
    {
      name: 'stringValue not a string',
      text: body([span({ attributes: [{ key: 'a', value: { stringValue: 1 } }] })]),
      message: /spans\[0\]\.attributes\[0\]\.value\.stringValue: expected a string, got number/,
    },
    {
      name: 'fractional intValue',
      text: body([span({ attributes: [{ key: 'a', value: { intValue: 1.5 } }] })]),
      message: /attributes\[0\]\.value\.intValue: expected an integer, got 1\.5/,
    },
    {
      name: 'intValue outside int64',
      text: body([span({ attributes: [{ key: 'a', value: { intValue: '9223372036854775808' } }] })]),
      message: /intValue: integer 9223372036854775808 is outside the int64 range/,
    },
    {
      name: 'intValue not numeric',
      text: body([span({ attributes: [{ key: 'a', value: { intValue: '12abc' } }] })]),
      message: /intValue: expected an int64/,
    },
    {
      name: 'bad array element deep in an event',
      text: body([span({ events: [{}, { attributes: [{ key: 'a', value: { arrayValue: { values: [{ boolValue: 1 }] } } }] }] })]),
      message: /spans\[0\]\.events\[1\]\.attributes\[0\]\.value\.arrayValue\.values\[0\]\.boolValue: expected a boolean, got number/,
    },
    {
      name: 'kvlist values not an array',
      text: body([span({ attributes: [{ key: 'a', value: { kvlistValue: { values: 1 } } }] })]),
      message: /attributes\[0\]\.value\.kvlistValue\.values: expected an array, got number/,
    },
    {
      name: 'bytesValue not base64',
      text: body([span({ attributes: [{ key: 'a', value: { bytesValue: 'not base64!' } }] })]),
      message: /value\.bytesValue: expected a base64 string/,
    },
    {
      name: 'resource attributes wrong type',
      text: JSON.stringify({ resourceSpans: [{ resource: { attributes: {} } }] }),
      message: /at resourceSpans\[0\]\.resource\.attributes: expected an array, got object/,
    },
    {
      name: 'scope name wrong type',
      text: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ scope: { name: 5 } }] }] }),
      message: /at resourceSpans\[0\]\.scopeSpans\[0\]\.scope\.name: expected a string, got number/,
    },
  ];
  it.each(wrongShapes)('$name names the bad path', ({ text, message }) => {
    let thrown: unknown;
    try {
      decodeTraceRequestJson(text);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DecodeError);
    expect((thrown as DecodeError).code).toBe('JOBSLO_ERR_DECODE');
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('decodeTraceRequestJson: 64-bit integers sent as JSON numbers are exact', () => {
  // Written as text: a JS number cannot even hold these values.
  const text = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${TRACE_ID}","spanId":"${SPAN_ID}","name":"op",
    "startTimeUnixNano":1795996799999999000,"endTimeUnixNano":1795996799999999999,
    "events":[{"name":"e","timeUnixNano":18446744073709551615}],
    "attributes":[{"key":"big","value":{"intValue":9223372036854775807}},{"key":"neg","value":{"intValue":-9223372036854775808}},
      {"key":"near","value":{"intValue":1795996799999999999}},{"key":"s","value":{"stringValue":"12345678901234567890"}},
      {"key":"d","value":{"doubleValue":12345678901234567890.5}},{"key":"e","value":{"doubleValue":1234567890123456789e2}}]}]}]}]}`;

  it('times: 1795996799999999999 stays 1795996799999999999 (a double would give 1796000000000000000)', () => {
    const [s] = decodeTraceRequestJson(text).spans;
    expect(s?.endTimeUnixNano).toBe(1_795_996_799_999_999_999n);
    expect(s?.startTimeUnixNano).toBe(1_795_996_799_999_999_000n);
    expect(s?.events[0]?.timeUnixNano).toBe(18_446_744_073_709_551_615n);
  });

  it('int attributes keep every digit; strings and doubles are untouched', () => {
    const a = decodeTraceRequestJson(text).spans[0]?.attributes;
    expect(a).toEqual({
      big: '9223372036854775807',
      neg: '-9223372036854775808',
      near: '1795996799999999999',
      s: '12345678901234567890',
      d: Number('12345678901234567890.5'),
      e: Number('1234567890123456789e2'),
    });
  });

  it('an int64 JSON number outside the int64 range is refused', () => {
    const t = body([span({ attributes: [{ key: 'v', value: { intValue: 1 } }] })]).replace('"intValue":1', '"intValue":9223372036854775808');
    expect(() => decodeTraceRequestJson(t)).toThrow(/outside the int64 range/);
  });

  it('quoteLongIntegers: only integer tokens of 16+ digits outside strings; leading zeros stay invalid JSON', () => {
    expect(quoteLongIntegers('{"a":1234567890123456,"b":"1234567890123456","c":123,"d":1.2345678901234567}')).toBe(
      '{"a":"1234567890123456","b":"1234567890123456","c":123,"d":1.2345678901234567}',
    );
    expect(quoteLongIntegers('["x\\"",-12345678901234567890,12345678901234567890e1]')).toBe('["x\\"","-12345678901234567890",12345678901234567890e1]');
    expect(() => decodeTraceRequestJson(body([span({ startTimeUnixNano: 1 })]).replace('"startTimeUnixNano":1', '"startTimeUnixNano":01795996799999999999'))).toThrow(DecodeError);
  });
});
