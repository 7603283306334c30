import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, StoreSink } from '../../collector/index.js';
import type { RunningCollector } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };

let store: DuckDbStore;
let collector: RunningCollector;

beforeEach(async () => {
  store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  collector = await startCollector({ sink: new StoreSink(store), port: 0, maxBodyBytes: 64 * 1024 });
});

afterEach(async () => {
  await collector.close();
});

function goodProto(): Uint8Array {
  return encodeTraceRequestProto(
    runSpans({ job: 'ok-job', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] }),
  );
}

async function post(body: string | Uint8Array, headers: Record<string, string>): Promise<Response> {
  return fetch(`${collector.url}/v1/traces`, { method: 'POST', body, headers });
}

async function expectStillServing(): Promise<void> {
  const res = await post(Buffer.from(goodProto()), { 'content-type': 'application/x-protobuf' });
  expect(res.status).toBe(200);
}

describe('collector HTTP: bad input gets the right status and a message, and the server keeps serving', () => {
  const proto = { 'content-type': 'application/x-protobuf' };
  const json = { 'content-type': 'application/json' };
  const cases: { name: string; body: () => string | Uint8Array; headers: Record<string, string>; status: number; message: RegExp }[] = [
    { name: 'truncated protobuf', body: () => Buffer.from(goodProto().subarray(0, 37)), headers: proto, status: 400, message: /cannot decode protobuf/ },
    { name: 'invalid JSON', body: () => '{"resourceSpans": [', headers: json, status: 400, message: /cannot decode JSON/ },
    { name: 'wrong content type', body: () => 'hello', headers: { 'content-type': 'text/plain' }, status: 415, message: /application\/x-protobuf or application\/json/ },
    { name: 'empty body', body: () => '', headers: proto, status: 400, message: /empty request body/ },
    { name: 'oversized body', body: () => Buffer.alloc(200 * 1024, 1), headers: proto, status: 413, message: /limit/ },
    { name: 'gzip bomb over the limit', body: () => gzipSync(Buffer.alloc(1024 * 1024)), headers: { ...proto, 'content-encoding': 'gzip' }, status: 413, message: /decompressed body exceeds/ },
    { name: 'garbage gzip', body: () => Buffer.from('definitely not gzip'), headers: { ...proto, 'content-encoding': 'gzip' }, status: 400, message: /not valid gzip/ },
    { name: 'unknown content encoding', body: () => Buffer.from('x'), headers: { ...proto, 'content-encoding': 'br' }, status: 415, message: /Content-Encoding "br"/ },
  ];
  for (const c of cases) {
    it(`${c.name} -> ${c.status}`, async () => {
      const res = await post(c.body(), c.headers);
      expect(res.status).toBe(c.status);
      const isJson = (res.headers.get('content-type') ?? '').includes('json');
      const text = isJson ? ((await res.json()) as { message: string }).message : Buffer.from(await res.arrayBuffer()).toString('latin1');
      expect(text).toMatch(c.message);
      await expectStillServing();
    });
  }

  it('answers JSON requests with a JSON ExportTraceServiceResponse', async () => {
    const res = await post(
      JSON.stringify({ resourceSpans: [] }),
      json,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({});
  });

  it('reports spans with invalid ids as a partial success and stores the rest', async () => {
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [] },
          scopeSpans: [
            {
              scope: { name: 't' },
              spans: [
                { traceId: 'abcd', spanId: '0102030405060708', name: 'bad', startTimeUnixNano: '1', endTimeUnixNano: '2' },
                {
                  traceId: '0102030405060708090a0b0c0d0e0f10', spanId: '0102030405060708', name: 'good', startTimeUnixNano: String(BigInt(T0) * 1_000_000n), endTimeUnixNano: String(BigInt(T0 + 5) * 1_000_000n),
                  attributes: [
                    { key: 'jobslo.job.name', value: { stringValue: 'partial' } },
                    { key: 'jobslo.run.id', value: { stringValue: 'r1' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await post(JSON.stringify(body), json);
    expect(res.status).toBe(200);
    const payload = (await res.json()) as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } };
    expect(Number(payload.partialSuccess?.rejectedSpans)).toBe(1);
    expect(payload.partialSuccess?.errorMessage).toBeTruthy();
    const [agg] = await store.jobAggregates(RANGE);
    expect(agg).toMatchObject({ job: 'partial', runs: 1, succeeded: 1 });
  });

  it('accepts gzip-compressed protobuf and stores the run', async () => {
    const res = await post(gzipSync(goodProto()), { ...proto, 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await store.jobAggregates(RANGE)).toMatchObject([{ job: 'ok-job', runs: 1 }]);
  });

  it('answers 503 with Retry-After when the store cannot take the write', async () => {
    await store.close();
    const res = await post(Buffer.from(goodProto()), proto);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('answers 404 with a hint for unknown paths', async () => {
    const res = await fetch(`${collector.url}/v1/metrics`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { message: string }).message).toMatch(/POST \/v1\/traces/);
  });
});

describe('collector HTTP: live lifecycle events', () => {
  const url = (): string => `${collector.url}/v1/lifecycle`;
  const event = (runId: string, type: string, atMillis: number): Record<string, unknown> => ({
    schema: 'jobslo.lifecycle/v1',
    type,
    job: 'queued-job',
    run_id: runId,
    time_unix_nano: String(BigInt(atMillis) * 1_000_000n),
  });

  it('stores a batch and the waiting run shows in queue depth', async () => {
    const res = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [event('r1', 'job.queued', T0), event('r2', 'job.queued', T0 + 1), event('r2', 'job.started', T0 + 2)] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 3 });
    expect(await store.queueDepths(RANGE)).toEqual([{ job: 'queued-job', now: 1, max: 1 }]);
  });

  it('rejects a bad event naming the field, and stores the rest of the batch', async () => {
    const res = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [event('r1', 'job.queued', T0), { ...event('r3', 'job.exploded', T0) }] }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { accepted: number; rejected: number; errorMessage: string };
    expect(answer).toMatchObject({ accepted: 1, rejected: 1 });
    expect(answer.errorMessage).toMatch(/events\[1\]\.type: "job.exploded" is not a lifecycle event/);
    expect(await store.queueDepths(RANGE)).toEqual([{ job: 'queued-job', now: 1, max: 1 }]);
  });

  it('rejects an event whose time or attempt the stores cannot hold, and stores the rest', async () => {
    const res = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [
          event('r1', 'job.queued', T0),
          { ...event('r4', 'job.queued', T0), time_unix_nano: '9223372036854775808' },
          { ...event('r5', 'job.started', T0), attempt: 2 ** 31 },
          { ...event('r6', 'job.queued', T0), time_unix_nano: '1' },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { accepted: number; rejected: number; errorMessage: string };
    expect(answer).toMatchObject({ accepted: 1, rejected: 3 });
    expect(answer.errorMessage).toMatch(/time_unix_nano too far in the future/);
    expect(answer.errorMessage).toMatch(/attempt outside 0\.\.2147483647/);
    expect(answer.errorMessage).toMatch(/time_unix_nano before 2000-01-01/);
    expect(await store.queueDepths(RANGE)).toEqual([{ job: 'queued-job', now: 1, max: 1 }]);
  });

  it('reads a lifecycle time sent as a JSON number exactly', async () => {
    const at = 1_795_996_799_999_999_999n;
    const body = JSON.stringify({ events: [{ ...event('r7', 'job.queued', T0), time_unix_nano: 0 }] }).replace('"time_unix_nano":0', `"time_unix_nano":${at}`);
    const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    const rows = await store.query("SELECT time_ns FROM lifecycle_events WHERE run_id = 'r7'");
    expect(BigInt(rows[0]?.['time_ns'] as bigint)).toBe(at);
  });

  it('rejects other content types and unknown schema versions', async () => {
    const wrongType = await fetch(url(), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(wrongType.status).toBe(415);
    const wrongSchema = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ ...event('r1', 'job.queued', T0), schema: 'jobslo.lifecycle/v9' }] }),
    });
    expect(wrongSchema.status).toBe(200);
    expect(await wrongSchema.json()).toMatchObject({ accepted: 0, rejected: 1, errorMessage: expect.stringMatching(/events\[0\]\.schema: expected "jobslo.lifecycle\/v1"/) as unknown });
    const notABatch = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"event": []}' });
    expect(notABatch.status).toBe(400);
  });
});

describe('collector HTTP: per-connection limits', () => {
  let limited: RunningCollector;
  afterEach(async () => {
    limited.server.closeAllConnections();
    await limited.close();
  });

  /** A raw TCP client: what it received, and a promise of its close. */
  const raw = (port: number): { socket: Socket; received: () => string; closed: Promise<void> } => {
    const socket = tcpConnect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    return { socket, received: () => text, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
  };
  const request = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

  it('closes connections past maxConnections as they arrive, and takes new ones once others close', async () => {
    limited = await startCollector({ sink: new StoreSink(store), port: 0, connections: { maxConnections: 2 } });
    const [a, b] = [raw(limited.port), raw(limited.port)];
    for (const c of [a, b]) c.socket.write(request);
    await until('two answers', () => a.received().includes('200 OK') && b.received().includes('200 OK'));
    const c = raw(limited.port);
    await c.closed;
    expect(c.received()).toBe('');
    a.socket.destroy();
    await a.closed;
    await until('a new connection to be served', async () => (await fetch(`${limited.url}/health`).catch(() => undefined))?.status === 200);
    b.socket.destroy();
  });

  it('answers 408 and closes a connection whose request does not arrive within requestTimeoutMillis', async () => {
    limited = await startCollector({ sink: new StoreSink(store), port: 0, connections: { headersTimeoutMillis: 500, requestTimeoutMillis: 500 } });
    const slow = raw(limited.port);
    slow.socket.write('POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/x-protobuf\r\ncontent-length: 100\r\n\r\nonly part of the body');
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    // Its admission (and the 100 bytes it declared) is given back.
    await until('the request to leave the in-flight count', () => limited.pipeline.inFlight().requests === 0 && limited.pipeline.inFlight().bytes === 0);
  });

  it('closes an idle keep-alive connection after keepAliveTimeoutMillis', async () => {
    limited = await startCollector({ sink: new StoreSink(store), port: 0, connections: { keepAliveTimeoutMillis: 200 } });
    const idle = raw(limited.port);
    idle.socket.write(request);
    await idle.closed;
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200 /);
  });
});

/** Polls `check` until it holds (a condition, not a fixed wait). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
