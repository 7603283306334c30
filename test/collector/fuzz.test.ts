/**
 * Seeded, bounded fuzzing of every receiver: thousands of mutated OTLP
 * protobuf and JSON bodies over HTTP and gRPC, lifecycle batches and read
 * API calls, against a real collector on DuckDB. Every answer must be one
 * of the statuses the OTLP spec and docs/collector.md allow, a good request
 * must be answered after each class, and afterwards no figure the analyzer
 * reads is negative, NaN or outside the accepted ranges.
 *
 * The seed is fixed (JOBSLO_FUZZ_SEED overrides it) so a failure replays.
 */
import { gzipSync } from 'node:zlib';
import { request } from 'node:http';
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestPipeline, StoreSink, TRACE_EXPORT_PATH, startCollector, startGrpcReceiver } from '../../collector/index.js';
import type { RunningCollector, RunningGrpcReceiver } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import type { AttributeValue, Attributes, SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';

const SEED = Number(process.env['JOBSLO_FUZZ_SEED'] ?? 20261202);
const HTTP_ALLOWED = new Set([200, 400, 401, 413, 415, 429, 503]);
const GRPC_ALLOWED = new Set([status.OK, status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.RESOURCE_EXHAUSTED, status.UNAVAILABLE]);
const NOW = Date.now();
const T0 = NOW - 86_400_000;
const DAY_NS = 86_400_000_000_000n;

/** mulberry32: small, fast, seedable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
const hex = (bytes: number): string => Array.from({ length: bytes }, () => int(256).toString(16).padStart(2, '0')).join('');

const ODD_NUMBERS: AttributeValue[] = [-5, -1, 0, 1, 3, 1.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e15, 1e308, -1e308, Number.NaN, Infinity, -Infinity, '7', '-3', 'x', '', true, null, '9223372036854775808', '18446744073709551615'];
const ODD_TIMES: bigint[] = [0n, 1n, 946_684_799_999_999_999n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, BigInt(NOW + 2 * 86_400_000) * 1_000_000n];

function plausibleNs(): bigint {
  return BigInt(T0 + int(3_600_000)) * 1_000_000n + BigInt(int(1_000_000));
}

/** A span with job attributes whose values are often hostile. */
function randomSpan(): SpanRecord {
  const job = `fuzz-${int(5)}`;
  const runId = `r${int(40)}`;
  const type = pick(['run', 'attempt', 'attempt', '', 'other']);
  let start = rand() < 0.85 ? plausibleNs() : pick(ODD_TIMES);
  let end = rand() < 0.85 ? start + BigInt(int(600_000)) * 1_000_000n : pick(ODD_TIMES);
  if (rand() < 0.05) [start, end] = [end, start];
  const attributes: Attributes = { 'jobslo.job.name': job, 'jobslo.run.id': runId };
  if (type !== '') attributes['jobslo.span.type'] = type;
  const maybe = (key: string, good: () => AttributeValue): void => {
    if (rand() < 0.5) attributes[key] = rand() < 0.7 ? good() : pick(ODD_NUMBERS);
  };
  maybe('jobslo.attempt.number', () => 1 + int(4));
  maybe('jobslo.run.attempts', () => 1 + int(4));
  maybe('process.exit.code', () => int(3));
  maybe('jobslo.resource.cpu_seconds', () => rand() * 100);
  maybe('jobslo.resource.max_rss_bytes', () => int(1 << 30));
  maybe('jobslo.cost.amount', () => rand());
  maybe('jobslo.run.queued_time_unix_nano', () => String(start - BigInt(int(60_000)) * 1_000_000n));
  if (rand() < 0.3) attributes['jobslo.run.outcome'] = pick(['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'weird']);
  if (rand() < 0.3) attributes['jobslo.attempt.outcome'] = pick(['succeeded', 'failed', 'timed_out']);
  return {
    traceId: rand() < 0.02 ? '00000000000000000000000000000000' : hex(16),
    spanId: hex(8),
    parentSpanId: type === 'attempt' ? hex(8) : '',
    traceState: '',
    name: 'fuzz',
    kind: rand() < 0.95 ? int(6) : 7 + int(100),
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    statusCode: rand() < 0.95 ? int(3) : 3 + int(10),
    statusMessage: '',
    attributes,
    events: rand() < 0.2 ? [{ name: 'job.queued', timeUnixNano: rand() < 0.7 ? start - 1_000_000n : pick(ODD_TIMES), attributes: {} }] : [],
    resourceAttributes: { 'service.name': 'fuzz' },
    scopeName: 'fuzz',
    scopeVersion: '1',
  };
}

function randomSpans(): SpanRecord[] {
  return Array.from({ length: 1 + int(12) }, randomSpan);
}

/** Byte-level mutation: flips, inserts, deletes, truncation, duplicated ranges. */
function mutateBytes(src: Uint8Array): Buffer {
  const b = Buffer.from(src);
  const parts: number[] = [...b];
  const ops = 1 + int(4);
  for (let k = 0; k < ops && parts.length > 0; k++) {
    const at = int(parts.length);
    switch (int(5)) {
      case 0:
        parts[at] = int(256);
        break;
      case 1:
        parts.splice(at, 0, ...Array.from({ length: 1 + int(8) }, () => int(256)));
        break;
      case 2:
        parts.splice(at, 1 + int(8));
        break;
      case 3:
        parts.length = at;
        break;
      default: {
        const len = 1 + int(16);
        parts.splice(at, 0, ...parts.slice(at, at + len));
      }
    }
  }
  return Buffer.from(parts);
}

/** A mutated OTLP/JSON body: structural changes to a valid tree, or raw text damage. */
function jsonBody(): string {
  const spans = randomSpans();
  const value = (v: AttributeValue): unknown =>
    typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : v === null ? {} : typeof v === 'number' && Number.isInteger(v) ? { intValue: v } : { doubleValue: typeof v === 'number' && !Number.isFinite(v) ? String(v) : v };
  const tree: Record<string, unknown> = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fuzz' } }] },
        scopeSpans: [
          {
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId,
              name: s.name,
              kind: s.kind,
              // Numbers or strings, both legal; numbers of 20 digits are read exactly.
              startTimeUnixNano: rand() < 0.5 ? s.startTimeUnixNano.toString() : `@${s.startTimeUnixNano}@`,
              endTimeUnixNano: s.endTimeUnixNano.toString(),
              status: { code: s.statusCode },
              attributes: Object.entries(s.attributes).map(([key, v]) => ({ key, value: value(v) })),
            })),
          },
        ],
      },
    ],
  };
  let text = JSON.stringify(tree).replace(/"@(\d+)@"/g, '$1');
  const damage = int(6);
  if (damage === 0) text = text.slice(0, int(text.length));
  else if (damage === 1) text = text.replace(/"spanId":"[0-9a-f]+"/, `"spanId":${pick(['1', 'null', '[]', '"zz"', '{"a":1}'])}`);
  else if (damage === 2) text = text.replace(/"kind":\d+/, `"kind":${pick(['"SPAN_KIND_SERVER"', '1e400', '-1', '"nope"', '99999999999'])}`);
  else if (damage === 3) text = `${'['.repeat(int(3000))}${text}`;
  else if (damage === 4) text = mutateBytes(Buffer.from(text)).toString('latin1');
  return text;
}

interface HttpAnswer {
  status: number;
}

function post(port: number, path: string, body: Buffer | string, headers: Record<string, string>): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let store: DuckDbStore;
let http: RunningCollector;
let grpc: RunningGrpcReceiver;
let client: Client;

beforeAll(async () => {
  store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  const pipeline = new IngestPipeline({ sink: new StoreSink(store) });
  http = await startCollector({ sink: pipeline.sink, pipeline, port: 0, maxBodyBytes: 256 * 1024, readStore: store });
  grpc = await startGrpcReceiver({ pipeline, port: 0, maxReceiveMessageBytes: 256 * 1024 });
  client = new Client(grpc.address, credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await grpc.close(1_000);
  await http.close();
  await store.close();
});

function goodRun(): Buffer {
  const traceId = hex(16);
  const runId = `good-${hex(4)}`;
  const start = BigInt(T0) * 1_000_000n;
  const span = (spanId: string, parent: string, type: string, extra: Attributes): SpanRecord => ({
    traceId,
    spanId,
    parentSpanId: parent,
    traceState: '',
    name: type,
    kind: 1,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1_000_000_000n,
    statusCode: 0,
    statusMessage: '',
    attributes: { 'jobslo.job.name': 'fuzz-good', 'jobslo.run.id': runId, 'jobslo.span.type': type, ...extra },
    events: [],
    resourceAttributes: {},
    scopeName: '',
    scopeVersion: '',
  });
  const run = hex(8);
  return Buffer.from(encodeTraceRequestProto([span(run, '', 'run', { 'jobslo.run.outcome': 'succeeded' }), span(hex(8), run, 'attempt', { 'jobslo.attempt.number': 1 })]));
}

async function expectGoodHttp(): Promise<void> {
  expect((await post(http.port, '/v1/traces', goodRun(), { 'content-type': 'application/x-protobuf' })).status).toBe(200);
}

function grpcCall(body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(TRACE_EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), {}, (err: ServiceError | null) => resolve(err ? err.code : status.OK));
  });
}

const seen = new Map<string, number>();
function tally(kind: string, code: number): void {
  seen.set(`${kind} ${code}`, (seen.get(`${kind} ${code}`) ?? 0) + 1);
}

describe(`fuzz (seed ${SEED}): every receiver answers only allowed statuses and keeps serving`, () => {
  it('OTLP/HTTP protobuf: 1,200 mutated and hostile bodies', async () => {
    for (let i = 0; i < 1200; i++) {
      const valid = encodeTraceRequestProto(randomSpans());
      const raw = i % 3 === 0 ? Buffer.from(valid) : mutateBytes(valid);
      const gz = int(10) === 0;
      const headers: Record<string, string> = { 'content-type': pick(['application/x-protobuf', 'application/x-protobuf', 'application/protobuf', 'text/plain', 'application/x-protobuf; charset=x']) };
      if (gz) headers['content-encoding'] = pick(['gzip', 'gzip', 'br', 'deflate']);
      const body = gz && headers['content-encoding'] === 'gzip' ? (int(4) === 0 ? mutateBytes(gzipSync(raw)) : gzipSync(raw)) : raw;
      const a = await post(http.port, '/v1/traces', body, headers);
      tally('http-proto', a.status);
      expect(HTTP_ALLOWED.has(a.status), `status ${a.status} for body ${body.toString('hex').slice(0, 200)}`).toBe(true);
      if (i % 100 === 99) await expectGoodHttp();
    }
    await expectGoodHttp();
  }, 300_000);

  it('OTLP/HTTP JSON: 900 mutated bodies', async () => {
    for (let i = 0; i < 900; i++) {
      const body = jsonBody();
      const a = await post(http.port, '/v1/traces', body, { 'content-type': 'application/json' });
      tally('http-json', a.status);
      expect(HTTP_ALLOWED.has(a.status), `status ${a.status} for ${body.slice(0, 300)}`).toBe(true);
      if (i % 100 === 99) await expectGoodHttp();
    }
    await expectGoodHttp();
  }, 300_000);

  it('OTLP/gRPC: 600 mutated and hostile messages', async () => {
    for (let i = 0; i < 600; i++) {
      const valid = encodeTraceRequestProto(randomSpans());
      const code = await grpcCall(i % 3 === 0 ? Buffer.from(valid) : mutateBytes(valid));
      tally('grpc', code);
      expect(GRPC_ALLOWED.has(code), `gRPC code ${code}`).toBe(true);
      if (i % 100 === 99) expect(await grpcCall(goodRun())).toBe(status.OK);
    }
    expect(await grpcCall(goodRun())).toBe(status.OK);
  }, 300_000);

  it('lifecycle: 600 mutated batches', async () => {
    const event = (): Record<string, unknown> => ({
      schema: rand() < 0.9 ? 'jobslo.lifecycle/v1' : pick(['jobslo.lifecycle/v2', 1, null]),
      type: pick(['job.queued', 'job.started', 'job.succeeded', 'job.failed', 'job.exploded', 7]),
      job: rand() < 0.95 ? `fuzz-${int(5)}` : pick(['', null, 3]),
      run_id: `r${int(40)}`,
      time_unix_nano: rand() < 0.8 ? String(BigInt(T0) * 1_000_000n + BigInt(int(1e9))) : pick(['1', '-5', '99999999999999999999999', 1.5, null, '9223372036854775808']),
      ...(rand() < 0.3 ? { attempt: pick([1, 2, 0, -1, 2 ** 31, 1.5, '2']) } : {}),
      ...(rand() < 0.1 ? { attributes: pick([[], 'x', { a: 1 }]) } : {}),
    });
    for (let i = 0; i < 600; i++) {
      let body = JSON.stringify(rand() < 0.9 ? { events: Array.from({ length: int(6) }, event) } : pick([[], { events: 'x' }, null, 5]));
      if (int(5) === 0) body = mutateBytes(Buffer.from(body)).toString('latin1');
      const a = await post(http.port, '/v1/lifecycle', body, { 'content-type': rand() < 0.95 ? 'application/json' : 'text/plain' });
      tally('lifecycle', a.status);
      expect(HTTP_ALLOWED.has(a.status), `status ${a.status} for ${body.slice(0, 300)}`).toBe(true);
    }
    await expectGoodHttp();
  }, 300_000);

  it('read API: 600 random calls answer 200, 400, 413, 415 or 503, never 500', async () => {
    const methods = ['jobAggregates', 'windowCounts', 'windowCountsMany', 'timeSeries', 'listRuns', 'runStarts', 'jobNames', 'queueDepths', 'timeSeriesByJob', 'listRunsByJob', 'runDistributions', 'dropBefore', '__proto__', 'constructor'];
    const anyValue = (depth = 0): unknown => {
      const r = int(depth > 2 ? 6 : 9);
      if (r === 0) return T0 + int(1e7);
      if (r === 1) return pick([-1, 0, 1e300, Number.MAX_SAFE_INTEGER, 0.5]);
      if (r === 2) return pick(['*', 'fuzz-*', "x'; DROP TABLE spans; --", '?', '', 'a'.repeat(2000)]);
      if (r === 3) return null;
      if (r === 4) return pick([true, false]);
      if (r === 5) return { fromMillis: T0 - int(1e8), toMillis: T0 + int(1e8) };
      if (r === 6) return Array.from({ length: int(4) }, () => anyValue(depth + 1));
      if (r === 7) {
        return {
          jobs: pick(['*', 'fuzz-1', 5]),
          criterion: pick([{ kind: 'success' }, { kind: 'latency', thresholdMillis: int(5000) }, { kind: 'x' }]),
          endMillis: T0 + int(1e7),
          windowsMillis: Array.from({ length: int(5) }, () => pick([60_000, 3_600_000, 0, -5, 1e12])),
          fromMillis: T0 - int(1e8),
          toMillis: T0 + int(1e8),
          bucketMillis: pick([60_000, 3_600_000, 0, 1]),
          limit: pick([1, 20, 0, 1e9, undefined]),
          limitPerJob: pick([1, 20, 0]),
          filter: pick(['all', 'failed', 'x', undefined]),
          order: pick(['latest', 'slowest', undefined]),
          latencyEdgesMillis: pick([[10, 100], [100, 10], [], [-1]]),
        };
      }
      return Object.fromEntries(Array.from({ length: int(3) }, () => [pick(['a', 'fromMillis', '__proto__']), anyValue(depth + 1)]));
    };
    for (let i = 0; i < 600; i++) {
      let body = JSON.stringify({ method: pick(methods), args: Array.from({ length: int(4) }, () => anyValue()) });
      if (int(8) === 0) body = mutateBytes(Buffer.from(body)).toString('latin1');
      const a = await post(http.port, '/api/v1/store', body, { 'content-type': 'application/json' });
      tally('read', a.status);
      expect([200, 400, 413, 415, 503].includes(a.status), `status ${a.status} for ${body.slice(0, 300)}`).toBe(true);
    }
    await expectGoodHttp();
  }, 300_000);

  it('afterwards no figure the analyzer reads is negative, NaN or outside the accepted ranges', async () => {
    const range = { fromMillis: Date.UTC(1999, 0, 1), toMillis: NOW + 2 * 86_400_000 };
    const aggs = await store.jobAggregates(range);
    expect(aggs.map((a) => a.job)).toContain('fuzz-good');
    // Hostile batches still had spans worth storing (the rest of each batch is kept).
    expect(aggs.filter((a) => /^fuzz-\d$/.test(a.job)).length).toBeGreaterThan(0);
    const nonNegative = (v: number | null, what: string, max = Number.MAX_SAFE_INTEGER): void => {
      if (v === null) return;
      expect(Number.isFinite(v), what).toBe(true);
      expect(v, what).toBeGreaterThanOrEqual(0);
      expect(v, what).toBeLessThanOrEqual(max);
    };
    const maxSpanMillis = NOW + 86_400_000 - Date.UTC(2000, 0, 1);
    for (const a of aggs) {
      for (const k of ['runs', 'succeeded', 'failed', 'timedOut', 'cancelled', 'skipped', 'deadLettered', 'retries', 'queuedRuns', 'costedRuns', 'cpuRuns'] as const) nonNegative(a[k], `${a.job}.${k}`);
      for (const k of ['latencyP50Millis', 'latencyP95Millis', 'latencyP99Millis'] as const) nonNegative(a[k], `${a.job}.${k}`, maxSpanMillis);
      for (const k of ['queueDelayP50Millis', 'queueDelayP95Millis'] as const) nonNegative(a[k], `${a.job}.${k}`, 30 * 86_400_000 + maxSpanMillis);
      nonNegative(a.costTotal, `${a.job}.costTotal`, Number.MAX_VALUE);
      nonNegative(a.cpuSecondsTotal, `${a.job}.cpuSecondsTotal`, Number.MAX_VALUE);
      nonNegative(a.maxRssP95Bytes, `${a.job}.maxRssP95Bytes`);
    }
    const rows = await store.query('SELECT min(start_ns) AS lo, max(end_ns) AS hi, count(*) FILTER (WHERE end_ns < start_ns) AS backwards FROM spans');
    const r = rows[0] as { lo: bigint; hi: bigint; backwards: bigint };
    expect(BigInt(r.lo)).toBeGreaterThanOrEqual(946_684_800_000n * 1_000_000n);
    expect(BigInt(r.hi)).toBeLessThanOrEqual(BigInt(NOW) * 1_000_000n + 2n * DAY_NS);
    expect(Number(r.backwards)).toBe(0);
    // Each class met hostile input: rejected or refused answers happened, and so did successes.
    for (const kind of ['http-proto', 'http-json', 'grpc', 'lifecycle', 'read']) {
      const codes = [...seen.keys()].filter((k) => k.startsWith(`${kind} `));
      expect(codes.length, `${kind} answered with ${codes.join(', ')}`).toBeGreaterThan(1);
    }
  });
});
