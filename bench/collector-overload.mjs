// Overload benchmark of the collector's backpressure: more clients than the
// in-flight bounds, each sending large OTLP/HTTP protobuf requests at once.
//
//   npx tsc -p tsconfig.build.json
//   node bench/collector-overload.mjs [--clients 128] [--request-spans 2000] [--requests 3]
//                                     [--rounds 3] [--max-in-flight-requests 64]
//                                     [--max-in-flight-bytes 67108864] [--probe-interval-ms 100]
//
// Each round runs `jobslo collector --store duckdb:FILE` as its own process
// twice: once with the bounds given (the defaults unless set), once with
// bounds so large they never apply (the baseline: as if there were none).
// Every client sends its requests one after the other without retrying.
// Reported per configuration: answers by status, answer time p50/p99 by
// status, the collector's peak RSS (VmHWM), and whether every request that
// got 200 is stored (runs counted through the read API). A probe process
// (bench/overload-probe.mjs) sends one request of the same size every
// --probe-interval-ms during the load on a new connection and reports its
// answer times by status: refusal latency as a fresh client sees it, without
// the load generator's own event loop in it.
/* global fetch, AbortSignal */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import console from 'node:console';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { encodeTraceRequestProto } from '../dist/collector/otlp/index.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '128' },
    'request-spans': { type: 'string', default: '2000' },
    requests: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    'max-in-flight-requests': { type: 'string', default: '64' },
    'max-in-flight-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
    'probe-interval-ms': { type: 'string', default: '100' },
  },
});
const CLIENTS = Number(values.clients);
const SPANS = Number(values['request-spans']);
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const BIN = join(import.meta.dirname, '..', 'bin', 'jobslo.js');
const T0 = Date.now() - 3_600_000;

const hex = (n) => randomBytes(n).toString('hex');

/** One request: SPANS / 2 runs of job `job`, each a run span and one attempt span, ~10 attributes each. */
function request(job) {
  const spans = [];
  for (let i = 0; i < SPANS / 2; i++) {
    const traceId = hex(16);
    const runSpan = hex(8);
    const runId = `${job}-${hex(6)}`;
    const start = BigInt(T0 + i) * 1_000_000n;
    const common = { 'jobslo.job.name': job, 'jobslo.run.id': runId, 'host.name': 'bench-host', 'process.command': 'run-report --all' };
    const base = (spanId, parent, name, attributes) => ({
      traceId,
      spanId,
      parentSpanId: parent,
      traceState: '',
      name,
      kind: 1,
      startTimeUnixNano: start,
      endTimeUnixNano: start + 2_000_000_000n,
      statusCode: 0,
      statusMessage: '',
      attributes: { ...common, ...attributes },
      events: [],
      resourceAttributes: { 'service.name': 'bench', 'service.version': '1.0.0', 'deployment.environment': 'bench' },
      scopeName: 'jobslo',
      scopeVersion: '0.1.0',
    });
    spans.push(base(runSpan, '', 'run', { 'jobslo.span.type': 'run', 'jobslo.run.outcome': 'succeeded', 'jobslo.run.attempts': 1 }));
    spans.push(base(hex(8), runSpan, 'attempt', { 'jobslo.span.type': 'attempt', 'jobslo.attempt.number': 1, 'jobslo.attempt.outcome': 'succeeded', 'process.exit.code': 0 }));
  }
  return Buffer.from(encodeTraceRequestProto(spans));
}

function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function median(xs) {
  return quantile(xs, 0.5);
}

function readKb(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function startCollector(dir, bounds) {
  const args = [BIN, 'collector', '--port', '0', '--no-grpc', '--store', `duckdb:${join(dir, 'bench.duckdb')}`, '--max-body-bytes', String(16 * 1024 * 1024), ...bounds];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = /collector listening url=(http:\/\/[^\s]+)\/v1\/traces/.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`collector exited ${code}: ${err}`)));
  });
  return { child, url };
}

async function runOnce(label, bounds, bodies) {
  const dir = mkdtempSync(join(os.tmpdir(), 'jobslo-overload-'));
  const { child, url } = await startCollector(dir, bounds);
  const idleRss = readKb(child.pid, 'VmRSS');
  const answers = [];
  // A client of its own process, so its times do not include the load generator's event loop.
  const probe = spawn(process.execPath, [join(import.meta.dirname, 'overload-probe.mjs'), url, String(bodies[0][0].length), values['probe-interval-ms']], { stdio: ['ignore', 'pipe', 'inherit'] });
  let probeOut = '';
  probe.stdout.on('data', (d) => (probeOut += d));
  const t0 = performance.now();
  await Promise.all(
    bodies.map(async (list, c) => {
      for (const body of list) {
        const started = performance.now();
        let status;
        try {
          const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body, signal: AbortSignal.timeout(120_000) });
          await res.arrayBuffer();
          status = res.status;
        } catch (e) {
          status = `error ${e.name}`;
        }
        answers.push({ client: c, status, millis: performance.now() - started });
      }
    }),
  );
  const wall = performance.now() - t0;
  probe.kill('SIGTERM');
  await new Promise((r) => probe.once('exit', r));
  const peakRss = readKb(child.pid, 'VmHWM');
  const accepted = answers.filter((a) => a.status === 200).length * (SPANS / 2);
  let stored = -1;
  try {
    const res = await fetch(`${url}/api/v1/store`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'jobAggregates', args: [{ fromMillis: T0 - 3_600_000, toMillis: Date.now() + 3_600_000 }] }),
    });
    stored = (await res.json()).result.reduce((n, a) => n + a.runs, 0);
  } catch (e) {
    console.error('read failed', e);
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  const byStatus = {};
  for (const a of answers) (byStatus[a.status] ??= []).push(a.millis);
  const summary = { label, wallMillis: Math.round(wall), idleRssMiB: +(idleRss / 1024).toFixed(1), peakRssMiB: +(peakRss / 1024).toFixed(1), acceptedRuns: accepted, storedRuns: stored, statuses: {}, probe: probeOut.trim() === '' ? null : JSON.parse(probeOut) };
  for (const [s, ms] of Object.entries(byStatus)) summary.statuses[s] = { n: ms.length, p50Millis: Math.round(quantile(ms, 0.5)), p99Millis: Math.round(quantile(ms, 0.99)) };
  console.log(JSON.stringify(summary));
  return summary;
}

console.error(`encoding ${CLIENTS * REQUESTS} requests of ${SPANS} spans...`);
const bodies = Array.from({ length: CLIENTS }, (_, c) => Array.from({ length: REQUESTS }, () => request(`load-${c % 16}`)));
console.error(`request size ${(bodies[0][0].length / 1024 / 1024).toFixed(2)} MiB`);
const bounded = ['--max-in-flight-requests', values['max-in-flight-requests'], '--max-in-flight-bytes', values['max-in-flight-bytes']];
const unbounded = ['--max-in-flight-requests', '1000000', '--max-in-flight-bytes', String(1024 ** 4)];
const results = { bounded: [], unbounded: [] };
for (let r = 0; r < ROUNDS; r++) {
  results.bounded.push(await runOnce(`bounded round ${r + 1}`, bounded, bodies));
  await sleep(500);
  results.unbounded.push(await runOnce(`unbounded round ${r + 1}`, unbounded, bodies));
  await sleep(500);
}
for (const [label, rs] of Object.entries(results)) {
  const s200 = rs.map((x) => x.statuses['200']?.p50Millis ?? NaN);
  const s200p99 = rs.map((x) => x.statuses['200']?.p99Millis ?? NaN);
  const r429 = rs.map((x) => x.statuses['429']?.p50Millis ?? NaN);
  const r429p99 = rs.map((x) => x.statuses['429']?.p99Millis ?? NaN);
  console.log(
    `${label}: median of ${rs.length} rounds: peak RSS ${median(rs.map((x) => x.peakRssMiB))} MiB, ` +
      `200 p50 ${median(s200)} ms p99 ${median(s200p99)} ms, 429 p50 ${median(r429)} ms p99 ${median(r429p99)} ms, ` +
      `200s ${median(rs.map((x) => x.statuses['200']?.n ?? 0))}, 429s ${median(rs.map((x) => x.statuses['429']?.n ?? 0))}, ` +
      `every 200 stored: ${rs.every((x) => x.storedRuns >= x.acceptedRuns)}`,
  );
}
