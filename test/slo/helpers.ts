/** Shared fixtures of the SLO tests: stores with synthetic runs, a fake clock, a real HTTP receiver. */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import type { AlertClock } from '../../analyzer/alerts/index.js';
import { runSpans } from '../support/spans.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export async function memoryStore(): Promise<DuckDbStore> {
  const store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  return store;
}

/** Spans of one run that starts at `startMillis` and takes `durationMillis`. */
export function run(job: string, startMillis: number, good: boolean, durationMillis = 1_000): SpanRecord[] {
  return runSpans({
    job,
    startMillis,
    outcome: good ? 'succeeded' : 'failed',
    attempts: [{ startOffsetMillis: 0, durationMillis, outcome: good ? 'succeeded' : 'failed', exitCode: good ? 0 : 1 }],
  });
}

/**
 * Runs every `everyMillis` in `[fromMillis, toMillis)`, a share `errorRatio`
 * of them failed, spread evenly (run i fails when floor((i+1)e) > floor(ie)).
 */
export function steadyRuns(job: string, fromMillis: number, toMillis: number, everyMillis: number, errorRatio: number): SpanRecord[] {
  const spans: SpanRecord[] = [];
  let i = 0;
  for (let t = fromMillis; t < toMillis; t += everyMillis, i++) {
    const bad = Math.floor((i + 1) * errorRatio + 1e-9) > Math.floor(i * errorRatio + 1e-9);
    // Duration 0: the run's end (which windows count) is its start.
    spans.push(...run(job, t, !bad, 0));
  }
  return spans;
}

/** A clock whose sleep advances time at once. */
export function fakeClock(startMillis: number): AlertClock & { set(t: number): void; slept: number[] } {
  let now = startMillis;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
    set(t: number) {
      now = t;
    },
  };
}

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A real HTTP receiver on 127.0.0.1; `respond` picks each status (and headers). */
export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  respond: (req: { body: string; headers: IncomingHttpHeaders }) => { status: number; headers?: Record<string, string> };
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    port: 0,
    requests: [],
    respond: () => ({ status: 200 }),
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r = receiver.respond({ body, headers: req.headers });
      receiver.requests.push({ path: req.url ?? '', headers: req.headers, body, status: r.status });
      res.writeHead(r.status, r.headers ?? {}).end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

/** A temporary folder removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'jobslo-slo-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
