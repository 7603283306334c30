import { parseArgs } from 'node:util';
import { formatTable } from '../../analyzer/index.js';
import { formatSloTable } from '../../analyzer/slo/index.js';
import { DEMO_JOBS } from '../demo/plan.js';
import { runDemo } from '../demo/run-demo.js';
import type { Command } from '../command.js';
import { parsePositiveInt } from '../_options.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Run sample jobs end to end on the embedded store and print their SLIs (no servers)',
  help: `Usage: jobslo demo [--store-path FILE] [--out DIR] [--seed N] [--concurrency N]

Starts the collector in-process on a free port over a fresh DuckDB file, runs
${DEMO_JOBS.reduce((n, j) => n + j.runs, 0)} runs of ${DEMO_JOBS.length} sample jobs through the real executor, exporting their
spans over OTLP/HTTP, then prints the SLI table, evaluates four SLOs with
burn-rate alert tiers (the always-failing job and the slow job's latency
SLO fire) and writes the HTML
report.
The same seed gives the same runs and outcomes.

Jobs:
${DEMO_JOBS.map((j) => `  ${j.name.padEnd(15)} ${j.runs} runs, ${j.describe}`).join('\n')}

Options:
  --store-path FILE   DuckDB file, replaced if it exists (default .jobslo/demo.duckdb)
  --out DIR           report folder (default .jobslo/demo-report)
  --seed N            plan seed (default 42)
  --concurrency N     runs at once (default 8)
  -h, --help          show this help

Afterwards, explore the same data:
  jobslo analyze --store duckdb:.jobslo/demo.duckdb --since 1h --format json
`,
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: {
        'store-path': { type: 'string', default: '.jobslo/demo.duckdb' },
        out: { type: 'string', default: '.jobslo/demo-report' },
        seed: { type: 'string' },
        concurrency: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    const seed = parsePositiveInt(values.seed, '--seed', 42);
    const concurrency = parsePositiveInt(values.concurrency, '--concurrency', 8);
    const result = await runDemo({
      storePath: values['store-path'],
      reportDir: values.out,
      seed,
      concurrency,
      logger: ctx.logger,
      signal: ctx.signal,
    });
    ctx.out(formatTable(result.analysis));
    ctx.out(`\n${formatSloTable(result.slos)}`);
    const total = result.analysis.jobs.reduce((n, j) => n + j.runs + j.cancelled + j.skipped, 0);
    ctx.out(`\n${total} runs in ${(result.elapsedMillis / 1000).toFixed(1)} s, ${result.delivery.exportedSpans} spans received by the collector at ${result.collectorUrl}.\n`);
    ctx.out(`Report: ${result.reportPath}\n`);
    ctx.out(`Store:  duckdb:${values['store-path']}  (try: jobslo analyze --store duckdb:${values['store-path']} --since 1h)\n`);
    if (ctx.signal.aborted) return 130;
    return 0;
  },
};
