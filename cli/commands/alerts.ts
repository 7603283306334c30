import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../contracts/index.js';
import { DEFAULT_STATE_DIR, runAlertCycle } from '../../analyzer/alerts/index.js';
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
export const STATE_DIR_HELP = `  --state-dir DIR     alert state (alert-state.json) and the notification outbox
                      (outbox/) (default ${DEFAULT_STATE_DIR})`;

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'Evaluate SLO burn-rate alerts once and deliver notifications to webhooks',
  help: `Usage: jobslo alerts --once [--config FILE] [--store URL] [--state-dir DIR] [--format table|json]

Evaluates every SLO of the config (error budget, multiwindow burn-rate tiers),
sends firing, repeated (every alerts.repeat_interval) and resolved
notifications through the on-disk outbox, and prints the SLOs. Notifications
that cannot be delivered now stay in the outbox for the next run.

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
    const store = await openStore(storeFor(values.store, ctx, config));
    try {
      const result = await runAlertCycle({
        store,
        config,
        stateDir: resolve(ctx.cwd, values['state-dir'] ?? DEFAULT_STATE_DIR),
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
    }
  },
};
