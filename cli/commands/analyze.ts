import { parseArgs } from 'node:util';
import { ConfigError } from '../../contracts/index.js';
import { analyze, formatTable } from '../../analyzer/index.js';
import { evaluateSlos, formatSloTable, toSloJson } from '../../analyzer/slo/index.js';
import { describeUnmatched, evaluateMonitors, findUnmatchedSelectors, formatMonitorTable, toMonitorJson, unmatchedJson } from '../../analyzer/monitors/index.js';
import { CONFIG_HELP, resolveConfig, storeFor } from './alerts.js';
import type { Command } from '../command.js';
import { withScheduleMonitors } from '../_monitors.js';
import { STORE_HELP, timeRange } from '../_options.js';
import { openExistingStore } from '../_store.js';
import type { UnformedSpans } from '../../store/index.js';

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'Print per-job SLIs (success rate, latency percentiles, retries), SLOs and monitor states from a store',
  help: `Usage: jobslo analyze [--store URL] [--since 24h] [--until ISO] [--format table|json]
                      [--where KEY=VALUE]... [--group-by KEY]

Computes per-job SLIs over the runs that finished in the window. Aggregation
runs inside the store. With a config, also evaluates its SLOs and monitors
(check states) at the end of the window, and warns on stderr about every SLO
or monitor whose job matches no job that ran in its window (a typo, a
renamed job). Only reads: a store that does not exist is an error.

Exit status: 0 ok, 1 an SLO or monitor matches no job, 2 error (a store that
does not exist: JOBSLO_ERR_STORE_MISSING).

Options:
${STORE_HELP}
  --since DURATION    window length ending now (or at --until): 30m, 24h, 7d (default 24h)
  --until ISO         end of the window, ISO-8601 (default: now)
  --where KEY=VALUE   only runs whose dimension KEY (a resource or span
                      attribute: service.name, deployment.environment.name,
                      team, ...) is VALUE; repeat to require several
  --group-by KEY      one row per job and value of dimension KEY ("group" in
                      json; runs without it have the value "")
  --format FORMAT     table (default) or json; json is a stable contract:
                      {"from","to","jobs":[{"job","runs","succeeded","failed",
                       "success_rate","latency_ms":{"p50","p95","p99"},"retries_per_run",...}]}
                      and, with a config, "slos":[{"name","sli_value",
                       "error_budget_remaining","burn_rates",...}] (docs/slos.md),
                      "monitors":[{"name","job","status","last_success",
                       "next_expected","missed_in_a_row",...}] (docs/monitors.md)
                      and "unmatched":[{"kind","name","job","suggestions"}]
                       (SLOs and monitors whose job matched no job seen, or,
                       with "where","dimension","values_seen", whose where:
                       matched no run of it);
                      always "unformed_spans":{"spans","by_reason":[{"profile",
                       "missing","spans"}]}: stored spans of the window that
                       look like job telemetry but form no run (a job name
                       without a run id, say), whatever --where says
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
        where: { type: 'string', multiple: true },
        'group-by': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.format !== 'table' && values.format !== 'json') {
      throw new ConfigError('--format', `"${values.format}" is not a format; use table or json`);
    }
    const range = timeRange(values.since, values.until, Date.now());
    const where = parseWhere(values.where ?? []);
    const groupBy = values['group-by'];
    if (groupBy !== undefined && groupBy.trim() === '') throw new ConfigError('--group-by', 'needs a dimension key, e.g. --group-by service.name');
    const loaded = resolveConfig(values.config, ctx, false, false);
    const config = loaded ? await withScheduleMonitors(loaded, ctx) : undefined;
    const store = await openExistingStore(storeFor(values.store, ctx, config), ctx);
    try {
      const [result, unformed] = await Promise.all([analyze(store, range, { where, ...(groupBy === undefined ? {} : { groupBy }) }), store.unformedSpans(range)]);
      const unformedTotal = unformed.reduce((n, u) => n + u.spans, 0);
      const at = range.toMillis;
      const slos = config ? await evaluateSlos(store, config.slos, at) : undefined;
      const monitors = config ? await evaluateMonitors(store, config.monitors, at) : undefined;
      const unmatched = config ? await findUnmatchedSelectors(store, config, at) : [];
      for (const u of unmatched) ctx.err(`jobslo analyze: warning: ${describeUnmatched(u)}\n`);
      if (values.format === 'json') {
        const extra = slos && monitors ? { slos: slos.map(toSloJson), monitors: monitors.map(toMonitorJson), unmatched: unmatched.map(unmatchedJson) } : {};
        const unformedJson = { spans: unformedTotal, by_reason: unformed.map((u) => ({ profile: u.profile, missing: u.missing, spans: u.spans })) };
        ctx.out(`${JSON.stringify({ ...result, ...extra, unformed_spans: unformedJson }, null, 2)}\n`);
      } else {
        let text = formatTable(result);
        if (slos && config && (config.slos.length > 0 || config.monitors.length === 0)) text += `\n${formatSloTable(slos)}`;
        if (monitors && monitors.length > 0) text += `\n${formatMonitorTable(monitors)}`;
        if (unformedTotal > 0) text += `\n${formatUnformed(unformed, unformedTotal)}`;
        ctx.out(text);
      }
      return unmatched.length > 0 ? 1 : 0;
    } finally {
      await store.close();
    }
  },
};

/**
 * One line on the spans that look like job telemetry but form no run:
 * `12 spans in this window look like job telemetry but form no run: 12 jobslo spans without jobslo.run.id`.
 */
export function formatUnformed(unformed: readonly UnformedSpans[], total: number): string {
  const reasons = unformed.map((u) => `${u.spans} ${u.profile} span${u.spans === 1 ? '' : 's'} without ${u.missing}`).join(', ');
  return `${total} span${total === 1 ? '' : 's'} in this window ${total === 1 ? 'looks' : 'look'} like job telemetry but form${total === 1 ? 's' : ''} no run: ${reasons} (see docs/instrument.md)\n`;
}

/**
 * `--where KEY=VALUE` flags as a filter: split at the first `=`, the key
 * trimmed and not empty; the same key twice must agree.
 */
export function parseWhere(flags: readonly string[]): Record<string, string> {
  const where: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const key = eq < 0 ? '' : flag.slice(0, eq).trim();
    if (eq < 0 || key === '') throw new ConfigError('--where', `"${flag}" is not KEY=VALUE, e.g. --where deployment.environment.name=prod`);
    const value = flag.slice(eq + 1);
    if (Object.hasOwn(where, key) && where[key] !== value) throw new ConfigError('--where', `${key} is given twice with different values ("${where[key]}" and "${value}"); a run has one value per key`);
    where[key] = value;
  }
  return where;
}
