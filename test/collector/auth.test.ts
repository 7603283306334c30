import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { IngestPipeline, TRACE_EXPORT_PATH, startCollector, startGrpcReceiver, StoreSink } from '../../collector/index.js';
import type { RunningCollector, RunningGrpcReceiver } from '../../collector/index.js';
import { CollectorMetrics, collectorHooks } from '../../collector/metrics.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { LifecycleEvent, lifecycleEventId, lifecycleToJson } from '../../contracts/index.js';
import { BearerAuth, loadTls } from '../../server/index.js';
import { RemoteStore } from '../../store/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { captureLogger } from '../integration/_util.js';
import { parsePromText, promValue } from '../support/prom-text.js';
import { runSpans } from '../support/spans.js';
import { selfSignedCert, send } from '../support/tls.js';

const INGEST = 'ingest-9f1c2b7a4e5d6c8b';
const READ = 'read-3a7b9c1d2e4f6a8b';
const T0 = Date.UTC(2026, 10, 1, 12);
const NS = BigInt(T0) * 1_000_000n;
const dir = mkdtempSync(join(tmpdir(), 'jobslo-collector-auth-'));
const { certFile, keyFile } = selfSignedCert(dir);
const ca = readFileSync(certFile);
const { logger, lines } = captureLogger();
let store: DuckDbStore;
let collector: RunningCollector;
let metrics: CollectorMetrics;
let grpc: RunningGrpcReceiver;
let pipeline: IngestPipeline;

beforeAll(async () => {
  store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  metrics = new CollectorMetrics();
  const auth = new BearerAuth({ ingest: [INGEST], read: [READ] });
  const tls = loadTls(certFile, keyFile);
  pipeline = new IngestPipeline({ sink: metrics.instrument(new StoreSink(store, { logger }), 'store'), hooks: collectorHooks({ auth, metrics, logger }), logger });
  grpc = await startGrpcReceiver({ pipeline, port: 0, tls, logger });
  collector = await startCollector({
    sink: pipeline.sink,
    pipeline,
    port: 0,
    readStore: store,
    readListener: { host: '127.0.0.1', port: 0 },
    auth,
    tls,
    metrics,
    logger,
  });
});

afterAll(async () => {
  await grpc.close(1_000);
  await collector.close();
  await pipeline.sink.close();
  rmSync(dir, { recursive: true, force: true });
});

const spans = runSpans({ job: 'auth-job', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] });
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
const proto = { 'content-type': 'application/x-protobuf' };

describe('collector over TLS with bearer tokens', () => {
  const routes: { name: string; scope: 'ingest' | 'read'; call: (headers: Record<string, string>) => Promise<{ status: number; headers: Record<string, unknown>; body: string }> }[] = [
    { name: 'POST /v1/traces', scope: 'ingest', call: (h) => send(`${collector.url}/v1/traces`, { method: 'POST', headers: { ...proto, ...h }, body: encodeTraceRequestProto(spans), ca }) },
    {
      name: 'POST /v1/lifecycle',
      scope: 'ingest',
      call: (h) =>
        send(`${collector.url}/v1/lifecycle`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...h },
          body: JSON.stringify({ events: [lifecycleToJson({ eventId: lifecycleEventId('r-auth', 'job.queued', NS), type: LifecycleEvent.Queued, job: 'auth-job', runId: 'r-auth', timeUnixNano: NS, attributes: {} })] }),
          ca,
        }),
    },
    { name: 'GET /metrics', scope: 'read', call: (h) => send(`${collector.url}/metrics`, { headers: h, ca }) },
    {
      name: 'POST /api/v1/store (its own loopback listener)',
      scope: 'read',
      call: (h) => send(`${collector.readUrl}/api/v1/store`, { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: JSON.stringify({ method: 'jobNames', args: [{ fromMillis: T0 - 1, toMillis: T0 + 60_000 }] }) }),
    },
  ];
  for (const r of routes) {
    it(`${r.name}: 401 without a token or with a wrong one, 403 with the ${r.scope === 'ingest' ? 'read' : 'ingest'} token, 200 with the ${r.scope} token`, async () => {
      const none = await r.call({});
      expect(none.status).toBe(401);
      expect(String(none.headers['www-authenticate'])).toMatch(/^Bearer realm="jobslo"/);
      expect((await r.call(bearer('wrong-token-0000000000'))).status).toBe(401);
      expect((await r.call({ authorization: 'Basic dXNlcjpwYXNz' })).status).toBe(401);
      expect((await r.call(bearer(r.scope === 'ingest' ? READ : INGEST))).status).toBe(403);
      const ok = await r.call(bearer(r.scope === 'ingest' ? INGEST : READ));
      expect(ok.status, ok.body).toBe(200);
    });
  }

  it('gRPC over TLS: UNAUTHENTICATED without a token or with a wrong one, PERMISSION_DENIED with the read token, OK with the ingest token', async () => {
    const client = new Client(grpc.address.replace('127.0.0.1', 'localhost'), credentials.createSsl(ca));
    const call = (token?: string): Promise<number> => {
      const md = new Metadata();
      if (token !== undefined) md.set('authorization', `Bearer ${token}`);
      return new Promise((resolve) => {
        client.makeUnaryRequest(TRACE_EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(encodeTraceRequestProto(spans)), md, {}, (err: ServiceError | null) => resolve(err ? err.code : status.OK));
      });
    };
    try {
      expect(await call()).toBe(status.UNAUTHENTICATED);
      expect(await call('wrong-token-0000000000')).toBe(status.UNAUTHENTICATED);
      expect(await call(READ)).toBe(status.PERMISSION_DENIED);
      expect(await call(INGEST)).toBe(status.OK);
    } finally {
      client.close();
    }
    const m = parsePromText((await send(`${collector.url}/metrics`, { headers: bearer(READ), ca })).body);
    expect(promValue(m, 'jobslo_receiver_requests_total', { transport: 'grpc', outcome: 'unauthenticated' })).toBe(2);
    expect(promValue(m, 'jobslo_receiver_requests_total', { transport: 'grpc', outcome: 'forbidden' })).toBe(1);
    expect(promValue(m, 'jobslo_receiver_accepted_spans_total', { transport: 'grpc' })).toBe(spans.length);
  });

  it('/health needs no token; plain HTTP to the TLS port gets no answer from the collector', async () => {
    expect((await send(`${collector.url}/health`, { ca })).status).toBe(200);
    const plain = await send(collector.url.replace('https:', 'http:') + '/health').then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain === 'refused' || plain === 400).toBe(true);
  });

  it('the read-through client reads with the read token, and is refused without it', async () => {
    await send(`${collector.url}/v1/traces`, { method: 'POST', headers: { ...proto, ...bearer(INGEST) }, body: encodeTraceRequestProto(spans), ca });
    const range = { fromMillis: T0 - 1, toMillis: T0 + 60_000 };
    expect(await new RemoteStore(collector.readUrl as string, 'duckdb:test', 10_000, READ).jobNames(range)).toEqual(['auth-job']);
    await expect(new RemoteStore(collector.readUrl as string, 'duckdb:test', 10_000).jobNames(range)).rejects.toThrow(/answered 401/);
  });

  it('/metrics counts accepted spans and refused requests, and parses as Prometheus text', async () => {
    const before = parsePromText((await send(`${collector.url}/metrics`, { headers: bearer(READ), ca })).body);
    const accepted0 = promValue(before, 'jobslo_receiver_accepted_spans_total', { transport: 'http' });
    const unauth0 = promValue(before, 'jobslo_receiver_requests_total', { transport: 'http', signal: 'traces', outcome: 'unauthenticated' });
    expect((await send(`${collector.url}/v1/traces`, { method: 'POST', headers: { ...proto, ...bearer(INGEST) }, body: encodeTraceRequestProto(spans), ca })).status).toBe(200);
    expect((await send(`${collector.url}/v1/traces`, { method: 'POST', headers: proto, body: encodeTraceRequestProto(spans), ca })).status).toBe(401);
    const after = parsePromText((await send(`${collector.url}/metrics`, { headers: bearer(READ), ca })).body);
    expect(promValue(after, 'jobslo_receiver_accepted_spans_total', { transport: 'http' }) - accepted0).toBe(spans.length);
    expect(promValue(after, 'jobslo_receiver_requests_total', { transport: 'http', signal: 'traces', outcome: 'unauthenticated' }) - unauth0).toBe(1);
    expect(promValue(after, 'jobslo_receiver_request_duration_seconds_count', { transport: 'http', signal: 'traces' })).toBeGreaterThan(0);
    expect(promValue(after, 'jobslo_exporter_send_duration_seconds_count', { exporter: 'store', signal: 'spans', outcome: 'accepted' })).toBeGreaterThan(0);
    expect(promValue(after, 'jobslo_exporter_sent_items_total', { exporter: 'store', signal: 'spans' })).toBeGreaterThanOrEqual(spans.length);
    expect(promValue(after, 'jobslo_receiver_requests_in_flight')).toBe(0);
    expect(after.some((s) => 'job' in s.labels || 'instance' in s.labels)).toBe(false);
  });

  it('no token appears in the logs', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) for (const t of [INGEST, READ, 'wrong-token-0000000000']) expect(l).not.toContain(t);
  });
});
