import { parseArgs } from 'node:util';
import { ConfigError } from '../../contracts/index.js';
import { analyze, formatTable } from '../../analyzer/index.js';
import { openStore } from '../../store/index.js';
import type { Command } from '../command.js';
import { STORE_HELP, storeValue, timeRange } from '../_options.js';

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
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.format !== 'table' && values.format !== 'json') {
      throw new ConfigError('--format', `"${values.format}" is not a format; use table or json`);
    }
    const range = timeRange(values.since, values.until, Date.now());
    const store = await openStore(storeValue(values.store, ctx));
    try {
      const result = await analyze(store, range);
      ctx.out(values.format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : formatTable(result));
      return 0;
    } finally {
      await store.close();
    }
  },
};
