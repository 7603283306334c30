import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lifecycleEventId, parseLifecycleBatch } from '../../contracts/index.js';
import type { LifecycleEventRecord } from '../../contracts/index.js';
import { LifecycleReporter, lifecycleUrlFor, runJob } from '../../executor/index.js';
import { memoryTracing } from './helpers/spans.js';

let tracing: ReturnType<typeof memoryTracing>;
let stateDir: string;
beforeEach(() => {
  tracing = memoryTracing();
  stateDir = mkdtempSync(join(tmpdir(), 'jobslo-lifecycle-'));
});
afterEach(async () => {
  await tracing.provider.shutdown();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('live lifecycle events', () => {
  it('tells the listener every transition, with the ids of the run span events', async () => {
    const events: LifecycleEventRecord[] = [];
    let calls = 0;
    const result = await runJob(
      {
        name: 'live',
        retries: 1,
        backoff: { jitter: 'none', baseDelayMillis: 1, maxDelayMillis: 1 },
        concurrencyKey: 'live-key',
        stateDir,
        tracerProvider: tracing.provider,
        onLifecycle: (e) => events.push(e),
      },
      async () => {
        calls++;
        if (calls === 1) throw new Error('first attempt fails');
      },
    );
    expect(result.outcome).toBe('succeeded');
    // "queued" is told before waiting for the slot; the run span repeats it later with the same id.
    expect(events.map((e) => e.type)).toEqual(['job.queued', 'job.started', 'job.attempt_failed', 'job.retry_scheduled', 'job.succeeded']);
    expect(new Set(events.map((e) => e.runId))).toEqual(new Set([result.runId]));
    expect(events.find((e) => e.type === 'job.retry_scheduled')?.attempt).toBe(2);
    const [run] = tracing.runSpans();
    const spanEventIds = run?.events.map((e) => {
      const t = BigInt(e.time[0]) * 1_000_000_000n + BigInt(e.time[1]);
      const n = e.attributes?.['jobslo.attempt.number'];
      return lifecycleEventId(result.runId, e.name, t, typeof n === 'number' ? n : undefined);
    });
    expect(spanEventIds).toEqual(events.map((e) => e.eventId));
  });

  it('a throwing listener does not fail the run', async () => {
    const result = await runJob({ name: 'x', tracerProvider: tracing.provider, onLifecycle: () => { throw new Error('boom'); } }, async () => 1);
    expect(result).toMatchObject({ outcome: 'succeeded', value: 1 });
  });

  it('LifecycleReporter posts batches to /v1/lifecycle and counts what it could not deliver', async () => {
    const received: LifecycleEventRecord[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        expect(req.url).toBe('/v1/lifecycle');
        received.push(...parseLifecycleBatch(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(lifecycleUrlFor(`http://127.0.0.1:${port}/v1/traces`)).toBe(`http://127.0.0.1:${port}/v1/lifecycle`);
      const reporter = new LifecycleReporter({ url: lifecycleUrlFor(`http://127.0.0.1:${port}/v1/traces`) });
      const result = await runJob({ name: 'posted', tracerProvider: tracing.provider, queuedAtMillis: Date.now() - 50, onLifecycle: reporter.report }, async () => 0);
      expect(await reporter.flush()).toEqual({ sent: 3, dropped: 0 });
      expect(received.map((e) => [e.type, e.runId, e.job])).toEqual([
        ['job.queued', result.runId, 'posted'],
        ['job.started', result.runId, 'posted'],
        ['job.succeeded', result.runId, 'posted'],
      ]);
    } finally {
      server.close();
    }
    const dead = new LifecycleReporter({ url: `http://127.0.0.1:${port}/v1/lifecycle`, requestTimeoutMillis: 500 });
    await runJob({ name: 'unreachable', tracerProvider: tracing.provider, onLifecycle: dead.report }, async () => 0);
    const delivery = await dead.flush();
    expect(delivery.sent).toBe(0);
    expect(delivery.dropped).toBe(2);
    expect(delivery.reason).toBeTruthy();
  });
});
