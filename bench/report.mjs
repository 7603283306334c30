// Benchmark of the HTML report: time to collect and render the whole site
// (overview, on-call page, one page per job) for 1,000 jobs over 30 days.
//
//   npx tsc -p tsconfig.build.json
//   node bench/report.mjs [--jobs 1000] [--days 30] [--rounds 3] [--store-path .jobslo/bench-report.duckdb] [--fresh] [--raw]
//   node bench/report.mjs --store clickhouse:http://127.0.0.1:8123/bench_report_1000 [...]
//
// Seeds a DuckDB file (or, with --store clickhouse:URL/DATABASE, a ClickHouse
// database) once (reused while --jobs/--days match; --fresh rebuilds it) with
// the window and the previous period of the same length:
// job i runs every 30m, 1h, 2h, 6h, 12h or 24h (i mod 6), ~450 runs per job
// per 30 days, a run span and an attempt span each (a retry attempt on 3% of
// runs), 2% failed with an error type and message, costs and queue times on
// half the jobs. Spans go in through Store.insertSpans in batches of 50,000.
// Then, per round: collectReportData (all store queries) and
// renderReportSite (templates and SVG, all in memory), and the median of the
// rounds for each and for their sum. --raw also collects, in every round and in
// alternating order, with the store's rollups switched off for reads
// (`useRollups(false)`: every query from raw runs), checks that both collect
// the same data and prints both medians and the median per-round ratio.
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { DuckDbStore } from '../dist/store/duckdb.js';
import { ClickHouseStore } from '../dist/store/clickhouse.js';
import { collectReportData, renderReportSite } from '../dist/reports/index.js';
import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_COST_AMOUNT,
  ATTR_ERROR_TYPE,
  ATTR_JOB_NAME,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SPAN_TYPE,
} from '../dist/contracts/index.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000' },
    days: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    'store-path': { type: 'string', default: '.jobslo/bench-report.duckdb' },
    store: { type: 'string' },
    fresh: { type: 'boolean', default: false },
    raw: { type: 'boolean', default: false },
  },
});
const JOBS = Number(values.jobs);
const DAYS = Number(values.days);
const ROUNDS = Number(values.rounds);
const PATH = values['store-path'];
const CH = values.store === undefined ? null : /^clickhouse:(https?:\/\/[^/]+)\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(values.store);
if (values.store !== undefined && CH === null) throw new Error(`--store ${values.store}: expected clickhouse:http://HOST:PORT/DATABASE`);
/** Opens the benchmark's store; rollup maintenance off while seeding. */
const openBenchStore = (rollups) =>
  CH ? ClickHouseStore.open({ url: CH[1], database: CH[2], rollups, requestTimeoutMillis: 600_000 }) : DuckDbStore.open({ path: PATH, rollups });
/** Where the seeding's parameters are kept, to reuse the store while they match. */
const META = CH ? `.jobslo/bench-report-${CH[2]}.meta.json` : `${PATH}.meta.json`;
const DAY = 86_400_000;
const PERIODS = [30, 60, 120, 360, 720, 1440].map((m) => m * 60_000);
const INSERT_BATCH = 50_000;
// A fixed end, so the seeded file stays valid between runs.
const END = Date.UTC(2026, 10, 30, 0, 0, 0);
const RANGE = { fromMillis: END - DAYS * DAY, toMillis: END };

/** mulberry32 */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n, width) => n.toString(16).padStart(width, '0');
const ns = (ms) => BigInt(Math.round(ms)) * 1_000_000n;
const resource = { 'service.name': 'bench' };

function span(traceId, spanId, parentSpanId, name, start, end, attributes, error, message = '') {
  return {
    traceId,
    spanId,
    parentSpanId,
    traceState: '',
    name,
    kind: 1,
    startTimeUnixNano: ns(start),
    endTimeUnixNano: ns(end),
    statusCode: error ? 2 : 0,
    statusMessage: message,
    attributes,
    events: [],
    resourceAttributes: resource,
    scopeName: 'bench',
    scopeVersion: '',
  };
}

let spanSeq = 0;
/** The spans of every run of job `j` over both periods. */
function* jobSpans(j) {
  const job = `bench-job-${String(j).padStart(4, '0')}`;
  const period = PERIODS[j % PERIODS.length];
  const random = prng(j + 1);
  const costed = j % 2 === 0;
  const base = 200 + random() * 5_000;
  for (let t = RANGE.fromMillis - DAYS * DAY + random() * period; t < END - 60_000; t += period) {
    const runId = `r${hex(++spanSeq, 12)}`;
    const traceId = hex(spanSeq, 32);
    const runSpanId = hex(spanSeq * 4, 16);
    const failed = random() < 0.02;
    const retried = !failed && random() < 0.03;
    const d = base * (0.5 + random()) * (random() < 0.02 ? 8 : 1);
    const attempts = failed ? 2 : retried ? 2 : 1;
    const runAttrs = {
      [ATTR_JOB_NAME]: job,
      [ATTR_RUN_ID]: runId,
      [ATTR_SPAN_TYPE]: 'run',
      [ATTR_RUN_OUTCOME]: failed ? 'failed' : 'succeeded',
      [ATTR_RUN_ATTEMPTS]: attempts,
      ...(failed ? { [ATTR_ERROR_TYPE]: random() < 0.5 ? 'UpstreamUnavailableError' : '1' } : {}),
      ...(costed ? { [ATTR_COST_AMOUNT]: 0.01 + d / 1e6, [ATTR_QUEUED_TIME_UNIX_NANO]: ns(t - random() * 2_000).toString() } : {}),
    };
    let end = t;
    const out = [];
    for (let a = 1; a <= attempts; a++) {
      const ok = !failed && a === attempts;
      const start = end + (a > 1 ? 500 : 0);
      end = start + d;
      out.push(
        span(traceId, hex(spanSeq * 4 + a, 16), runSpanId, 'job.attempt', start, end, {
          [ATTR_JOB_NAME]: job,
          [ATTR_RUN_ID]: runId,
          [ATTR_SPAN_TYPE]: 'attempt',
          [ATTR_ATTEMPT_NUMBER]: a,
          [ATTR_ATTEMPT_OUTCOME]: ok ? 'succeeded' : 'failed',
          [ATTR_PROCESS_EXIT_CODE]: ok ? 0 : 1,
        }, !ok),
      );
    }
    yield span(traceId, runSpanId, '', 'job.run', t, end, runAttrs, failed, failed ? 'upstream answered 503 Service Unavailable; giving up after 2 attempts' : '');
    yield* out;
  }
}

async function seed() {
  const meta = META;
  const want = JSON.stringify({ jobs: JOBS, days: DAYS, end: END, version: 2 });
  if (!values.fresh && (CH || existsSync(PATH)) && existsSync(meta) && readFileSync(meta, 'utf8') === want) {
    console.log(`reusing ${values.store ?? PATH} (${want})`);
    return;
  }
  for (const p of CH ? [meta] : [PATH, `${PATH}.wal`, meta]) rmSync(p, { force: true });
  if (CH) {
    const r = await globalThis.fetch(`${CH[1]}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${CH[2]}` });
    if (!r.ok) throw new Error(`cannot drop ${CH[2]}: ${await r.text()}`);
  }
  // Without rollup maintenance: the migrate below builds the rollups from the stored job rows.
  const store = await openBenchStore(false);
  await store.migrate();
  const t0 = performance.now();
  let batch = [];
  let total = 0;
  for (let j = 0; j < JOBS; j++) {
    for (const s of jobSpans(j)) {
      batch.push(s);
      if (batch.length === INSERT_BATCH) {
        await store.insertSpans(batch);
        total += batch.length;
        batch = [];
      }
    }
  }
  await store.insertSpans(batch);
  total += batch.length;
  await store.close();
  mkdirSync(dirname(meta), { recursive: true });
  writeFileSync(meta, want);
  const s = (performance.now() - t0) / 1000;
  console.log(`seeded ${total.toLocaleString('en-US')} spans for ${JOBS} jobs over ${2 * DAYS} days in ${s.toFixed(1)} s (${Math.round(total / s).toLocaleString('en-US')} spans/s)`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

await seed();
const opened = await openBenchStore(true);
{
  const t0 = performance.now();
  await opened.migrate();
  console.log(`migrate (builds the rollups a store lacks): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const store = opened;
const collect = [];
const render = [];
const rawCollect = [];
const ratios = [];
let pages = 0;
const collectWith = async (rollups) => {
  opened.useRollups(rollups);
  try {
    const t0 = performance.now();
    const data = await collectReportData(store, { range: RANGE, version: 'bench', generatedAt: new Date(END) });
    return { ms: performance.now() - t0, data };
  } finally {
    opened.useRollups(true);
  }
};
try {
  for (let r = 0; r < ROUNDS; r++) {
    let raw;
    if (values.raw && r % 2 === 1) raw = await collectWith(false);
    const { ms, data } = await collectWith(true);
    if (values.raw && r % 2 === 0) raw = await collectWith(false);
    const t1 = performance.now();
    const site = renderReportSite(data);
    const t2 = performance.now();
    pages = site.size;
    const bytes = [...site.values()].reduce((s, h) => s + Buffer.byteLength(h), 0);
    collect.push(ms);
    render.push(t2 - t1);
    let rawNote = '';
    if (raw) {
      if (JSON.stringify(raw.data) !== JSON.stringify(data)) throw new Error(`round ${r + 1}: the report data from rollups and from raw runs differ`);
      rawCollect.push(raw.ms);
      ratios.push(raw.ms / ms);
      rawNote = `; raw collect ${(raw.ms / 1000).toFixed(2)} s (${ratios.at(-1).toFixed(2)}x), same data`;
    }
    console.log(`round ${r + 1}: collect ${(ms / 1000).toFixed(2)} s, render ${((t2 - t1) / 1000).toFixed(2)} s, ${pages} pages, ${(bytes / 1e6).toFixed(1)} MB${rawNote}`);
  }
} finally {
  await opened.close();
}
if (values.raw) console.log(`median raw collect ${(median(rawCollect) / 1000).toFixed(2)} s; median per-round ratio raw / rollups ${median(ratios).toFixed(2)}x`);
const total = collect.map((c, i) => c + render[i]);
console.log(
  `median of ${ROUNDS}: collect ${(median(collect) / 1000).toFixed(2)} s + render ${(median(render) / 1000).toFixed(2)} s = ${(median(total) / 1000).toFixed(2)} s ` +
    `for ${pages} pages (${JOBS} jobs, ${DAYS}-day window; ${opened.kind}); ${process.version}`,
);
