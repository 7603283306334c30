// Benchmark of SLO evaluation: time to evaluate every SLO (SLI, error budget,
// burn rates over all tier windows, alert tiers) for N jobs over M runs.
//
//   npx tsc -p tsconfig.build.json
//   node bench/analyze.mjs [--store duckdb:PATH|clickhouse:http://HOST:8123/DB]
//                          [--runs 1000000] [--jobs 100] [--rounds 5] [--no-seed]
//                          [--per-slo]
//
// Seeds the store (unless --no-seed) with --runs runs (a run span and one
// attempt span each) spread evenly over the 30 days before now, across --jobs
// jobs, 2% failed, latencies 1-120 s. Each job gets one SLO: 70% success, 20%
// latency (threshold 60 s), 10% freshness (hourly cron, 30m grace), all with
// the Workbook's default tiers (windows 5m, 30m, 1h, 6h, 3d, 30d). Prints the
// seeding rate, then the wall time of evaluating all SLOs per round and the
// median of the rounds. The default store is an in-memory DuckDB.
//
// The timed work is `evaluateSlos`: one `windowCountsMany` query for all
// run-based SLOs (success, latency) plus one `runStarts` query per freshness
// SLO. With --per-slo each round also times the path before that change on
// the same seeded store — `evaluateSlo` per SLO, 4 in flight, i.e. one
// `windowCounts` or `runStarts` query per SLO — and the freshness SLOs alone
// (the part both paths share). The order of the timed paths alternates from
// round to round, the results of both paths are checked to be equal, and the
// medians and the per-SLO/batched ratio (median of the per-round ratios) are
// printed.
import console from 'node:console';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openStore } from '../dist/store/index.js';
import { evaluateSlo, evaluateSlos, parseConfig, toSloJson } from '../dist/analyzer/slo/index.js';
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
    'per-slo': { type: 'boolean', default: false },
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
  const freshnessSlos = slos.filter((s) => s.sli === 'freshness');
  // The path before windowCountsMany: evaluateSlo per SLO, `concurrency` in flight.
  const evaluatePerSlo = async (concurrency = 4) => {
    const out = new Array(slos.length);
    let next = 0;
    const worker = async () => {
      while (next < slos.length) {
        const i = next++;
        out[i] = await evaluateSlo(store, slos[i], NOW);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, slos.length) }, worker));
    return out;
  };
  const timed = async (f) => {
    const t0 = performance.now();
    const evals = await f();
    return { ms: performance.now() - t0, evals };
  };
  const describe = (evals) => {
    const firing = evals.reduce((n, e) => n + e.tiers.filter((t) => t.firing).length, 0);
    const total = evals.reduce((n, e) => n + (e.slo.sli === 'freshness' ? 0 : e.total), 0);
    return `${total.toLocaleString('en-US')} runs in 30d windows; ${firing} tiers firing`;
  };
  const times = [];
  const perSloTimes = [];
  const freshnessTimes = [];
  const ratios = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (!values['per-slo']) {
      const { ms, evals } = await timed(() => evaluateSlos(store, slos, NOW));
      times.push(ms);
      console.log(`round ${r + 1}: ${slos.length} SLOs in ${ms.toFixed(0)} ms (${(ms / slos.length).toFixed(1)} ms/SLO; ${describe(evals)})`);
      continue;
    }
    const paths = [
      ['batched', () => evaluateSlos(store, slos, NOW)],
      ['per-slo', () => evaluatePerSlo()],
      ['freshness', () => evaluateSlos(store, freshnessSlos, NOW)],
    ];
    if (r % 2 === 1) paths.reverse();
    const got = {};
    for (const [name, f] of paths) got[name] = await timed(f);
    const same = JSON.stringify(got['batched'].evals.map(toSloJson)) === JSON.stringify(got['per-slo'].evals.map(toSloJson));
    if (!same) throw new Error(`round ${r + 1}: batched and per-SLO evaluations differ`);
    times.push(got['batched'].ms);
    perSloTimes.push(got['per-slo'].ms);
    freshnessTimes.push(got['freshness'].ms);
    ratios.push(got['per-slo'].ms / got['batched'].ms);
    console.log(
      `round ${r + 1} (${paths.map((p) => p[0]).join(', ')}): batched ${got['batched'].ms.toFixed(0)} ms, per-SLO ${got['per-slo'].ms.toFixed(0)} ms ` +
        `(${ratios.at(-1).toFixed(1)}x), freshness alone ${got['freshness'].ms.toFixed(0)} ms; results equal; ${describe(got['batched'].evals)}`,
    );
  }
  console.log(`median: ${median(times).toFixed(0)} ms for ${slos.length} SLOs over ${RUNS.toLocaleString('en-US')} runs (${(median(times) / slos.length).toFixed(1)} ms/SLO)`);
  if (values['per-slo']) {
    console.log(`median per-SLO path: ${median(perSloTimes).toFixed(0)} ms (${(median(perSloTimes) / slos.length).toFixed(1)} ms/SLO)`);
    console.log(`median freshness alone (${freshnessSlos.length} SLOs): ${median(freshnessTimes).toFixed(0)} ms`);
    console.log(`median per-round ratio per-SLO / batched: ${median(ratios).toFixed(2)}x`);
  }
} finally {
  await store.close();
}
