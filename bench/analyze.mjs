// Benchmark of SLO evaluation: time to evaluate every SLO (SLI, error budget,
// burn rates over all tier windows, alert tiers) for N jobs over M runs.
//
//   npx tsc -p tsconfig.build.json
//   node bench/analyze.mjs [--store duckdb:PATH|clickhouse:http://HOST:8123/DB]
//                          [--runs 1000000] [--jobs 100] [--rounds 5] [--no-seed]
//
// Seeds the store (unless --no-seed) with --runs runs (a run span and one
// attempt span each) spread evenly over the 30 days before now, across --jobs
// jobs, 2% failed, latencies 1-120 s. Each job gets one SLO: 70% success, 20%
// latency (threshold 60 s), 10% freshness (hourly cron, 30m grace), all with
// the Workbook's default tiers (windows 5m, 30m, 1h, 6h, 3d, 30d). Prints the
// seeding rate, then the wall time of evaluating all SLOs per round and the
// median of the rounds. The default store is an in-memory DuckDB.
import console from 'node:console';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openStore } from '../dist/store/index.js';
import { evaluateSlos, parseConfig } from '../dist/analyzer/slo/index.js';
import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_JOB_NAME,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SPAN_TYPE,
} from '../dist/contracts/index.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'duckdb::memory:' },
    runs: { type: 'string', default: '1000000' },
    jobs: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '5' },
    'no-seed': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const JOBS = Number(values.jobs);
const ROUNDS = Number(values.rounds);
const DAY = 86_400_000;
const NOW = Math.floor(Date.now() / 60_000) * 60_000;

const hex = (n, width) => n.toString(16).padStart(width, '0');
const ns = (ms) => BigInt(ms) * 1_000_000n;
const jobName = (j) => `bench-job-${String(j).padStart(3, '0')}`;

function span(traceId, spanId, parent, name, startMs, endMs, attributes, error) {
  return {
    traceId,
    spanId,
    parentSpanId: parent,
    traceState: '',
    name,
    kind: 1,
    startTimeUnixNano: ns(startMs),
    endTimeUnixNano: ns(endMs),
    statusCode: error ? 2 : 0,
    statusMessage: '',
    attributes,
    events: [],
    resourceAttributes: { 'service.name': 'bench' },
    scopeName: 'bench',
    scopeVersion: '',
  };
}

function runSpansFor(i) {
  const job = jobName(i % JOBS);
  const start = NOW - 30 * DAY + Math.floor((i / RUNS) * 30 * DAY);
  const latency = 1_000 + ((i * 7919) % 119_000);
  const failed = i % 50 === 7;
  const outcome = failed ? 'failed' : 'succeeded';
  const traceId = hex(i + 1, 32);
  const runSpanId = hex(2 * i + 1, 16);
  const runId = `run-${i}`;
  return [
    span(traceId, runSpanId, '', 'job.run', start, start + latency, {
      [ATTR_JOB_NAME]: job,
      [ATTR_RUN_ID]: runId,
      [ATTR_SPAN_TYPE]: 'run',
      [ATTR_RUN_OUTCOME]: outcome,
      [ATTR_RUN_ATTEMPTS]: 1,
    }, failed),
    span(traceId, hex(2 * i + 2, 16), runSpanId, 'job.attempt', start, start + latency, {
      [ATTR_JOB_NAME]: job,
      [ATTR_RUN_ID]: runId,
      [ATTR_SPAN_TYPE]: 'attempt',
      [ATTR_ATTEMPT_NUMBER]: 1,
      [ATTR_ATTEMPT_OUTCOME]: outcome,
      [ATTR_PROCESS_EXIT_CODE]: failed ? 1 : 0,
    }, failed),
  ];
}

function configText() {
  const lines = ['slos:'];
  for (let j = 0; j < JOBS; j++) {
    const kind = j % 10 === 0 ? 'freshness' : j % 10 <= 2 ? 'latency' : 'success';
    lines.push(`  - name: slo-${j}`, `    job: ${jobName(j)}`, `    sli: ${kind}`, '    objective: 0.99', '    window: 30d');
    if (kind === 'latency') lines.push('    latency: { threshold: 60s }');
    if (kind === 'freshness') lines.push('    freshness: { cron: "0 * * * *", timezone: UTC, grace: 30m }');
  }
  return lines.join('\n') + '\n';
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const store = await openStore(values.store);
try {
  console.log(`store ${store.kind} ${store.location}; ${RUNS.toLocaleString('en-US')} runs, ${JOBS} jobs`);
  if (!values['no-seed']) {
    const t0 = performance.now();
    const BATCH = 25_000;
    for (let i = 0; i < RUNS; i += BATCH) {
      const spans = [];
      for (let k = i; k < Math.min(RUNS, i + BATCH); k++) spans.push(...runSpansFor(k));
      await store.insertSpans(spans);
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`seeded ${RUNS.toLocaleString('en-US')} runs in ${secs.toFixed(1)} s (${Math.round(RUNS / secs).toLocaleString('en-US')} runs/s)`);
  }
  const { slos } = parseConfig(configText());
  const times = [];
  let firing = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const evals = await evaluateSlos(store, slos, NOW);
    const ms = performance.now() - t0;
    times.push(ms);
    firing = evals.reduce((n, e) => n + e.tiers.filter((t) => t.firing).length, 0);
    const total = evals.reduce((n, e) => n + (e.slo.sli === 'freshness' ? 0 : e.total), 0);
    console.log(`round ${r + 1}: ${slos.length} SLOs in ${ms.toFixed(0)} ms (${(ms / slos.length).toFixed(1)} ms/SLO; ${total.toLocaleString('en-US')} runs in 30d windows; ${firing} tiers firing)`);
  }
  console.log(`median: ${median(times).toFixed(0)} ms for ${slos.length} SLOs over ${RUNS.toLocaleString('en-US')} runs (${(median(times) / slos.length).toFixed(1)} ms/SLO)`);
} finally {
  await store.close();
}
