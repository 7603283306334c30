/**
 * What the real Celery and BullMQ instrumentations send, pinned: the facts
 * jobslo's Celery and BullMQ profiles are built on (docs/instrument.md).
 * Real workers, real Redis, real OTLP/HTTP protobuf into a capture endpoint
 * decoded with jobslo's own decoder. If an upgrade of a pinned package
 * changes one of these facts, this test says which.
 *
 * With JOBSLO_NATIVE_RECORD=1 it also rewrites test/native/fixtures/*.json
 * (the decoded spans, times as decimal strings) from this run.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTraceRequestProto } from '../../collector/otlp/index.js';
import type { SpanRecord } from '../../contracts/model.js';
import { requireService } from '../support/services.js';
import { NATIVE_DIR, NATIVE_HINT, probeNativePython, probeRedis } from '../support/native.js';
import { killManagedAfterEach, waitFor } from '../support/processes.js';
import { ATTEMPTS, MIX, runBullmqMix, runCeleryMix } from './_harness.js';
import type { Kind } from './_harness.js';

const redisUp = await requireService('Redis', () => probeRedis(), 'native framework spans', NATIVE_HINT);
const pythonUp = await requireService('Python packages (Celery, OpenTelemetry)', () => probeNativePython(), 'native framework spans', NATIVE_HINT);

const KIND_PRODUCER = 4;
const KIND_CONSUMER = 5;
const KIND_INTERNAL = 1;

killManagedAfterEach();

let server: Server;
let endpoint: string;
const received: SpanRecord[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      try {
        received.push(...decodeTraceRequestProto(new Uint8Array(body)).spans);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

const str = (s: SpanRecord, k: string): string | undefined => {
  const v = s.attributes[k];
  return v === undefined ? undefined : String(v);
};

function record(name: string, spans: SpanRecord[]): void {
  if (process.env['JOBSLO_NATIVE_RECORD'] !== '1') return;
  const dir = join(NATIVE_DIR, 'fixtures');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `${JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

const kinds: Kind[] = ['ok', 'flaky', 'doomed'];

describe.skipIf(!redisUp || !pythonUp)('real framework spans', () => {
  it('Celery 5 + opentelemetry-instrumentation-celery: a producer per enqueue and per retry, a consumer per attempt, only the final failure marked', async () => {
    const queue = `celery-spans-${randomUUID()}`;
    const { result } = await runCeleryMix({ tracesEndpoint: endpoint, queue, serviceName: 'native-celery' });
    for (const k of kinds) for (const id of result.ids[k]) expect(result.states[id], `${k} ${id}`).toBe(k === 'doomed' ? 'FAILURE' : 'SUCCESS');

    const mine = (): SpanRecord[] => received.filter((s) => str(s, 'messaging.destination') === queue);
    const expectedConsumers = kinds.reduce((n, k) => n + MIX[k] * ATTEMPTS[k], 0);
    const spans = await waitFor(`${expectedConsumers} Celery attempt spans`, () => {
      const s = mine();
      return s.filter((x) => x.kind === KIND_CONSUMER).length >= expectedConsumers ? s : undefined;
    }, { describe: () => `${mine().length} spans` });

    const consumers = spans.filter((s) => s.kind === KIND_CONSUMER);
    const producers = spans.filter((s) => s.kind === KIND_PRODUCER);
    expect(consumers).toHaveLength(expectedConsumers);
    // one producer per enqueue plus one per retry (self.retry re-publishes)
    expect(producers).toHaveLength(kinds.reduce((n, k) => n + MIX[k] * ATTEMPTS[k], 0));
    for (const s of spans) {
      expect(s.resourceAttributes['service.name']).toBe('native-celery');
      expect(s.scopeName).toBe('opentelemetry.instrumentation.celery');
    }
    for (const k of kinds) {
      for (const id of result.ids[k]) {
        const task = `native.${k}`;
        const runs = consumers.filter((s) => str(s, 'messaging.message.id') === id).sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
        const enq = producers.filter((s) => str(s, 'messaging.message.id') === id);
        expect(runs.map((s) => s.name)).toEqual(Array(ATTEMPTS[k]).fill(`run/${task}`));
        expect(enq.map((s) => s.name)).toEqual(Array(ATTEMPTS[k]).fill(`apply_async/${task}`));
        expect(runs.every((s) => str(s, 'celery.task_name') === task && str(s, 'celery.action') === 'run')).toBe(true);
        // celery.retries is absent on the first attempt, then 1, 2
        expect(runs.map((s) => s.attributes['celery.retries'])).toEqual(runs.map((_s, i) => (i === 0 ? undefined : i)));
        const finalState = k === 'doomed' ? 'FAILURE' : 'SUCCESS';
        expect(runs.map((s) => str(s, 'celery.state'))).toEqual([...Array(ATTEMPTS[k] - 1).fill('RETRY'), finalState]);
        // a retried attempt is UNSET with no exception; only the final failure is ERROR with an exception event
        expect(runs.map((s) => s.statusCode)).toEqual([...Array(ATTEMPTS[k] - 1).fill(0), k === 'doomed' ? 2 : 0]);
        expect(runs.map((s) => s.events.map((e) => e.name))).toEqual([...Array(ATTEMPTS[k] - 1).fill([]), k === 'doomed' ? ['exception'] : []]);
        if (k === 'doomed') expect(runs.at(-1)?.events[0]?.attributes['exception.type']).toMatch(/ValueError/);
        // one trace per task: the enqueue producer is the root, and it starts before the first attempt
        const root = enq.find((s) => s.parentSpanId === '');
        expect(root).toBeDefined();
        expect(new Set([...runs, ...enq].map((s) => s.traceId)).size).toBe(1);
        expect(runs[0]?.parentSpanId).toBe(root?.spanId);
        expect((root?.startTimeUnixNano ?? 0n) < (runs[0]?.startTimeUnixNano ?? 0n)).toBe(true);
      }
    }
    record('celery-spans.json', spans);
  }, 180_000);

  it('BullMQ 6 + bullmq-otel: an add producer, a process consumer per attempt with 1-based attempts.made, every status UNSET', async () => {
    const queue = `bullmq-spans-${randomUUID()}`;
    const { result } = await runBullmqMix({ tracesEndpoint: endpoint, queue, serviceName: 'native-bullmq' });
    for (const k of kinds) for (const id of result.ids[k]) expect(result.states[id], `${k} ${id}`).toBe(k === 'doomed' ? 'failed' : 'completed');

    const mine = (): SpanRecord[] => received.filter((s) => str(s, 'bullmq.queue.name') === queue);
    const expectedConsumers = kinds.reduce((n, k) => n + MIX[k] * ATTEMPTS[k], 0);
    const finished = (s: SpanRecord[]): number => s.filter((x) => x.kind === KIND_INTERNAL && ['complete', 'fail'].includes(str(x, 'bullmq.queue.operation') ?? '')).length;
    const spans = await waitFor(`${expectedConsumers} BullMQ attempt spans and 10 final outcomes`, () => {
      const s = mine();
      return s.filter((x) => x.kind === KIND_CONSUMER).length >= expectedConsumers && finished(s) >= 10 ? s : undefined;
    }, { describe: () => `${mine().length} spans` });

    expect(spans.every((s) => s.statusCode === 0)).toBe(true);
    expect(spans.every((s) => s.resourceAttributes['service.name'] === 'native-bullmq')).toBe(true);
    const consumers = spans.filter((s) => s.kind === KIND_CONSUMER);
    const producers = spans.filter((s) => s.kind === KIND_PRODUCER);
    expect(consumers).toHaveLength(expectedConsumers);
    expect(producers).toHaveLength(10);
    for (const k of kinds) {
      for (const id of result.ids[k]) {
        const add = producers.filter((s) => str(s, 'bullmq.job.id') === id);
        expect(add.map((s) => [s.name, str(s, 'bullmq.job.name'), str(s, 'bullmq.queue.operation'), s.parentSpanId])).toEqual([[`add ${queue}.${k}`, k, 'add', '']]);
        const runs = consumers.filter((s) => str(s, 'bullmq.job.id') === id).sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
        expect(runs.map((s) => s.name)).toEqual(Array(ATTEMPTS[k]).fill(`process ${queue}`));
        expect(runs.map((s) => s.attributes['bullmq.job.attempts.made'])).toEqual(runs.map((_s, i) => i + 1));
        expect(runs.every((s) => s.parentSpanId === add[0]?.spanId && s.traceId === add[0]?.traceId)).toBe(true);
        const okEvents = runs.map((s) => s.events.map((e) => e.name));
        const last = k === 'doomed' ? 'job failed' : 'job completed';
        expect(okEvents).toEqual([...Array(ATTEMPTS[k] - 1).fill(['job failed']), [last]]);
        // the outcome is in the child operation: complete, delay (will retry) or fail (no attempts left)
        const ops = runs.map((r) => spans.filter((s) => s.parentSpanId === r.spanId).map((s) => str(s, 'bullmq.queue.operation')));
        expect(ops).toEqual([...Array(ATTEMPTS[k] - 1).fill(['delay']), [k === 'doomed' ? 'fail' : 'complete']]);
        expect((add[0]?.startTimeUnixNano ?? 0n) < (runs[0]?.startTimeUnixNano ?? 0n)).toBe(true);
      }
    }
    // worker housekeeping spans are roots of their own, never linked to a job
    for (const s of spans.filter((x) => x.kind === KIND_INTERNAL && x.parentSpanId === '')) {
      expect(['moveStalledJobsToWait', 'startStalledCheckTimer', 'close']).toContain(str(s, 'bullmq.queue.operation'));
      expect(s.attributes['bullmq.job.id']).toBeUndefined();
    }
    record('bullmq-spans.json', spans);
  }, 180_000);
});
