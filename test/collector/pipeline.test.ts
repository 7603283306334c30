import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IngestPipeline, OUTCOME_STATUS, StoreSink, startCollector } from '../../collector/index.js';
import type { ExportOutcome, RunningCollector } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 86_400_000 };

let store: DuckDbStore;
const open: RunningCollector[] = [];

beforeEach(async () => {
  store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
});

afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

async function collector(options: Partial<Parameters<typeof startCollector>[0]> = {}): Promise<RunningCollector> {
  const c = await startCollector({ sink: new StoreSink(store), port: 0, ...options });
  open.push(c);
  return c;
}

function goodRuns(n: number, job = 'good'): SpanRecord[] {
  const spans: SpanRecord[] = [];
  for (let i = 0; i < n; i++) {
    spans.push(...runSpans({ job, startMillis: T0 + i * 1000, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] }));
  }
  return spans;
}

function poison(attributes: Record<string, string | number>): SpanRecord {
  const [run] = runSpans({ job: 'poison', startMillis: T0, outcome: 'succeeded', attempts: [] });
  return { ...(run as SpanRecord), attributes: { ...(run as SpanRecord).attributes, ...attributes } };
}

async function postProto(url: string, spans: readonly SpanRecord[]): Promise<Response> {
  return fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: jsonBody(spans) });
}

/** OTLP/JSON body (times and ints as strings, so the test does not depend on the protobuf encoder). */
function jsonBody(spans: readonly SpanRecord[]): string {
  const value = (v: unknown): unknown =>
    typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fixture' } }] },
        scopeSpans: [
          {
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.startTimeUnixNano.toString(),
              endTimeUnixNano: s.endTimeUnixNano.toString(),
              status: { code: s.statusCode },
              attributes: Object.entries(s.attributes).map(([key, v]) => ({ key, value: value(v) })),
            })),
          },
        ],
      },
    ],
  });
}

describe('ingest pipeline: one bad span is rejected through partial success, the rest stored (DuckDB)', () => {
  const poisons: { name: string; attributes: Record<string, string | number> }[] = [
    { name: 'attempt number 2^31', attributes: { 'jobslo.attempt.number': 2 ** 31, 'jobslo.span.type': 'attempt' } },
    { name: 'run attempts 2^31', attributes: { 'jobslo.run.attempts': 2 ** 31 } },
    { name: 'exit code 1e15', attributes: { 'process.exit.code': 1e15 } },
    { name: 'queued time past int64', attributes: { 'jobslo.run.queued_time_unix_nano': '9223372036854775808' } },
    { name: 'negative CPU seconds', attributes: { 'jobslo.resource.cpu_seconds': -3 } },
  ];
  for (const p of poisons) {
    it(`${p.name}: 200, rejected_spans 1 with the reason, every good run stored`, async () => {
      const c = await collector();
      const res = await postProto(c.url, [...goodRuns(20), poison(p.attributes), ...goodRuns(5, 'good-2')]);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } };
      expect(body.partialSuccess?.rejectedSpans).toBe('1');
      expect(body.partialSuccess?.errorMessage).toContain(Object.keys(p.attributes)[0]);
      const aggs = await store.jobAggregates(RANGE);
      expect(aggs.map((a) => [a.job, a.runs])).toEqual([
        ['good', 20],
        ['good-2', 5],
      ]);
    });
  }

  it('a span with end before start is rejected, not stored with a clamped end', async () => {
    const c = await collector();
    const [run] = goodRuns(1, 'backwards');
    const bad = { ...(run as SpanRecord), endTimeUnixNano: (run as SpanRecord).startTimeUnixNano - 1n };
    const res = await postProto(c.url, [bad]);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { partialSuccess: { errorMessage: string } }).partialSuccess.errorMessage).toMatch(/end time before start time/);
    expect(await store.jobAggregates(RANGE)).toEqual([]);
  });
});

describe('StoreSink: permanent store failures are told from retryable ones', () => {
  it('isolates the spans the store refuses (validation bypassed), stores the others and reports a partial result', async () => {
    const sink = new StoreSink(store);
    // Straight to the sink: the store itself refuses a value its INTEGER column cannot hold.
    const result = await sink.write([...goodRuns(30), poison({ 'jobslo.run.attempts': 2 ** 40 }), ...goodRuns(3, 'good-2')]);
    expect(result).toMatchObject({ kind: 'partial', rejected: 1 });
    const aggs = await store.jobAggregates(RANGE);
    expect(aggs.map((a) => [a.job, a.runs])).toEqual([
      ['good', 30],
      ['good-2', 3],
    ]);
  });

  it('writes that arrive while the store is busy are committed together, and one write the store refuses costs the others nothing', async () => {
    const sink = new StoreSink(store, { maxQueueWaitMillis: 60_000 });
    // All issued at once: the first insert runs alone, the rest wait and go into shared inserts.
    const writes = Array.from({ length: 6 }, (_, i) => sink.write(i === 3 ? [...goodRuns(4, 'shared-bad'), poison({ 'jobslo.run.attempts': 2 ** 40 })] : goodRuns(5, `shared-${i}`)));
    const results = await Promise.all(writes);
    expect(results.map((r) => r.kind)).toEqual(['accepted', 'accepted', 'accepted', 'partial', 'accepted', 'accepted']);
    expect(results[3]).toMatchObject({ kind: 'partial', rejected: 1 });
    const aggs = await store.jobAggregates(RANGE);
    expect(aggs.map((a) => [a.job, a.runs])).toEqual([
      ['shared-0', 5],
      ['shared-1', 5],
      ['shared-2', 5],
      ['shared-4', 5],
      ['shared-5', 5],
      ['shared-bad', 4],
    ]);
  });

  it('a store that takes nothing (closed) is retryable: 503 + Retry-After, never a permanent answer', async () => {
    const c = await collector();
    await store.close();
    const res = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(encodeTraceRequestProto(goodRuns(2))) });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('OUTCOME_STATUS: one table for HTTP and gRPC', () => {
  it('maps each outcome per the OTLP spec (retryable only 429/503 with RetryInfo)', () => {
    const rows = Object.entries(OUTCOME_STATUS).map(([k, v]) => `${k} ${v.http} ${v.grpc} ${v.retry}`);
    expect(rows).toEqual([
      'accepted 200 0 false',
      'partial 200 0 false',
      'invalid 400 3 false',
      'unsupported 415 12 false',
      'too_large 413 8 false',
      'throttled 429 8 true',
      'unavailable 503 14 true',
      'permanent 400 3 false',
      'unauthenticated 401 16 false',
      'forbidden 403 7 false',
      'internal 500 13 false',
    ]);
  });

  it('the auth hook runs before any body byte is read, and onOutcome sees every request once', async () => {
    const seen: string[] = [];
    const c = await collector({
      hooks: {
        authorize: (req) => (req.header('authorization') === 'Bearer ok' ? undefined : { kind: 'unauthenticated', message: 'no token' }),
        onOutcome: (req, outcome: ExportOutcome) => seen.push(`${req.transport} ${req.signal} ${outcome.kind}`),
      },
    });
    const denied = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.alloc(10) });
    expect(denied.status).toBe(401);
    const ok = await fetch(`${c.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer ok' },
      body: Buffer.from(encodeTraceRequestProto(goodRuns(1))),
    });
    expect(ok.status).toBe(200);
    expect(seen).toEqual(['http traces unauthenticated', 'http traces accepted']);
  });
});

/** Sends headers and `first` bytes of a body and keeps the request open; resolves once the server has it. */
function hangingRequest(url: string, headers: Record<string, string>, first: Buffer): { done: Promise<number>; finish(rest: Buffer): void } {
  const u = new URL(`${url}/v1/traces`);
  let resolveStatus: (n: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (resolveStatus = resolve));
  const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
    res.resume();
    resolveStatus(res.statusCode ?? 0);
  });
  req.on('error', () => resolveStatus(-1));
  req.write(first);
  return { done, finish: (rest) => req.end(rest) };
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

function rawPost(url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const u = new URL(`${url}/v1/traces`);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('backpressure: bounds checked before the body is read', () => {
  it('past the in-flight request bound: 429 + Retry-After at once; the held request still succeeds', async () => {
    const c = await collector({ admission: { maxInFlightRequests: 1 } });
    const body = Buffer.from(encodeTraceRequestProto(goodRuns(3)));
    const held = hangingRequest(c.url, { 'content-type': 'application/x-protobuf', 'content-length': String(body.length) }, body.subarray(0, 10));
    await waitFor(() => c.pipeline.inFlight().requests === 1);
    const refused = await rawPost(c.url, { 'content-type': 'application/json' }, Buffer.from('{}'));
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body)).toMatchObject({ code: 8, message: expect.stringMatching(/collector at capacity/) as unknown });
    held.finish(body.subarray(10));
    expect(await held.done).toBe(200);
    expect((await store.jobAggregates(RANGE))[0]?.runs).toBe(3);
    expect(c.pipeline.inFlight()).toMatchObject({ requests: 0, bytes: 0 });
  });

  it('a declared Content-Length past the byte budget: 429 before its body is read', async () => {
    const c = await collector({ admission: { maxInFlightBytes: 64 * 1024 }, maxBodyBytes: 1024 * 1024 });
    const held = hangingRequest(c.url, { 'content-type': 'application/x-protobuf', 'content-length': String(60 * 1024) }, Buffer.alloc(10));
    await waitFor(() => c.pipeline.inFlight().bytes > 0);
    // The refused request never sends its body: the answer comes from the headers alone.
    const u = new URL(`${c.url}/v1/traces`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-length': String(10 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(429);
    held.finish(Buffer.alloc(60 * 1024 - 10));
    expect(await held.done).toBe(400); // zeros are not a valid protobuf message
  });

  it('a chunked body that passes the byte budget while streaming: 429, and the budget is released', async () => {
    const c = await collector({ admission: { maxInFlightBytes: 64 * 1024 }, maxBodyBytes: 1024 * 1024 });
    const held = hangingRequest(c.url, { 'content-type': 'application/x-protobuf', 'content-length': String(40 * 1024) }, Buffer.alloc(10));
    await waitFor(() => c.pipeline.inFlight().bytes > 0);
    const refused = await rawPost(c.url, { 'content-type': 'application/x-protobuf', 'transfer-encoding': 'chunked' }, Buffer.alloc(40 * 1024));
    expect(refused.status).toBe(429);
    held.finish(Buffer.alloc(40 * 1024 - 10));
    await held.done;
    await waitFor(() => c.pipeline.inFlight().requests === 0);
    expect(c.pipeline.inFlight().bytes).toBe(0);
  });

  it('one request larger than the whole budget still passes when it is alone', async () => {
    const pipeline = new IngestPipeline({ sink: new StoreSink(store), admission: { maxInFlightBytes: 10 } });
    const c = await collector({ pipeline });
    const res = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(encodeTraceRequestProto(goodRuns(1))) });
    expect(res.status).toBe(200);
  });
});
