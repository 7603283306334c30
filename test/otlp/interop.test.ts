/**
 * Interop with the real OpenTelemetry JS exporters: spans exported by
 * `@opentelemetry/exporter-trace-otlp-proto` and `-otlp-http` (JSON) to a
 * loopback server must decode to the same SpanRecords, and the exporters must
 * accept the response bodies we encode.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, diag, trace } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { AttributeValue, Attributes, SpanRecord } from '../../contracts/model.js';
import {
  decodeTraceRequestJson,
  decodeTraceRequestProto,
  encodeTraceResponse,
  type DecodedTraces,
} from '../../collector/otlp/index.js';

interface Captured {
  headers: IncomingHttpHeaders;
  /** Body after undoing any content-encoding. */
  body: Buffer;
  decoded: DecodedTraces;
}

const COMPRESSION_ENV = 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION';

let server: Server;
let url: string;
let captured: Captured[];
/** What the server answers: rejected count and message passed to encodeTraceResponse. */
let reply: { rejected: number; message: string };

beforeEach(async () => {
  captured = [];
  reply = { rejected: 0, message: '' };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const json = (req.headers['content-type'] ?? '').startsWith('application/json');
      const decoded = json ? decodeTraceRequestJson(body.toString('utf8')) : decodeTraceRequestProto(body);
      captured.push({ headers: req.headers, body, decoded });
      const response = encodeTraceResponse(json ? 'json' : 'proto', reply.rejected, reply.message);
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
});

afterEach(async () => {
  delete process.env[COMPRESSION_ENV];
  diag.disable();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Records a parent/child pair and a sibling with every attribute type, events and an error status. */
async function recordSpans(): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'interop-svc', 'service.instance.id': 7 }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('jobslo-interop', '1.2.3');
  const parent = tracer.startSpan('run nightly-report', {
    kind: SpanKind.SERVER,
    attributes: {
      'job.name': 'nightly-report',
      'job.attempt': 3,
      'job.negative': -7,
      'job.ratio': 0.75,
      'job.ok': false,
      'job.big': 2 ** 60,
      'job.tags': ['a', 'b'],
      'job.sizes': [1, 2, 3],
      'job.weights': [1.5, 2.5],
      'job.flags': [true, false],
      'job.sparse': ['x', null],
      'job.unicode': 'Grüße ✓ 日本',
    },
  });
  const child = tracer.startSpan(
    'attempt 1',
    { kind: SpanKind.CLIENT, attributes: { 'attempt.number': 1 } },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  child.addEvent('retry', { 'retry.delay_ms': 250, 'retry.reason': 'timeout' });
  child.recordException(new Error('connection reset'));
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'connection reset' });
  child.end();
  parent.setStatus({ code: SpanStatusCode.OK });
  parent.end();
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

async function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  try {
    return await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
  } finally {
    await exporter.shutdown();
  }
}

const toNanos = ([seconds, nanos]: [number, number]): bigint => BigInt(seconds) * 1_000_000_000n + BigInt(nanos);

/** The SDK's attribute value as SpanRecord holds it: unsafe integers as decimal strings, undefined as null. */
function expectedValue(v: unknown): AttributeValue {
  if (Array.isArray(v)) return v.map(expectedValue);
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) return BigInt(v).toString();
  if (v === undefined) return null;
  return v as AttributeValue;
}

function expectedAttributes(attrs: Record<string, unknown>): Attributes {
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, expectedValue(v)]));
}

/** SpanRecords built from the SDK's ReadableSpans without the codec. */
function expectedRecords(spans: ReadableSpan[]): SpanRecord[] {
  return spans.map((s) => ({
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? '',
    traceState: '',
    name: s.name,
    kind: s.kind + 1, // the API's SpanKind has no UNSPECIFIED, OTLP's does
    startTimeUnixNano: toNanos(s.startTime),
    endTimeUnixNano: toNanos(s.endTime),
    statusCode: s.status.code,
    statusMessage: s.status.message ?? '',
    attributes: expectedAttributes(s.attributes),
    events: s.events.map((e) => ({ name: e.name, timeUnixNano: toNanos(e.time), attributes: expectedAttributes(e.attributes ?? {}) })),
    resourceAttributes: expectedAttributes(s.resource.attributes),
    scopeName: s.instrumentationScope.name,
    scopeVersion: s.instrumentationScope.version ?? '',
  }));
}

/** `spans` with `job.big` as the JSON exporter's text of 2 ** 60 reads exactly. */
function withJsonBig(spans: readonly SpanRecord[]): SpanRecord[] {
  return spans.map((s) => (s.attributes['job.big'] === undefined ? s : { ...s, attributes: { ...s.attributes, 'job.big': '1152921504606847000' } }));
}

describe('interop with the OpenTelemetry JS OTLP exporters', () => {
  it('protobuf and JSON exports of the same spans decode to identical, expected SpanRecords', async () => {
    const spans = await recordSpans();
    expect(spans).toHaveLength(2);

    expect(await exportWith(new ProtoTraceExporter({ url }), spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await exportWith(new JsonTraceExporter({ url }), spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(captured).toHaveLength(2);
    const [proto, json] = captured as [Captured, Captured];

    // What the exporters actually send (pinned so a change in them is noticed).
    expect(proto.headers['content-type']).toBe('application/x-protobuf');
    expect(json.headers['content-type']).toBe('application/json');
    expect(proto.headers['content-encoding']).toBeUndefined();
    expect(json.headers['content-encoding']).toBeUndefined();
    const raw = JSON.parse(json.body.toString('utf8')) as {
      resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
    };
    const rawSpan = raw.resourceSpans[0]!.scopeSpans[0]!.spans.find((s) => s['name'] === 'run nightly-report')!;
    expect(rawSpan['traceId']).toMatch(/^[0-9a-f]{32}$/); // hex, not base64
    expect(rawSpan['spanId']).toMatch(/^[0-9a-f]{16}$/);
    expect(typeof rawSpan['startTimeUnixNano']).toBe('string'); // times as strings
    expect(rawSpan['flags']).toBe(0x101); // fixed32 in protobuf; skipped by the decoder
    const rawAttrs = rawSpan['attributes'] as { key: string; value: Record<string, unknown> }[];
    expect(rawAttrs.find((a) => a.key === 'job.attempt')?.value).toEqual({ intValue: 3 }); // int64 as a JSON number

    for (const c of captured) {
      expect(c.decoded.rejectedSpans).toBe(0);
      expect(c.decoded.rejectionReason).toBe('');
    }
    // The JSON exporter writes 2 ** 60 as the number text 1152921504606847000 (the double's shortest
    // form), which is read exactly; protobuf carries the integer itself. Everything else is identical.
    const jsonBig = (json.decoded.spans as SpanRecord[]).map((s) => s.attributes['job.big']);
    expect(jsonBig).toContain('1152921504606847000');
    expect(json.decoded.spans).toEqual(withJsonBig(proto.decoded.spans));

    const expected = expectedRecords(spans);
    expect(proto.decoded.spans).toEqual(expected);

    // Spot checks written out by hand, so the test does not only compare the SDK with itself.
    const [child, parent] = proto.decoded.spans as [SpanRecord, SpanRecord];
    expect(parent).toMatchObject({
      name: 'run nightly-report',
      parentSpanId: '',
      kind: 2,
      statusCode: 1,
      scopeName: 'jobslo-interop',
      scopeVersion: '1.2.3',
      attributes: {
        'job.name': 'nightly-report',
        'job.attempt': 3,
        'job.negative': -7,
        'job.ratio': 0.75,
        'job.ok': false,
        'job.big': '1152921504606846976',
        'job.tags': ['a', 'b'],
        'job.sizes': [1, 2, 3],
        'job.weights': [1.5, 2.5],
        'job.flags': [true, false],
        'job.sparse': ['x', null],
        'job.unicode': 'Grüße ✓ 日本',
      },
    });
    expect(parent.resourceAttributes).toMatchObject({ 'service.name': 'interop-svc', 'service.instance.id': 7 });
    expect(child).toMatchObject({
      name: 'attempt 1',
      traceId: parent.traceId,
      parentSpanId: parent.spanId,
      kind: 3,
      statusCode: 2,
      statusMessage: 'connection reset',
    });
    expect(child.events.map((e) => e.name)).toEqual(['retry', 'exception']);
    expect(child.events[0]!.attributes).toEqual({ 'retry.delay_ms': 250, 'retry.reason': 'timeout' });
    expect(child.events[1]!.attributes).toMatchObject({ 'exception.message': 'connection reset', 'exception.type': 'Error' });
    expect(child.endTimeUnixNano).toBeGreaterThanOrEqual(child.startTimeUnixNano);
    expect(child.resourceAttributes).toBe(parent.resourceAttributes);
  });

  it('gzip-compressed exports decode to the same SpanRecords', async () => {
    const spans = await recordSpans();
    process.env[COMPRESSION_ENV] = 'gzip';
    expect(await exportWith(new ProtoTraceExporter({ url }), spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await exportWith(new JsonTraceExporter({ url }), spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(captured.map((c) => c.headers['content-encoding'])).toEqual(['gzip', 'gzip']);
    const expected = expectedRecords(spans);
    expect(captured[0]!.decoded.spans).toEqual(expected);
    expect(captured[1]!.decoded.spans).toEqual(withJsonBig(expected));
  });

  it.each([
    ['protobuf', (u: string): SpanExporter => new ProtoTraceExporter({ url: u })],
    ['JSON', (u: string): SpanExporter => new JsonTraceExporter({ url: u })],
  ])('the %s exporter reads our partial-success response', async (_name, make) => {
    const warnings: string[] = [];
    const record = (message: string, ...args: unknown[]): void => {
      warnings.push([message, ...args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)))].join(' '));
    };
    const noop = (): void => undefined;
    diag.setLogger({ error: record, warn: record, info: noop, debug: noop, verbose: noop }, DiagLogLevel.WARN);
    reply = { rejected: 2, message: '2 spans rejected: invalid span id length' };

    const result = await exportWith(make(url), await recordSpans());

    expect(result.code).toBe(ExportResultCode.SUCCESS);
    const partial = warnings.find((w) => w.includes('Partial Success'));
    expect(partial).toBeDefined();
    expect(partial).toContain('2 spans rejected: invalid span id length');
    expect(partial).toMatch(/"rejectedSpans":"?2"?/);
  });
});
