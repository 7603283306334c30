#!/usr/bin/env node
/* global process, console, performance */
// Executor overhead. Run after `npx tsc -p tsconfig.build.json`:
//   node bench/executor.mjs
// 1. CLI: median wall time of `jobslo run ... -- true` (unreachable collector)
//    against `node -e 0` and `true`, over 30 runs each.
// 2. Tracer start-up: import + start of NodeSDK vs a plain BasicTracerProvider.
// 3. Library: runJob per run vs calling the function directly (no-op exporter).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 10_000);

if (!existsSync(join(ROOT, 'dist/executor/index.js'))) {
  console.error('bench/executor.mjs: build first: npx tsc -p tsconfig.build.json');
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function wall(cmd, args, opts = {}) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return median(times);
}

const node = process.execPath;
const runOnly = `
import { runCommand } from './dist/cli/commands/run.js';
import { noopLogger } from './dist/contracts/index.js';
process.exitCode = await runCommand.run(['--job', 'b', '--endpoint', 'http://127.0.0.1:1', '--', 'true'], {
  out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), logger: noopLogger,
  env: process.env, cwd: process.cwd(), signal: new AbortController().signal });`;
const startSdk = `
const t = performance.now();
const { NodeSDK } = await import('@opentelemetry/sdk-node');
const sdk = new NodeSDK({ traceExporter: { export: (s, cb) => cb({ code: 0 }), shutdown: async () => {} }, instrumentations: [] });
sdk.start();
sdk.getTracer?.('x');
await sdk.shutdown();
console.log(performance.now() - t);`;
const startBasic = `
const t = performance.now();
const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
const p = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: 'http://127.0.0.1:1/v1/traces' }))] });
p.getTracer('x').startSpan('s').end();
console.log(performance.now() - t);`;

function inProcessMillis(code) {
  const xs = [];
  for (let i = 0; i < Math.min(RUNS, 15); i++) {
    const r = spawnSync(node, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' } });
    if (r.status !== 0) throw new Error(r.stderr);
    xs.push(Number(r.stdout.trim().split('\n').at(-1)));
  }
  return median(xs);
}

const rows = [];
const t0 = wall('true', []);
const tNode = wall(node, ['-e', '0']);
const tCli = wall(node, ['bin/jobslo.js', 'run', '--job', 'b', '--endpoint', 'http://127.0.0.1:1', '--', 'true']);
const tRunOnly = wall(node, ['--input-type=module', '-e', runOnly]);
rows.push(['true', t0, '']);
rows.push(['node -e 0', tNode, '']);
rows.push(['node bin/jobslo.js run --job b --endpoint http://127.0.0.1:1 -- true', tCli, `+${(tCli - tNode).toFixed(1)} ms over node`]);
rows.push(['  same, loading only the run command (no other CLI commands)', tRunOnly, `+${(tRunOnly - tNode).toFixed(1)} ms over node`]);

console.log(`\nCLI wall time, median of ${RUNS} runs (ms)`);
for (const [name, ms, note] of rows) console.log(`  ${ms.toFixed(1).padStart(8)}  ${name}${note ? `  (${note})` : ''}`);

console.log(`\nTracer import + start, in-process, median of ${Math.min(RUNS, 15)} fresh processes (ms)`);
console.log(`  ${inProcessMillis(startSdk).toFixed(1).padStart(8)}  @opentelemetry/sdk-node NodeSDK (no instrumentations)`);
console.log(`  ${inProcessMillis(startBasic).toFixed(1).padStart(8)}  sdk-trace-base BasicTracerProvider + OTLP/HTTP exporter`);

// Library overhead.
const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
const { runJob } = await import(join(ROOT, 'dist/executor/index.js'));
const provider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ export: (_spans, cb) => cb({ code: 0 }), shutdown: async () => {} })],
});
const fn = async () => 1;
for (let i = 0; i < 500; i++) await runJob({ name: 'warm', tracerProvider: provider }, fn);
let t = performance.now();
for (let i = 0; i < ITERATIONS; i++) await fn();
const direct = (performance.now() - t) / ITERATIONS;
t = performance.now();
for (let i = 0; i < ITERATIONS; i++) await runJob({ name: 'bench', tracerProvider: provider }, fn);
const wrapped = (performance.now() - t) / ITERATIONS;
await provider.shutdown();
console.log(`\nLibrary, ${ITERATIONS} iterations (µs per run)`);
console.log(`  ${(direct * 1000).toFixed(2).padStart(8)}  await fn()`);
console.log(`  ${(wrapped * 1000).toFixed(2).padStart(8)}  await runJob({ name }, fn)  (2 spans, no-op exporter)`);
