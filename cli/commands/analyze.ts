import { parseArgs } from 'node:util';
import { ConfigError } from '../../contracts/index.js';
import { analyze, formatTable } from '../../analyzer/index.js';
import { openStore } from '../../store/index.js';
import { evaluateSlos, formatSloTable, toSloJson } from '../../analyzer/slo/index.js';
import { CONFIG_HELP, resolveConfig, storeFor } from './alerts.js';
import type { Command } from '../command.js';
import { STORE_HELP, timeRange } from '../_options.js';

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'Print per-job SLIs (success rate, latency percentiles, retries) from a store',
  help: `Usage: jobslo analyze [--store URL] [--since 24h] [--until ISO] [--format table|json]

Computes per-job SLIs over the runs that finished in the window. Aggregation
runs inside the store.

Options:
${STORE_HELP}
  --since DURATION    window length ending now (or at --until): 30m, 24h, 7d (default 24h)
  --until ISO         end of the window, ISO-8601 (default: now)
  --format FORMAT     table (default) or json; json is a stable contract:
                      {"from","to","jobs":[{"job","runs","succeeded","failed",
                       "success_rate","latency_ms":{"p50","p95","p99"},"retries_per_run",...}]}
                      and, with a config, "slos":[{"name","sli_value",
                       "error_budget_remaining","burn_rates",...}] (docs/slos.md)
${CONFIG_HELP}; SLOs are
                      evaluated at the end of the window when it exists
  -h, --help          show this help
`,
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: {
        store: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        format: { type: 'string', default: 'table' },
        config: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.format !== 'table' && values.format !== 'json') {
      throw new ConfigError('--format', `"${values.format}" is not a format; use table or json`);
    }
    const range = timeRange(values.since, values.until, Date.now());
    const config = resolveConfig(values.config, ctx, false, false);
    const store = await openStore(storeFor(values.store, ctx, config));
    try {
      const result = await analyze(store, range);
      const slos = config ? await evaluateSlos(store, config.slos, range.toMillis) : undefined;
      if (values.format === 'json') ctx.out(`${JSON.stringify(slos ? { ...result, slos: slos.map(toSloJson) } : result, null, 2)}\n`);
      else ctx.out(slos ? `${formatTable(result)}\n${formatSloTable(slos)}` : formatTable(result));
      return 0;
    } finally {
      await store.close();
    }
  },
};
