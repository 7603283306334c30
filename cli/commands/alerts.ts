import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../contracts/index.js';
import { openAlertBackend, runAlertCycle } from '../../analyzer/alerts/index.js';
import type { AlertBackend } from '../../analyzer/alerts/index.js';
import { DEFAULT_CONFIG_FILE, configuredStore, formatSloTable, loadConfig, toSloJson } from '../../analyzer/slo/index.js';
import type { JobsloConfig } from '../../analyzer/slo/index.js';
import { describeUnmatched, findUnmatchedSelectors, formatMonitorTable, runMonitorCycle, toMonitorJson, unmatchedJson } from '../../analyzer/monitors/index.js';
import type { CliContext, Command } from '../command.js';
import { withScheduleMonitors } from '../_monitors.js';
import { STORE_HELP, storeValue } from '../_options.js';
import { openExistingStore } from '../_store.js';

/**
 * The config a command uses: `--config FILE` (must exist), else
 * `./jobslo.yaml` when present; `undefined` when neither and not `required`.
 * @throws {ConfigError} when required and missing, or invalid
 */
export function resolveConfig(flag: string | undefined, ctx: CliContext, required: boolean, resolveSecrets = true): JobsloConfig | undefined {
  const path = resolve(ctx.cwd, flag ?? DEFAULT_CONFIG_FILE);
  if (flag === undefined && !existsSync(path)) {
    if (required) throw new ConfigError('--config', `no ${DEFAULT_CONFIG_FILE} in ${ctx.cwd}; pass --config FILE (see docs/slos.md)`);
    return undefined;
  }
  return loadConfig(path, { env: ctx.env, resolveSecrets });
}

/** `--store` flag, else `JOBSLO_STORE`, else the config's `store:`, else the default. */
export function storeFor(flag: string | undefined, ctx: CliContext, config: JobsloConfig | undefined): string {
  return storeValue(configuredStore(flag, ctx.env, config), ctx);
}

export const CONFIG_HELP = `  --config FILE       SLOs, monitors, alert tiers and webhooks (default ./${DEFAULT_CONFIG_FILE})`;
export const STATE_DIR_HELP = `  --state-dir DIR     keep alert state (alert-state.json), monitor state
                      (monitor-state.json) and the notification outbox
                      (outbox/) in this folder (default: beside the DuckDB
                      file as FILE.alerts/; for a ClickHouse store, all three
                      in tables of its database)`;

export const EXTERNAL_URL_HELP = `  --external-url URL  where jobslo serve is reachable, e.g. http://jobslo:9464:
                      alert links (generatorURL, Slack) go to the SLO's and
                      the job's page (default alerts.external_url)`;

/**
 * The config with \`--external-url\` as \`alerts.external_url\`.
 * @throws {ConfigError} when it is not an http(s) URL
 */
export function withExternalUrl(config: JobsloConfig, flag: string | undefined): JobsloConfig {
  if (flag === undefined) return config;
  let u: URL;
  try {
    u = new URL(flag);
  } catch {
    throw new ConfigError('--external-url', `must be an http(s) URL, got ${JSON.stringify(flag)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('--external-url', `must be an http(s) URL, got ${JSON.stringify(flag)}`);
  return { ...config, alerts: { ...config.alerts, externalUrl: flag.replace(/\/+$/, '') } };
}

export const TRACE_URL_HELP = `  --trace-url TEMPLATE
                      link trace ids to a tracing UI: {trace_id} (and
                      {span_id}, {run_id}, {job}) are filled in, e.g.
                      http://jaeger:16686/trace/{trace_id} (Jaeger),
                      http://signoz:3301/trace/{trace_id} (SigNoz), or a
                      Grafana Explore URL with {trace_id} as the Tempo query`;

/**
 * Checks a \`--trace-url\` template.
 * @throws {ConfigError} unless it is an http(s) URL with {trace_id} or {run_id}
 */
export function checkTraceUrl(flag: string | undefined): string | undefined {
  if (flag === undefined) return undefined;
  if (!/^https?:\/\//i.test(flag)) throw new ConfigError('--trace-url', `must be an http(s) URL template, got ${JSON.stringify(flag)}`);
  if (!/\{(trace_id|run_id)\}/.test(flag)) throw new ConfigError('--trace-url', 'must contain {trace_id} (or {run_id}), e.g. http://jaeger:16686/trace/{trace_id}');
  const unknown = /\{(?!trace_id\}|span_id\}|run_id\}|job\})[a-z_]+\}/.exec(flag);
  if (unknown) throw new ConfigError('--trace-url', `${unknown[0]} is not a placeholder; use {trace_id}, {span_id}, {run_id} or {job}`);
  return flag;
}

/** The alert backend of a command's `--store`/`--state-dir`. */
function backendFor(storeValue: string, stateDir: string | undefined, ctx: CliContext): AlertBackend {
  return openAlertBackend({ store: storeValue, ...(stateDir !== undefined ? { stateDir: resolve(ctx.cwd, stateDir) } : {}), logger: ctx.logger });
}

const DEAD_LETTERS_USAGE = 'jobslo alerts dead-letters list|requeue [--all | ID...] [--config FILE] [--store URL] [--state-dir DIR] [--format table|json]';

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'Evaluate SLO burn-rate alerts and job monitors once and deliver notifications to webhooks',
  help: `Usage: jobslo alerts --once [--config FILE] [--store URL] [--state-dir DIR] [--external-url URL]
                          [--format table|json]
       ${DEAD_LETTERS_USAGE}

Evaluates every SLO of the config (error budget, multiwindow burn-rate tiers)
and every monitor (check state of a scheduled job: new, up, late, down,
running too long, paused), sends notifications through the outbox to
alerts.webhooks, and prints both. SLO alerts are sent when they fire, again
every alerts.repeat_interval, and when they resolve; monitors notify once when
a job goes down or runs too long, and once when it recovers. Notifications
that cannot be delivered now stay in the outbox for the next run; those a
webhook rejected for good (a 4xx other than 408/429) or that expired
undelivered are dead letters. Without webhooks nothing is sent, and the
command says so. SLOs and monitors whose job matches no job that ran in their
window are reported on stderr.

  dead-letters list      print the dead letters (id, webhook, reason, when)
  dead-letters requeue   put the given dead letters (or --all) back in the
                         outbox with fresh attempts; the next "alerts --once"
                         or serve cycle sends them

Exit status: 0 nothing firing, 1 at least one alert firing, a monitor down
(or running too long), or an SLO or monitor whose job matches no job that ran
in its window (a typo is never green), 2 error (a store that does not exist:
JOBSLO_ERR_STORE_MISSING).

Options:
  --once              evaluate and deliver once, then exit (required; use
                      "jobslo serve" to evaluate continuously)
${CONFIG_HELP}
${STORE_HELP}
                      (a store: in the config is used when neither is set)
${STATE_DIR_HELP}
${EXTERNAL_URL_HELP}
  --format FORMAT     table (default) or json ({"at","slos":[...],"monitors":[...],
                      "unmatched":[...],"notifications","queued","webhooks","delivery"})
  -h, --help          show this help
`,
  async run(args, ctx) {
    if (args[0] === 'dead-letters') return deadLetters(args.slice(1), ctx);
    const { values } = parseArgs({
      args,
      options: {
        once: { type: 'boolean', default: false },
        config: { type: 'string' },
        store: { type: 'string' },
        'state-dir': { type: 'string' },
        'external-url': { type: 'string' },
        format: { type: 'string', default: 'table' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values.once) throw new ConfigError('--once', 'is required: "jobslo alerts --once" evaluates once; "jobslo serve" evaluates on an interval');
    if (values.format !== 'table' && values.format !== 'json') throw new ConfigError('--format', `"${values.format}" is not a format; use table or json`);
    const config = withExternalUrl(await withScheduleMonitors(resolveConfig(values.config, ctx, true) as JobsloConfig, ctx), values['external-url']);
    if (config.slos.length === 0 && config.monitors.length === 0) ctx.logger.warn('the config defines no SLOs and no monitors', { file: config.file });
    const storeValue = storeFor(values.store, ctx, config);
    // The store first: a store that does not exist is an error before any state folder is made.
    const store = await openExistingStore(storeValue, ctx);
    let backend: AlertBackend;
    try {
      backend = backendFor(storeValue, values['state-dir'], ctx);
    } catch (err) {
      await store.close();
      throw err;
    }
    try {
      const at = Date.now();
      const result = await runAlertCycle({ store, config, backend, atMillis: at, logger: ctx.logger, signal: ctx.signal });
      const monitors = await runMonitorCycle({ store, config, backend, atMillis: at, logger: ctx.logger, signal: ctx.signal });
      const unmatched = await findUnmatchedSelectors(store, config, at);
      for (const u of unmatched) ctx.err(`jobslo alerts: warning: ${describeUnmatched(u)}\n`);
      const notifications = result.notifications.length + monitors.notifications.length;
      const hooks = config.alerts.webhooks.length;
      const queued = Math.max(0, notifications * hooks - result.dropped - monitors.dropped);
      const delivery = {
        delivered: result.drain.delivered + monitors.drain.delivered,
        pending: result.drain.pending + monitors.drain.pending,
        deadLettered: result.drain.deadLettered + monitors.drain.deadLettered,
        dropped: result.dropped + monitors.dropped,
      };
      const down = monitors.evaluations.filter((e) => e.status === 'down' || e.status === 'running_too_long').length;
      if (values.format === 'json') {
        const doc = {
          at: new Date(at).toISOString(),
          slos: result.evaluations.map(toSloJson),
          monitors: monitors.evaluations.map(toMonitorJson),
          unmatched: unmatched.map(unmatchedJson),
          notifications,
          queued,
          webhooks: hooks,
          delivery,
        };
        ctx.out(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        if (config.slos.length > 0 || config.monitors.length === 0) ctx.out(formatSloTable(result.evaluations));
        if (config.monitors.length > 0) ctx.out(`${config.slos.length > 0 ? '\n' : ''}${formatMonitorTable(monitors.evaluations)}`);
        const sent =
          hooks === 0
            ? `no webhook is configured (alerts.webhooks in ${config.file}), so ${notifications} notification(s) were not sent`
            : `${notifications} notification(s) queued for ${hooks} webhook(s); delivered ${delivery.delivered}, pending ${delivery.pending}, dead-lettered ${delivery.deadLettered}`;
        ctx.out(`${result.firing} alert(s) firing, ${down} monitor(s) down or running too long; ${sent}\n`);
      }
      if (hooks === 0) ctx.err(`jobslo alerts: warning: no webhook is configured (alerts.webhooks in ${config.file}); ${notifications} notification(s) were not sent\n`);
      return result.firing > 0 || down > 0 || unmatched.length > 0 ? 1 : 0;
    } finally {
      await store.close();
      await backend.close();
    }
  },
};

async function deadLetters(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      store: { type: 'string' },
      'state-dir': { type: 'string' },
      format: { type: 'string', default: 'table' },
      all: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  const [action, ...ids] = positionals;
  if (action !== 'list' && action !== 'requeue') throw new ConfigError('dead-letters', `needs list or requeue; usage: ${DEAD_LETTERS_USAGE}`);
  if (values.format !== 'table' && values.format !== 'json') throw new ConfigError('--format', `"${values.format}" is not a format; use table or json`);
  if (action === 'list' && (ids.length > 0 || values.all)) throw new ConfigError('dead-letters list', 'takes no ids and no --all');
  if (action === 'requeue' && ids.length === 0 && !values.all) throw new ConfigError('dead-letters requeue', 'needs the ids to requeue (see "dead-letters list") or --all');
  if (action === 'requeue' && ids.length > 0 && values.all) throw new ConfigError('dead-letters requeue', 'takes either ids or --all, not both');
  const config = resolveConfig(values.config, ctx, false, false);
  const backend = backendFor(storeFor(values.store, ctx, config), values['state-dir'], ctx);
  try {
    if (action === 'requeue') {
      const n = await backend.outbox.requeue(values.all ? 'all' : ids, Date.now());
      if (values.format === 'json') ctx.out(`${JSON.stringify({ requeued: n })}\n`);
      else ctx.out(`${n} dead letter(s) requeued\n`);
      if (!values.all && n < ids.length) {
        ctx.err(`jobslo alerts: ${ids.length - n} id(s) are not dead letters of ${backend.location}\n`);
        return 2;
      }
      return 0;
    }
    const dead = await backend.outbox.deadLetters();
    if (values.format === 'json') {
      const doc = dead.map((d) => ({
        id: d.id,
        webhook: d.entry.webhook,
        idempotency_key: d.entry.idempotencyKey,
        reason: d.reason,
        attempts: d.entry.attempts,
        created_at: new Date(d.entry.createdAtMillis).toISOString(),
        dead_at: d.deadAtMillis > 0 ? new Date(d.deadAtMillis).toISOString() : null,
      }));
      ctx.out(`${JSON.stringify({ dead_letters: doc }, null, 2)}\n`);
      return 0;
    }
    if (dead.length === 0) {
      ctx.out(`No dead letters in ${backend.location}.\n`);
      return 0;
    }
    const rows = dead.map((d) => [d.id, d.entry.webhook, d.reason, String(d.entry.attempts), d.deadAtMillis > 0 ? new Date(d.deadAtMillis).toISOString() : '-']);
    const header = ['ID', 'WEBHOOK', 'REASON', 'ATTEMPTS', 'DEAD SINCE'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
    ctx.out(`${[line(header), ...rows.map(line)].join('\n')}\n`);
    return 0;
  } finally {
    await backend.close();
  }
}
