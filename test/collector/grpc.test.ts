import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { Client, Metadata, connectivityState, credentials, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IngestPipeline, StoreSink, TRACE_EXPORT_PATH, startGrpcReceiver } from '../../collector/index.js';
import type { GrpcReceiverOptions, RunningGrpcReceiver } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { ProtoReader } from '../../collector/otlp/internal/proto-reader.js';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ExportResultCode, exportSpans, recordSdkRuns } from '../support/sdk-runs.js';
import { partialSuccess } from '../support/otlp-response.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 86_400_000 };

let store: DuckDbStore;
let receiver: RunningGrpcReceiver;
let pipeline: IngestPipeline;
const clients: Client[] = [];

async function start(options: Partial<ConstructorParameters<typeof IngestPipeline>[0]> = {}, maxReceiveMessageBytes?: number, limits: Partial<GrpcReceiverOptions> = {}): Promise<void> {
  pipeline = new IngestPipeline({ sink: new StoreSink(store), ...options });
  receiver = await startGrpcReceiver({ pipeline, port: 0, ...(maxReceiveMessageBytes ? { maxReceiveMessageBytes } : {}), ...limits });
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

/** A client with a connection of its own (grpc-js shares connections between clients to one address otherwise). */
function ownClient(): Client {
  const client = new Client(receiver.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  return client;
}

/** One raw unary call with protobuf bytes, as any OTLP/gRPC exporter makes it. */
function call(body: Uint8Array, metadata = new Metadata(), client?: Client): Promise<Answer> {
  if (client === undefined) {
    client = new Client(receiver.address, credentials.createInsecure());
    clients.push(client);
  }
  const c = client;
  return new Promise((resolve) => {
    const client = c;
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
    expect(partialSuccess(a.response)).toEqual({ rejected: 1, message: expect.stringMatching(/jobslo\.run\.attempts outside 0\.\.2147483647/) as unknown });
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

/** Polls `check` until it holds (a condition, not a fixed wait). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A bare HTTP/2 peer (connection preface and an empty SETTINGS frame, then
 * nothing unless asked): counts the PING frames the server sends and, with
 * `answerPings`, acknowledges them as every real client does.
 */
function bareHttp2Peer(address: string, answerPings: boolean): { socket: Socket; pings: () => number; closed: Promise<void> } {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const socket = tcpConnect(port, host);
  let pings = 0;
  let buf = Buffer.alloc(0);
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const length = buf.readUIntBE(0, 3);
      if (buf.length < 9 + length) break;
      const [type, flags] = [buf[3], buf[4] as number];
      const payload = buf.subarray(9, 9 + length);
      if (type === 4 && (flags & 1) === 0) socket.write(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0])); // SETTINGS ack
      if (type === 6 && (flags & 1) === 0) {
        pings++;
        if (answerPings) socket.write(Buffer.concat([Buffer.from([0, 0, 8, 6, 1, 0, 0, 0, 0]), payload]));
      }
      buf = buf.subarray(9 + length);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  return { socket, pings: () => pings, closed };
}

describe('OTLP/gRPC receiver: per-connection limits', () => {
  it('closes connections past maxConnections as they arrive (UNAVAILABLE for that client), and takes new ones once others close', async () => {
    await start({}, undefined, { maxConnections: 2 });
    const [a, b, c] = [ownClient(), ownClient(), ownClient()];
    expect((await call(encodeTraceRequestProto(goodRuns(1, 'conn-a')), new Metadata(), a)).code).toBe(status.OK);
    expect((await call(encodeTraceRequestProto(goodRuns(1, 'conn-b')), new Metadata(), b)).code).toBe(status.OK);
    const refused = await call(encodeTraceRequestProto(goodRuns(1, 'conn-c')), new Metadata(), c);
    expect(refused.code).toBe(status.UNAVAILABLE);
    a.close();
    // The third client reconnects by itself once a connection is free.
    await until('a call on the third connection to pass', async () => (await call(encodeTraceRequestProto(goodRuns(1, 'conn-c')), new Metadata(), c)).code === status.OK);
    expect((await store.jobAggregates(RANGE)).map((x) => x.job)).toEqual(['conn-a', 'conn-b', 'conn-c']);
  });

  it('closes a connection without calls after maxConnectionIdleMillis (the client goes IDLE, then reconnects for its next call)', async () => {
    await start({}, undefined, { maxConnectionIdleMillis: 300 });
    const client = ownClient();
    expect((await call(encodeTraceRequestProto(goodRuns(1, 'idle-1')), new Metadata(), client)).code).toBe(status.OK);
    expect(client.getChannel().getConnectivityState(false)).toBe(connectivityState.READY);
    await until('the server to close the idle connection', () => client.getChannel().getConnectivityState(false) === connectivityState.IDLE);
    expect((await call(encodeTraceRequestProto(goodRuns(1, 'idle-2')), new Metadata(), client)).code).toBe(status.OK);
  });

  it('pings quiet connections every keepaliveTimeMillis and closes one whose peer does not answer within keepaliveTimeoutMillis', async () => {
    await start({}, undefined, { keepaliveTimeMillis: 100, keepaliveTimeoutMillis: 200 });
    const answering = bareHttp2Peer(receiver.address, true);
    const silent = bareHttp2Peer(receiver.address, false);
    await silent.closed;
    expect(silent.pings()).toBeGreaterThanOrEqual(1);
    // The peer that answers stays connected through several pings.
    await until('three pings answered', () => answering.pings() >= 3);
    expect(answering.socket.destroyed).toBe(false);
    answering.socket.destroy();
  });

  it('refuses a message over maxReceiveMessageBytes with RESOURCE_EXHAUSTED from the real client, and the connection keeps serving', async () => {
    await start({}, 2048);
    const client = ownClient();
    const big = await call(encodeTraceRequestProto(goodRuns(40, 'big')), new Metadata(), client);
    expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(retryDelayMillis(big.trailers)).toBeUndefined();
    expect((await call(encodeTraceRequestProto(goodRuns(1, 'small')), new Metadata(), client)).code).toBe(status.OK);
    expect(pipeline.inFlight()).toMatchObject({ requests: 0, bytes: 0 });
  });
});
