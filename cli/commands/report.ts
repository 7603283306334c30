import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ConfigError, JOBSLO_VERSION } from '../../contracts/index.js';
import { collectReportData, writeReportSite } from '../../reports/index.js';
import { emptyAlertState, openAlertBackend } from '../../analyzer/alerts/index.js';
import { evaluateMonitors, findUnmatchedSelectors, loadMonitorStateFrom } from '../../analyzer/monitors/index.js';
import type { MonitorState } from '../../analyzer/monitors/index.js';
import type { AlertBackend, AlertState } from '../../analyzer/alerts/index.js';
import { evaluateSlos } from '../../analyzer/slo/index.js';
import type { Command } from '../command.js';
import { withScheduleMonitors } from '../_monitors.js';
import { STORE_HELP, timeRange } from '../_options.js';
import { reportChecks, reportSlos, withSloWarnings } from '../_report-slos.js';
import { openExistingStore } from '../_store.js';
import { parseWhere } from './analyze.js';
import { CONFIG_HELP, STATE_DIR_HELP, TRACE_URL_HELP, checkTraceUrl, resolveConfig, storeFor } from './alerts.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'Write the HTML SLO report: overview, on-call, check list and per-job pages',
  help: `Usage: jobslo report [--store URL] [--since 24h] [--until ISO] [--out DIR]
                     [--config FILE] [--state-dir DIR] [--trace-url TEMPLATE]
                     [--where KEY=VALUE]...

Writes a static site into DIR: index.html (overview: success, failures, cost
and their change against the previous window of the same length),
oncall.html (jobs down, running too long or late first, then alerts, queue
delay and the latest failures with trace ids) and one page per
job under jobs/ (success and latency over time, latency histogram, retries,
failure modes, slowest and failed runs). Every page is self-contained (inline
CSS and SVG, no scripts, no network) and works offline, as a CI artifact or as
an email attachment. Prints the path of index.html.
With SLOs (--config, or a jobslo.yaml in the working directory) the site
also has an SLO compliance table, error budgets, burn rates against each
alert tier, firing alerts (from the alert state of "jobslo alerts"/"serve")
and one page per SLO under slos/; with monitors (monitors:, freshness SLOs,
schedules: in the config) a check list, checks.html: status, last run, last
success, next expected tick, schedule and grace, missed in a row. SLOs and
monitors whose job matches no job seen are flagged on their pages. Only reads:
a store that does not exist is an error (JOBSLO_ERR_STORE_MISSING).

Options:
${STORE_HELP}
  --since DURATION    window length ending now (or at --until) (default 24h)
  --until ISO         end of the window, ISO-8601 (default: now)
  --out DIR           output folder, created if missing (default jobslo-report)
  --where KEY=VALUE   job figures, job pages and failure lists only from runs
                      whose dimension KEY (service.name,
                      deployment.environment.name, ...) is VALUE; repeat to
                      require several. SLO pages keep their SLO's own where:
${CONFIG_HELP}
${STATE_DIR_HELP}
${TRACE_URL_HELP}
  -h, --help          show this help
`,
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: {
        store: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        out: { type: 'string', default: 'jobslo-report' },
        config: { type: 'string' },
        'state-dir': { type: 'string' },
        'trace-url': { type: 'string' },
        where: { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    });
    const range = timeRange(values.since, values.until, Date.now());
    const where = parseWhere(values.where ?? []);
    const loaded = resolveConfig(values.config, ctx, false, false);
    const config = loaded ? await withScheduleMonitors(loaded, ctx) : undefined;
    const storeValue = storeFor(values.store, ctx, config);
    const store = await openExistingStore(storeValue, ctx);
    try {
      const at = range.toMillis;
      const evaluations = config ? await evaluateSlos(store, config.slos, at) : undefined;
      const stateDir = values['state-dir'] === undefined ? undefined : resolve(ctx.cwd, values['state-dir']);
      const state = evaluations ? await loadAlertStateFor(storeValue, stateDir) : emptyAlertState();
      // The saved monitor state only describes now: a report of a past window starts every monitor afresh.
      const monitorState = values.until === undefined && config && config.monitors.length > 0 ? await loadMonitorStateFor(storeValue, stateDir) : undefined;
      const monitors = config && config.monitors.length > 0 ? await evaluateMonitors(store, config.monitors, at, monitorState ? { state: monitorState } : {}) : undefined;
      const unmatched = config ? await findUnmatchedSelectors(store, config, at) : [];
      const traceUrl = checkTraceUrl(values['trace-url']);
      const data = await collectReportData(store, {
        range,
        version: JOBSLO_VERSION,
        where,
        ...(traceUrl !== undefined ? { traceUrlTemplate: traceUrl } : {}),
        ...(evaluations ? { slos: withSloWarnings(reportSlos(evaluations, state), unmatched) } : {}),
        ...(monitors ? { checks: reportChecks(monitors, unmatched) } : {}),
      });
      const path = await writeReportSite(resolve(ctx.cwd, values.out), data);
      ctx.out(`${path}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
};

/** The monitor state of a store; undefined when the store has none (an in-memory store without --state-dir). */
async function loadMonitorStateFor(store: string, stateDir: string | undefined): Promise<MonitorState | undefined> {
  let backend: AlertBackend;
  try {
    backend = openAlertBackend({ store, ...(stateDir !== undefined ? { stateDir } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) return undefined;
    throw err;
  }
  try {
    return (await loadMonitorStateFrom(backend.monitorState)).state;
  } finally {
    await backend.close();
  }
}

/** The alert state of a store (for fire times); empty when the store has none (an in-memory store without --state-dir). */
async function loadAlertStateFor(store: string, stateDir: string | undefined): Promise<AlertState> {
  let backend: AlertBackend;
  try {
    backend = openAlertBackend({ store, ...(stateDir !== undefined ? { stateDir } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) return emptyAlertState();
    throw err;
  }
  try {
    return (await backend.state.load()).state;
  } finally {
    await backend.close();
  }
}
