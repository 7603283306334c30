import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IngestPipeline, StoreSink, TRACE_EXPORT_PATH, startGrpcReceiver } from '../../collector/index.js';
import type { RunningGrpcReceiver } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { ProtoReader } from '../../collector/otlp/internal/proto-reader.js';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ExportResultCode, exportSpans, recordSdkRuns } from '../support/sdk-runs.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 86_400_000 };

let store: DuckDbStore;
let receiver: RunningGrpcReceiver;
let pipeline: IngestPipeline;
const clients: Client[] = [];

async function start(options: Partial<ConstructorParameters<typeof IngestPipeline>[0]> = {}, maxReceiveMessageBytes?: number): Promise<void> {
  pipeline = new IngestPipeline({ sink: new StoreSink(store), ...options });
  receiver = await startGrpcReceiver({ pipeline, port: 0, ...(maxReceiveMessageBytes ? { maxReceiveMessageBytes } : {}) });
}

beforeEach(async () => {
  store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await receiver.close(1_000);
  await store.close();
});

interface Answer {
  code: number;
  details: string;
  response?: Buffer;
  trailers?: Metadata;
}

/** One raw unary call with protobuf bytes, as any OTLP/gRPC exporter makes it. */
function call(body: Uint8Array, metadata = new Metadata()): Promise<Answer> {
  const client = new Client(receiver.address, credentials.createInsecure());
  clients.push(client);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      TRACE_EXPORT_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      metadata,
      {},
      (err: ServiceError | null, response?: Buffer) => {
        if (err) resolve({ code: err.code, details: err.details, trailers: err.metadata });
        else resolve({ code: status.OK, details: '', ...(response ? { response } : {}) });
      },
    );
  });
}

function goodRuns(n: number, job = 'grpc-good'): SpanRecord[] {
  const spans: SpanRecord[] = [];
  for (let i = 0; i < n; i++) spans.push(...runSpans({ job, startMillis: T0 + i * 1000, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] }));
  return spans;
}

/** Seconds and nanos of the RetryInfo in a `google.rpc.retryinfo-bin` trailer. */
function retryDelayMillis(trailers: Metadata | undefined): number | undefined {
  const bin = trailers?.get('google.rpc.retryinfo-bin')[0];
  if (!(bin instanceof Buffer)) return undefined;
  const r = new ProtoReader(bin);
  let millis = 0;
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag !== 0x0a) {
      r.skip(tag);
      continue;
    }
    const outer = r.enter();
    while (r.pos < r.limit) {
      const t = r.tag();
      if (t === 0x08) millis += Number(r.int64()) * 1000;
      else if (t === 0x10) millis += Number(r.int64()) / 1e6;
      else r.skip(t);
    }
    r.leave(outer);
  }
  return millis;
}

/** `partial_success` of an ExportTraceServiceResponse: rejected count and message. */
function partial(response: Buffer | undefined): { rejected: number; message: string } {
  const out = { rejected: 0, message: '' };
  if (!response) return out;
  const r = new ProtoReader(response);
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag !== 0x0a) {
      r.skip(tag);
      continue;
    }
    const outer = r.enter();
    while (r.pos < r.limit) {
      const t = r.tag();
      if (t === 0x08) out.rejected = Number(r.int64());
      else if (t === 0x12) out.message = r.string();
      else r.skip(t);
    }
    r.leave(outer);
  }
  return out;
}

describe('OTLP/gRPC receiver: the OpenTelemetry JS gRPC exporter into DuckDB', () => {
  for (const compression of ['none', 'gzip'] as const) {
    it(`stores exactly the runs sent (${compression})`, async () => {
      await start();
      const spans = await recordSdkRuns({ job: `sdk-grpc-${compression}`, runs: 40, startMillis: T0 });
      const exporter = new GrpcTraceExporter({ url: `http://${receiver.address}`, ...(compression === 'gzip' ? { compression: 'gzip' as never } : {}) });
      expect(await exportSpans(exporter, spans)).toMatchObject({ code: ExportResultCode.SUCCESS });
      const [agg] = await store.jobAggregates(RANGE);
      expect(agg).toMatchObject({ job: `sdk-grpc-${compression}`, runs: 40, succeeded: 40 });
    });
  }

  it('the poison-span case: every good run stored, the bad span reported in partial success', async () => {
    await start();
    const spans = await recordSdkRuns({ job: 'sdk-poison', runs: 50, startMillis: T0, runAttributes: (i) => (i === 17 ? { 'jobslo.run.attempts': 2 ** 31 } : {}) });
    const a = await call(encodeTraceRequestProto(toRecords(spans)));
    expect(a.code).toBe(status.OK);
    expect(partial(a.response)).toEqual({ rejected: 1, message: expect.stringMatching(/jobslo\.run\.attempts outside 0\.\.2147483647/) as unknown });
    // The good runs, and run 17's attempt (its run span was rejected), are stored.
    const [agg] = await store.jobAggregates(RANGE);
    expect(agg?.runs).toBe(49);
    // The real SDK exporter treats partial success as success (and logs it).
    const again = await recordSdkRuns({ job: 'sdk-poison-2', runs: 50, startMillis: T0, runAttributes: (i) => (i === 3 ? { 'process.exit.code': 1e15 } : {}) });
    expect(await exportSpans(new GrpcTraceExporter({ url: `http://${receiver.address}` }), again)).toMatchObject({ code: ExportResultCode.SUCCESS });
    const aggs = await store.jobAggregates(RANGE);
    expect(aggs.find((x) => x.job === 'sdk-poison-2')?.runs).toBe(49);
  });
});

describe('OTLP/gRPC receiver: status codes and RetryInfo per the OTLP spec', () => {
  it('OK with an empty ExportTraceServiceResponse for a good request', async () => {
    await start();
    const a = await call(encodeTraceRequestProto(goodRuns(3)));
    expect(a).toMatchObject({ code: status.OK });
    expect(a.response?.length).toBe(0);
    expect((await store.jobAggregates(RANGE))[0]?.runs).toBe(3);
  });

  it('INVALID_ARGUMENT for bytes that are not an ExportTraceServiceRequest, then keeps serving', async () => {
    await start();
    const a = await call(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]));
    expect(a.code).toBe(status.INVALID_ARGUMENT);
    expect(a.details).toMatch(/cannot decode protobuf/);
    expect(retryDelayMillis(a.trailers)).toBeUndefined();
    expect((await call(encodeTraceRequestProto(goodRuns(1)))).code).toBe(status.OK);
  });

  it('UNAVAILABLE + RetryInfo when the store cannot take the write', async () => {
    await start();
    await store.close();
    const a = await call(encodeTraceRequestProto(goodRuns(1)));
    expect(a.code).toBe(status.UNAVAILABLE);
    expect(retryDelayMillis(a.trailers)).toBe(1000);
    expect(a.trailers?.get('grpc-status-details-bin')[0]).toBeInstanceOf(Buffer);
  });

  it('RESOURCE_EXHAUSTED + RetryInfo at the in-flight bound, decided from the metadata alone', async () => {
    await start({ admission: { maxInFlightRequests: 0 } });
    const a = await call(encodeTraceRequestProto(goodRuns(1)));
    expect(a.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(a.details).toMatch(/collector at capacity/);
    expect(retryDelayMillis(a.trailers)).toBe(1000);
    expect(pipeline.inFlight()).toMatchObject({ requests: 0, bytes: 0 });
  });

  it('RESOURCE_EXHAUSTED without RetryInfo (not retryable) for a message over the size limit', async () => {
    await start({}, 1024);
    const a = await call(encodeTraceRequestProto(goodRuns(20)));
    expect(a.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(retryDelayMillis(a.trailers)).toBeUndefined();
    expect(pipeline.inFlight()).toMatchObject({ requests: 0, bytes: 0 });
    expect((await call(encodeTraceRequestProto(goodRuns(1)))).code).toBe(status.OK);
  });

  it('gzip-compressed calls (grpc-encoding: gzip) are decoded by the transport', async () => {
    await start();
    const spans = await recordSdkRuns({ job: 'gz', runs: 5, startMillis: T0 });
    expect(await exportSpans(new GrpcTraceExporter({ url: `http://${receiver.address}`, compression: 'gzip' as never }), spans)).toMatchObject({ code: 0 });
    expect((await store.jobAggregates(RANGE))[0]).toMatchObject({ job: 'gz', runs: 5 });
  });

  it('the auth hook sees gRPC metadata and refuses before the message', async () => {
    await start({ hooks: { authorize: (req) => (req.header('authorization') === 'Bearer t' ? undefined : { kind: 'unauthenticated', message: 'missing bearer token' }) } });
    const denied = await call(encodeTraceRequestProto(goodRuns(1)));
    expect(denied).toMatchObject({ code: status.UNAUTHENTICATED, details: 'missing bearer token' });
    const md = new Metadata();
    md.set('authorization', 'Bearer t');
    expect((await call(encodeTraceRequestProto(goodRuns(1)), md)).code).toBe(status.OK);
  });
});

/** The SDK's spans as SpanRecords, through its own protobuf exporter's encoding rules (ids, times, attributes). */
function toRecords(spans: Awaited<ReturnType<typeof recordSdkRuns>>): SpanRecord[] {
  return spans.map((s) => {
    const ctx = s.spanContext();
    const ns = (t: [number, number]): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
    return {
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: s.parentSpanContext?.spanId ?? '',
      traceState: '',
      name: s.name,
      kind: s.kind + 1,
      startTimeUnixNano: ns(s.startTime),
      endTimeUnixNano: ns(s.endTime),
      statusCode: s.status.code,
      statusMessage: s.status.message ?? '',
      attributes: { ...(s.attributes as Record<string, string | number | boolean>) },
      events: [],
      resourceAttributes: { 'service.name': 'sdk-interop' },
      scopeName: 'jobslo-sdk-interop',
      scopeVersion: '1.0.0',
    };
  });
}
