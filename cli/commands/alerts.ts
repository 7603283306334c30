import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../contracts/index.js';
import { openAlertBackend, runAlertCycle } from '../../analyzer/alerts/index.js';
import type { AlertBackend } from '../../analyzer/alerts/index.js';
import { DEFAULT_CONFIG_FILE, configuredStore, formatSloTable, loadConfig, toSloJson } from '../../analyzer/slo/index.js';
import type { JobsloConfig } from '../../analyzer/slo/index.js';
import { openStore } from '../../store/index.js';
import type { CliContext, Command } from '../command.js';
import { STORE_HELP, storeValue } from '../_options.js';

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

export const CONFIG_HELP = `  --config FILE       SLOs, alert tiers and webhooks (default ./${DEFAULT_CONFIG_FILE})`;
export const STATE_DIR_HELP = `  --state-dir DIR     keep alert state (alert-state.json) and the notification
                      outbox (outbox/) in this folder (default: beside the
                      DuckDB file as FILE.alerts/; in the database for a
                      ClickHouse store)`;

/** The alert backend of a command's `--store`/`--state-dir`. */
function backendFor(storeValue: string, stateDir: string | undefined, ctx: CliContext): AlertBackend {
  return openAlertBackend({ store: storeValue, ...(stateDir !== undefined ? { stateDir: resolve(ctx.cwd, stateDir) } : {}), logger: ctx.logger });
}

const DEAD_LETTERS_USAGE = 'jobslo alerts dead-letters list|requeue [--all | ID...] [--config FILE] [--store URL] [--state-dir DIR] [--format table|json]';

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'Evaluate SLO burn-rate alerts once and deliver notifications to webhooks',
  help: `Usage: jobslo alerts --once [--config FILE] [--store URL] [--state-dir DIR] [--format table|json]
       ${DEAD_LETTERS_USAGE}

Evaluates every SLO of the config (error budget, multiwindow burn-rate tiers),
sends firing, repeated (every alerts.repeat_interval) and resolved
notifications through the outbox, and prints the SLOs. Notifications that
cannot be delivered now stay in the outbox for the next run; those a webhook
rejected for good (a 4xx other than 408/429) or that expired undelivered are
dead letters.

  dead-letters list      print the dead letters (id, webhook, reason, when)
  dead-letters requeue   put the given dead letters (or --all) back in the
                         outbox with fresh attempts; the next "alerts --once"
                         or serve cycle sends them

Exit status: 0 nothing firing, 1 at least one alert firing, 2 error.

Options:
  --once              evaluate and deliver once, then exit (required; use
                      "jobslo serve" to evaluate continuously)
${CONFIG_HELP}
${STORE_HELP}
                      (a store: in the config is used when neither is set)
${STATE_DIR_HELP}
  --format FORMAT     table (default) or json ({"at","slos":[...],"notifications","delivery"})
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
        format: { type: 'string', default: 'table' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values.once) throw new ConfigError('--once', 'is required: "jobslo alerts --once" evaluates once; "jobslo serve" evaluates on an interval');
    if (values.format !== 'table' && values.format !== 'json') throw new ConfigError('--format', `"${values.format}" is not a format; use table or json`);
    const config = resolveConfig(values.config, ctx, true) as JobsloConfig;
    if (config.slos.length === 0) ctx.logger.warn('the config defines no SLOs', { file: config.file });
    const storeValue = storeFor(values.store, ctx, config);
    const backend = backendFor(storeValue, values['state-dir'], ctx);
    const store = await openStore(storeValue).catch(async (err: unknown) => {
      await backend.close();
      throw err;
    });
    try {
      const result = await runAlertCycle({
        store,
        config,
        backend,
        logger: ctx.logger,
        signal: ctx.signal,
      });
      if (values.format === 'json') {
        const doc = {
          at: new Date(result.evaluations[0]?.atMillis ?? Date.now()).toISOString(),
          slos: result.evaluations.map(toSloJson),
          notifications: result.notifications.length,
          delivery: { ...result.drain, dropped: result.dropped },
        };
        ctx.out(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        ctx.out(formatSloTable(result.evaluations));
        ctx.out(`${result.firing} alert(s) firing; ${result.notifications.length} notification(s) queued; delivered ${result.drain.delivered}, pending ${result.drain.pending}, dead-lettered ${result.drain.deadLettered}\n`);
      }
      return result.firing > 0 ? 1 : 0;
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
