import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../contracts/index.js';
import type { MonitorDefinition } from '../analyzer/monitors/index.js';
import type { JobsloConfig } from '../analyzer/slo/index.js';
import type { CliContext } from './command.js';

/** Grace of the monitor a `jobslo schedule` job gets: its runs start at the tick. */
export const SCHEDULE_MONITOR_GRACE_MILLIS = 30 * 60_000;

/**
 * The config with a monitor for every job of its `schedules:` files (cron and
 * time zone from the file, grace 30m, maximum runtime the job's deadline, or
 * its timeout when it has no retries). A job that already has a monitor (same
 * job or name) keeps it. Paths are relative to the config file's folder.
 * @throws {ConfigError} naming `schedules[i]` when a file cannot be read or is invalid
 */
export async function withScheduleMonitors(config: JobsloConfig, ctx: Pick<CliContext, 'cwd' | 'logger'>): Promise<JobsloConfig> {
  if (config.scheduleFiles.length === 0) return config;
  const ex = await import('../executor/index.js');
  const base = config.file === '<inline>' ? ctx.cwd : dirname(resolve(ctx.cwd, config.file));
  const monitors = [...config.monitors];
  for (const [i, file] of config.scheduleFiles.entries()) {
    const path = resolve(base, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ConfigError(`schedules[${i}]`, `cannot read schedule file ${path}`, { cause });
    }
    const schedule = ex.parseScheduleConfig(text, file, ctx.logger);
    for (const job of schedule.jobs) {
      if (monitors.some((m) => m.job === job.name || m.name === job.name)) continue;
      const def: MonitorDefinition = {
        name: job.name,
        job: job.name,
        schedule: { kind: 'cron', cron: job.cron, timezone: job.timezone },
        graceMillis: SCHEDULE_MONITOR_GRACE_MILLIS,
        paused: false,
        source: 'schedule',
      };
      const max = job.deadlineMillis ?? (job.retries === 0 ? job.timeoutMillis : undefined);
      if (max !== undefined) def.maxRuntimeMillis = max;
      monitors.push(def);
    }
  }
  return { ...config, monitors };
}
