// A/B benchmark of the store's insert path (derivation included) between two
// builds of jobslo, in one process, on the same job-shaped spans (a run span
// and 1-3 attempt spans per run, the executor's attributes, as bench/ingest.mjs
// sends): DuckDBStore.insertSpans into a fresh in-memory store (batches of 500)
// and the ClickHouse store's TabSeparated encoding, alternating the builds
// round by round. Prints the medians and the median of the per-round
// after/before ratios (robust to a shared machine's changing load).
//
//   REPO=$PWD && npx tsc -p tsconfig.build.json
//   git worktree add --detach /tmp/jobslo-before <commit>
//   (cd /tmp/jobslo-before && ln -s "$REPO/node_modules" . && npx tsc -p tsconfig.build.json)
//   node bench/store-insert-ab.mjs /tmp/jobslo-before/dist "$REPO/dist" [spans=20000] [rounds=10]
import process from 'node:process';
import console from 'node:console';
import { randomBytes } from 'node:crypto';
const hex = (b) => randomBytes(b).toString('hex');
function build(total) {
  const resource = { 'service.name': 'bench-worker', 'service.version': '2.3.1', 'host.name': 'worker-3.internal', 'deployment.environment': 'production' };
  const out = []; let n = 0; const t0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  for (let run = 0; n < total; run++) {
    const job = `bench-${run % 50}`; const traceId = hex(16); const runSpan = hex(8); const attempts = 1 + (run % 7 === 0 ? 2 : 0);
    const start = t0 + BigInt(run) * 1_000_000n;
    const common = { traceId, traceState: '', kind: 1, events: [], resourceAttributes: resource, scopeName: 'jobslo', scopeVersion: '0.1.0' };
    out.push({ ...common, spanId: runSpan, parentSpanId: '', name: 'job.run', startTimeUnixNano: start, endTimeUnixNano: start + 900_000_000n, statusCode: 0, statusMessage: '',
      attributes: { 'jobslo.job.name': job, 'jobslo.run.id': `run-${run}`, 'jobslo.span.type': 'run', 'jobslo.run.outcome': 'succeeded', 'jobslo.run.attempts': attempts, 'jobslo.queue.name': 'default', 'jobslo.cost.amount': 0.0125, 'jobslo.resource.cpu_seconds': 1.5, 'jobslo.resource.max_rss_bytes': 104857600, 'process.command': 'node dist/report.js --date=2026-11-01' } });
    n++;
    for (let a = 1; a <= attempts && n < total; a++) {
      const ok = a === attempts;
      out.push({ ...common, spanId: hex(8), parentSpanId: runSpan, name: 'job.attempt', startTimeUnixNano: start + BigInt(a - 1) * 300_000_000n, endTimeUnixNano: start + BigInt(a) * 300_000_000n - 1_000_000n, statusCode: ok ? 0 : 2, statusMessage: ok ? '' : 'exit code 1',
        attributes: { 'jobslo.job.name': job, 'jobslo.run.id': `run-${run}`, 'jobslo.span.type': 'attempt', 'jobslo.attempt.number': a, 'jobslo.attempt.outcome': ok ? 'succeeded' : 'failed', 'process.exit.code': ok ? 0 : 1, ...(ok ? {} : { 'error.type': '1' }), 'process.command': 'node dist/report.js --date=2026-11-01' } });
      n++;
    }
  }
  return out;
}

import { performance } from 'node:perf_hooks';
const [before, after] = [process.argv[2], process.argv[3]];
const N = Number(process.argv[4] ?? 20000), ROUNDS = Number(process.argv[5] ?? 10);
// store/duckdb.js holds DuckDbStore in every tree (store/index.js stopped exporting it).
const mods = await Promise.all([before, after].map(async (d) => ({ store: await import(`${d}/store/duckdb.js`), ch: await import(`${d}/store/_clickhouse.js`) })));
const spans = build(N);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const duck = [[], []], enc = [[], []];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? [0, 1] : [1, 0];
  for (const i of order) {
    const st = await mods[i].store.DuckDbStore.open({ path: ':memory:' }); await st.migrate();
    let t = performance.now();
    for (let k = 0; k < spans.length; k += 500) await st.insertSpans(spans.slice(k, k + 500));
    duck[i].push(N / ((performance.now() - t) / 1000));
    await st.close();
    t = performance.now();
    for (let k = 0; k < spans.length; k += 500) mods[i].ch.encodeSpansTsvChunks(spans.slice(k, k + 500), 1n);
    enc[i].push(N / ((performance.now() - t) / 1000));
  }
}
const ratios = (x) => med(x[1].map((v, k) => v / x[0][k]));
console.log(JSON.stringify({ duckdb: { before: Math.round(med(duck[0])), after: Math.round(med(duck[1])), afterOverBefore: +ratios(duck).toFixed(3) }, clickhouseEncode: { before: Math.round(med(enc[0])), after: Math.round(med(enc[1])), afterOverBefore: +ratios(enc).toFixed(3) } }));
