// Store ingest with and without rollup maintenance: spans/s of
// `insertSpans` into a store that keeps rollups (each batch also writes a
// mark per job row) and into one that does not, in alternating rounds on
// fresh stores, with the same spans.
//
//   npx tsc -p tsconfig.build.json
//   node bench/rollup-ingest.mjs [--store duckdb|clickhouse:http://HOST:8123] [--runs 200000] [--rounds 5]
//
// DuckDB stores are in memory; ClickHouse stores are fresh databases
// (bench_rollup_ingest_*), dropped at the end. Batches of 5,000 runs (10,000
// spans: a run span and an attempt span each). Prints spans/s per round and
// path, the medians, and the median per-round ratio with / without.
import console from 'node:console';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DuckDbStore } from '../dist/store/duckdb.js';
import { ClickHouseStore } from '../dist/store/clickhouse.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'duckdb' },
    runs: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
  },
});
const RUNS = Number(values.runs);
const ROUNDS = Number(values.rounds);
const NOW = Date.now();
const hex = (n, w) => n.toString(16).padStart(w, '0');
const ns = (ms) => BigInt(ms) * 1_000_000n;

function spansOf(i, salt) {
  const job = `bench-job-${String(i % 100).padStart(3, '0')}`;
  const start = NOW - 86_400_000 + Math.floor((i / RUNS) * 86_400_000);
  const end = start + 1_000 + ((i * 7919) % 119_000);
  const traceId = hex(salt * 1e9 + i + 1, 32);
  const runId = `run-${salt}-${i}`;
  const base = (spanId, parent, name, attributes) => ({
    traceId, spanId, parentSpanId: parent, traceState: '', name, kind: 1,
    startTimeUnixNano: ns(start), endTimeUnixNano: ns(end), statusCode: 0, statusMessage: '', attributes,
    events: [], resourceAttributes: { 'service.name': 'bench' }, scopeName: 'bench', scopeVersion: '',
  });
  const a = { 'jobslo.job.name': job, 'jobslo.run.id': runId };
  return [
    base(hex(2 * i + 1, 16), '', 'job.run', { ...a, 'jobslo.span.type': 'run', 'jobslo.run.outcome': 'succeeded', 'jobslo.run.attempts': 1 }),
    base(hex(2 * i + 2, 16), hex(2 * i + 1, 16), 'job.attempt', { ...a, 'jobslo.span.type': 'attempt', 'jobslo.attempt.number': 1, 'jobslo.attempt.outcome': 'succeeded' }),
  ];
}

const dbs = [];
async function open(rollups, round) {
  if (values.store === 'duckdb') return DuckDbStore.open({ path: ':memory:', rollups });
  const database = `bench_rollup_ingest_${round}_${rollups ? 'on' : 'off'}_${process.pid}`;
  dbs.push(database);
  return ClickHouseStore.open({ url: values.store.replace(/^clickhouse:/, ''), database, rollups });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rates = { on: [], off: [] };
const ratios = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? [true, false] : [false, true];
  const got = {};
  for (const rollups of order) {
    const store = await open(rollups, r);
    await store.migrate();
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i += 5_000) {
      const batch = [];
      for (let k = i; k < Math.min(RUNS, i + 5_000); k++) batch.push(...spansOf(k, r));
      await store.insertSpans(batch);
    }
    const rate = (2 * RUNS) / ((performance.now() - t0) / 1000);
    got[rollups ? 'on' : 'off'] = rate;
    await store.close();
  }
  rates.on.push(got.on);
  rates.off.push(got.off);
  ratios.push(got.on / got.off);
  console.log(`round ${r + 1}: with rollups ${Math.round(got.on).toLocaleString('en-US')} spans/s, without ${Math.round(got.off).toLocaleString('en-US')} spans/s (${(got.on / got.off).toFixed(3)})`);
}
console.log(
  `median: with ${Math.round(median(rates.on)).toLocaleString('en-US')} spans/s, without ${Math.round(median(rates.off)).toLocaleString('en-US')} spans/s; ` +
    `median per-round ratio with / without ${median(ratios).toFixed(3)}`,
);
if (values.store !== 'duckdb') {
  const base = values.store.replace(/^clickhouse:/, '');
  for (const db of dbs) await globalThis.fetch(base, { method: 'POST', body: `DROP DATABASE IF EXISTS ${db}` });
}
