// End-to-end ingest benchmark: OTLP/HTTP protobuf in, spans queryable out.
//
//   npx tsc -p tsconfig.build.json
//   node bench/ingest.mjs [--path kafka|duckdb|both] [--spans 300000] [--rounds 3]
//                         [--concurrency 8] [--request-spans 500]
//                         [--brokers 127.0.0.1:9092] [--clickhouse http://127.0.0.1:8123]
//                         [--batch-max-spans 50000] [--batch-max-wait 1s] [--profile DIR]
//
// kafka:  `jobslo collector --bus kafka` and `jobslo ingest --store clickhouse:...`
//         run as their own processes (as deployed); this process only sends.
// duckdb: the embedded path, `jobslo collector --store duckdb:FILE`, in this
//         process (DuckDB is one process per file; queries go to the same store).
//
// Each round uses a fresh topic, group and database (or DuckDB file). All
// requests are encoded before timing. Throughput = spans sent / (time from the
// first request to the moment a query sees every span). Latency: while the
// load runs, a marker request (one run span) is sent every 100 ms and the
// time until a query first sees it is recorded; p50/p99 over all markers.
// Reports each round and the median of rounds. --profile DIR runs the
// collector and ingest with `node --cpu-prof` into DIR and prints where
// their CPU time went.
/* global fetch */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import console from 'node:console';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { URL } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { encodeTraceRequestProto } from '../dist/collector/otlp/index.js';
import { StoreSink, startCollector } from '../dist/collector/index.js';
import { DuckDbStore } from '../dist/store/duckdb.js';

const { values: args } = parseArgs({
  options: {
    path: { type: 'string', default: 'both' },
    spans: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    'request-spans': { type: 'string', default: '500' },
    brokers: { type: 'string', default: process.env.JOBSLO_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092' },
    clickhouse: { type: 'string', default: process.env.JOBSLO_TEST_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123' },
    'batch-max-spans': { type: 'string', default: '50000' },
    'batch-max-wait': { type: 'string', default: '1s' },
    profile: { type: 'string' },
  },
});
const TOTAL = Number(args.spans);
const ROUNDS = Number(args.rounds);
const CONCURRENCY = Number(args.concurrency);
const PER_REQUEST = Number(args['request-spans']);
const REPO = new URL('..', import.meta.url).pathname;
const BIN = join(REPO, 'bin', 'jobslo.js');

const hex = (bytes) => randomBytes(bytes).toString('hex');
const now = () => performance.now();

/** Job-shaped spans: runs of 1-3 attempts with the attributes the executor writes, ~10 attributes per span. */
function buildRequests(total, perRequest, tag) {
  const resource = { 'service.name': 'bench-worker', 'service.version': '2.3.1', 'host.name': 'worker-3.internal', 'deployment.environment': 'production' };
  const requests = [];
  let batch = [];
  let n = 0;
  const t0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  for (let run = 0; n < total; run++) {
    const job = `bench-${tag}-${run % 50}`;
    const traceId = hex(16);
    const runSpan = hex(8);
    const attempts = 1 + (run % 7 === 0 ? 2 : 0);
    const start = t0 + BigInt(run) * 1_000_000n;
    const common = { traceId, traceState: '', kind: 1, events: [], resourceAttributes: resource, scopeName: 'jobslo', scopeVersion: '0.1.0' };
    batch.push({
      ...common,
      spanId: runSpan,
      parentSpanId: '',
      name: 'job.run',
      startTimeUnixNano: start,
      endTimeUnixNano: start + 900_000_000n,
      statusCode: 0,
      statusMessage: '',
      attributes: {
        'jobslo.job.name': job,
        'jobslo.run.id': `run-${tag}-${run}`,
        'jobslo.span.type': 'run',
        'jobslo.run.outcome': 'succeeded',
        'jobslo.run.attempts': attempts,
        'jobslo.queue.name': 'default',
        'jobslo.cost.amount': 0.0125,
        'jobslo.resource.cpu_seconds': 1.5,
        'jobslo.resource.max_rss_bytes': 104857600,
        'process.command': 'node dist/report.js --date=2026-11-01',
      },
    });
    n++;
    for (let a = 1; a <= attempts && n < total; a++) {
      const ok = a === attempts;
      batch.push({
        ...common,
        spanId: hex(8),
        parentSpanId: runSpan,
        name: 'job.attempt',
        startTimeUnixNano: start + BigInt(a - 1) * 300_000_000n,
        endTimeUnixNano: start + BigInt(a) * 300_000_000n - 1_000_000n,
        statusCode: ok ? 0 : 2,
        statusMessage: ok ? '' : 'exit code 1',
        attributes: {
          'jobslo.job.name': job,
          'jobslo.run.id': `run-${tag}-${run}`,
          'jobslo.span.type': 'attempt',
          'jobslo.attempt.number': a,
          'jobslo.attempt.outcome': ok ? 'succeeded' : 'failed',
          'process.exit.code': ok ? 0 : 1,
          ...(ok ? {} : { 'error.type': '1' }),
          'process.command': 'node dist/report.js --date=2026-11-01',
        },
      });
      n++;
    }
    if (batch.length >= perRequest) {
      requests.push(Buffer.from(encodeTraceRequestProto(batch)));
      batch = [];
    }
  }
  if (batch.length > 0) requests.push(Buffer.from(encodeTraceRequestProto(batch)));
  return requests;
}

function markerRequest(id) {
  const start = BigInt(Date.now()) * 1_000_000n;
  return Buffer.from(
    encodeTraceRequestProto([
      {
        traceId: hex(16),
        spanId: hex(8),
        parentSpanId: '',
        traceState: '',
        name: 'job.run',
        kind: 1,
        startTimeUnixNano: start,
        endTimeUnixNano: start + 1_000_000n,
        statusCode: 0,
        statusMessage: '',
        attributes: { 'jobslo.job.name': 'bench-marker', 'jobslo.run.id': id, 'jobslo.span.type': 'run', 'jobslo.run.outcome': 'succeeded' },
        events: [],
        resourceAttributes: { 'service.name': 'bench-marker' },
        scopeName: 'bench',
        scopeVersion: '',
      },
    ]),
  );
}

async function post(url, body) {
  for (;;) {
    const res = await fetch(`${url}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
    await res.arrayBuffer();
    if (res.status === 200) return;
    if (res.status !== 503) throw new Error(`collector answered ${res.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function sendAll(url, requests) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) await post(url, requests[next++]);
    }),
  );
}

const percentile = (sorted, q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/**
 * Runs one round: sends `requests` with markers every 100 ms; `count()` and
 * `markersSeen()` query the store. Resolves to spans/s and marker latencies.
 */
async function round(url, requests, spans, count, markersSeen) {
  const sentAt = new Map();
  const latencies = [];
  let sending = true;
  let markerNo = 0;
  const markers = (async () => {
    while (sending) {
      const id = `m-${markerNo++}`;
      sentAt.set(id, now());
      await post(url, markerRequest(id));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const poller = (async () => {
    while (sending || sentAt.size > 0) {
      for (const id of await markersSeen()) {
        const t = sentAt.get(id);
        if (t !== undefined) {
          latencies.push(now() - t);
          sentAt.delete(id);
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const t0 = now();
  await sendAll(url, requests);
  const sentMillis = now() - t0;
  while ((await count()) < spans) await new Promise((r) => setTimeout(r, 50));
  const total = now() - t0;
  sending = false;
  await markers;
  const deadline = now() + 30_000;
  while (sentAt.size > 0 && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  sentAt.clear();
  await poller;
  latencies.sort((a, b) => a - b);
  return { spansPerSec: spans / (total / 1000), sentMillis, totalMillis: total, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), markers: latencies.length };
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined when unknown. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Pids of the shared dev services (scripts/services.sh pid files), for CPU accounting. */
function servicePids() {
  const dir = process.env.JOBSLO_SERVICES_DIR ?? join(os.tmpdir(), 'jobslo-services');
  const read = (f) => {
    try {
      return Number(readFileSync(join(dir, f), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  return { clickhouse: read('clickhouse/clickhouse.pid'), kafka: read('kafka/kafka.pid') };
}

/** Starts CPU accounting of named pids; the returned function gives CPU-s used since. */
function cpuMeter(pids) {
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid === undefined ? undefined : cpuSeconds(pid)]));
  return () =>
    Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => {
        const end = pid === undefined ? undefined : cpuSeconds(pid);
        return [k, end === undefined || start[k] === undefined ? undefined : end - start[k]];
      }),
    );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function spawnCli(cliArgs, profileDir, name) {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, BIN, ...cliArgs], { env: { ...process.env, JOBSLO_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
  return { proc, exited, log: () => err };
}

async function ch(url, sql) {
  const res = await fetch(`${url}/`, { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text}`);
  return text;
}

async function kafkaRound(requests, spans, profileDir) {
  const topic = `bench-${randomUUID()}`;
  const group = `bench-${randomUUID()}`;
  const db = `jobslo_bench_${randomUUID().replaceAll('-', '')}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const brokers = args.brokers;
  const collector = spawnCli(['collector', '--bus', 'kafka', '--brokers', brokers, '--topic', topic, '--port', String(port)], profileDir, 'collector');
  const ingest = spawnCli(
    ['ingest', '--brokers', brokers, '--topic', topic, '--group', group, '--store', `clickhouse:${args.clickhouse}/${db}`, '--dead-letter-topic', '',
      '--batch-max-spans', args['batch-max-spans'], '--batch-max-wait', args['batch-max-wait']],
    profileDir,
    'ingest',
  );
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        if (i > 300) throw new Error(`collector did not start: ${collector.log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Warm-up: one marker through the whole path before timing.
    await post(url, markerRequest('warmup'));
    for (let i = 0; ; i++) {
      try {
        if ((await ch(args.clickhouse, `SELECT count() FROM ${db}.spans WHERE job = 'bench-marker' FORMAT TSV`)).trim() === '1') break;
      } catch {
        // table not created yet
      }
      if (i > 600) throw new Error(`ingest did not store the warm-up span: ${ingest.log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const meter = cpuMeter({ collector: collector.proc.pid, ingest: ingest.proc.pid, bench: process.pid, ...servicePids() });
    const res = await round(
      url,
      requests,
      spans,
      async () => Number((await ch(args.clickhouse, `SELECT count() FROM ${db}.spans WHERE job != 'bench-marker' FORMAT TSV`)).trim()),
      async () => (await ch(args.clickhouse, `SELECT run_id FROM ${db}.spans WHERE job = 'bench-marker' FORMAT TSV`)).split('\n').filter(Boolean),
    );
    return { ...res, cpu: meter() };
  } finally {
    collector.proc.kill('SIGTERM');
    ingest.proc.kill('SIGTERM');
    await Promise.all([collector.exited, ingest.exited]);
    await ch(args.clickhouse, `DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    const admin = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteGroups([group]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function duckdbRound(requests, spans) {
  const dir = mkdtempSync(join(os.tmpdir(), 'jobslo-bench-'));
  const store = await DuckDbStore.open({ path: join(dir, 'bench.duckdb') });
  await store.migrate();
  const collector = await startCollector({ sink: new StoreSink(store), port: 0 });
  try {
    await post(collector.url, markerRequest('warmup'));
    return await round(
      collector.url,
      requests,
      spans,
      async () => Number((await store.query(`SELECT count(*) AS n FROM spans WHERE job <> 'bench-marker'`))[0].n),
      async () => (await store.query(`SELECT run_id FROM spans WHERE job = 'bench-marker'`)).map((r) => String(r.run_id)),
    );
  } finally {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Self time per function over the .cpuprofile files of one process kind. */
function summarizeProfiles(dir, prefix) {
  const self = new Map();
  let total = 0;
  for (const f of readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const dt = new Map();
    for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
    for (const node of p.nodes) {
      const us = dt.get(node.id) ?? 0;
      if (us === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : '';
      const key = `${functionName || '(anonymous)'} ${where}`.trim();
      self.set(key, (self.get(key) ?? 0) + us);
      total += us;
    }
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  console.log(`\n${prefix}: ${(total / 1e6).toFixed(1)} CPU-s sampled; top self time:`);
  for (const [k, us] of top) console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}

const paths = args.path === 'both' ? ['kafka', 'duckdb'] : [args.path];
console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`${TOTAL} spans per round in requests of ${PER_REQUEST}, ${CONCURRENCY} in flight, ${ROUNDS} rounds`);
const profileDir = args.profile ? mkdtempSync(join(args.profile, 'prof-')) : undefined;
for (const path of paths) {
  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    const requests = buildRequests(TOTAL, PER_REQUEST, `${path}${r}`);
    const bytes = requests.reduce((n, b) => n + b.length, 0);
    const res = path === 'kafka' ? await kafkaRound(requests, TOTAL, profileDir) : await duckdbRound(requests, TOTAL);
    results.push(res);
    console.log(
      `${path} round ${r + 1}: ${Math.round(res.spansPerSec)} spans/s (${(bytes / TOTAL).toFixed(0)} B/span protobuf; sent in ${(res.sentMillis / 1000).toFixed(1)} s, all queryable after ${(res.totalMillis / 1000).toFixed(1)} s); ` +
        `ingest-to-queryable p50 ${res.p50.toFixed(0)} ms, p99 ${res.p99.toFixed(0)} ms (${res.markers} markers); load ${os.loadavg()[0].toFixed(1)}`,
    );
    if (res.cpu) {
      const parts = Object.entries(res.cpu)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`);
      console.log(`  CPU-s during the round (wall ${(res.totalMillis / 1000).toFixed(1)} s x 2 cores available): ${parts.join(', ')}`);
    }
  }
  console.log(
    `${path} MEDIAN: ${Math.round(median(results.map((r) => r.spansPerSec)))} spans/s, p50 ${median(results.map((r) => r.p50)).toFixed(0)} ms, p99 ${median(results.map((r) => r.p99)).toFixed(0)} ms`,
  );
}
if (profileDir) {
  summarizeProfiles(profileDir, 'collector');
  summarizeProfiles(profileDir, 'ingest');
  console.log(`\nprofiles in ${profileDir}`);
}
