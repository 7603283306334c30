/**
 * Overload: more clients than the collector's in-flight bounds, each sending
 * large OTLP/HTTP requests at once, against `jobslo collector` on DuckDB as
 * its own process. Every answer is 200, 429 or 503 (never a dropped
 * connection), some are refusals, the collector's peak RSS stays under the
 * bound docs/collector.md gives, and afterwards every request that got 200
 * is stored, exactly. Answer times go to bench/collector-overload.mjs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { buildCli, spawnCli, waitFor } from './_util.js';
import type { CliProcess } from './_util.js';

const T0 = Date.now() - 3_600_000;
const CLIENTS = 24;
const REQUESTS = 2;
const RUNS_PER_REQUEST = 1000;
/** Peak RSS bound for these settings (docs/collector.md, "Backpressure and memory"). */
const RSS_BOUND_KIB = 768 * 1024;

function request(job: string): Buffer {
  const spans: SpanRecord[] = [];
  for (let i = 0; i < RUNS_PER_REQUEST; i++) {
    const traceId = randomBytes(16).toString('hex');
    const run = randomBytes(8).toString('hex');
    const runId = `${job}-${i}`;
    const start = BigInt(T0 + i) * 1_000_000n;
    const span = (spanId: string, parent: string, type: string, extra: Record<string, string | number>): SpanRecord => ({
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
      attributes: { 'jobslo.job.name': job, 'jobslo.run.id': runId, 'jobslo.span.type': type, 'host.name': 'overload-host', ...extra },
      events: [],
      resourceAttributes: { 'service.name': 'overload' },
      scopeName: 'jobslo',
      scopeVersion: '0.1.0',
    });
    spans.push(span(run, '', 'run', { 'jobslo.run.outcome': 'succeeded' }));
    spans.push(span(randomBytes(8).toString('hex'), run, 'attempt', { 'jobslo.attempt.number': 1, 'process.exit.code': 0 }));
  }
  return Buffer.from(encodeTraceRequestProto(spans));
}

function peakRssKib(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

let dir: string;
let collector: CliProcess;
let url: string;

beforeAll(async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'jobslo-overload-'));
  collector = spawnCli(['collector', '--port', '0', '--no-grpc', '--store', `duckdb:${join(dir, 'o.duckdb')}`, '--max-in-flight-requests', '4', '--max-in-flight-bytes', String(8 * 1024 * 1024)]);
  url = await waitFor('the collector to listen', () => /collector listening url=(http:\/\/[^\s]+)\/v1\/traces/.exec(collector.output())?.[1], 60_000, 50);
}, 240_000);

afterAll(async () => {
  await collector?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('collector under overload (more clients than its bounds)', () => {
  it('answers only 200, 429 or 503, refuses some, keeps RSS under the bound, and stores every request that got 200', async () => {
    const bodies = Array.from({ length: CLIENTS }, (_, c) => Array.from({ length: REQUESTS }, (_, r) => ({ job: `ov-${c}-${r}`, body: request(`ov-${c}-${r}`) })));
    const answers: { job: string; status: number | string }[] = [];
    await Promise.all(
      bodies.map(async (list) => {
        for (const { job, body } of list) {
          try {
            const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body, signal: AbortSignal.timeout(180_000) });
            await res.arrayBuffer();
            answers.push({ job, status: res.status });
          } catch (err) {
            answers.push({ job, status: `${(err as Error).name}: ${String((err as { cause?: unknown }).cause ?? (err as Error).message)}` });
          }
        }
      }),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s !== 200 && s !== 429 && s !== 503), statuses.join(', ')).toEqual([]);
    expect(statuses.filter((s) => s === 429 || s === 503).length).toBeGreaterThan(0);
    expect(peakRssKib(collector.proc.pid as number)).toBeLessThan(RSS_BOUND_KIB);

    const res = await fetch(`${url}/api/v1/store`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'jobAggregates', args: [{ fromMillis: T0 - 3_600_000, toMillis: Date.now() + 3_600_000 }] }),
    });
    const stored = new Map(((await res.json()) as { result: { job: string; runs: number }[] }).result.map((a) => [a.job, a.runs]));
    for (const a of answers.filter((x) => x.status === 200)) expect(stored.get(a.job), a.job).toBe(RUNS_PER_REQUEST);
  }, 600_000);
});
