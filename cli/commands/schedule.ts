import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, parseDurationMillis } from '../../contracts/index.js';
import type { CliContext, Command } from '../command.js';

const HELP = `Usage: jobslo schedule --file schedule.yaml [options]

Runs commands on cron schedules until interrupted (SIGINT/SIGTERM: running
jobs get SIGTERM, spans are flushed, exit 130/143). Every run is a job run as
with "jobslo run" (same spans, retries, timeouts), with the tick's time as its
queued time. Ticks missed while the scheduler was down are recorded at start
as zero-length failed runs with error.type "missed" and a job.missed event.

Options:
  --file PATH                  schedule file (required)
  --dry-run                    validate the file, print each job's next 3 ticks, exit
  --state-dir DIR              where last ticks are kept (default $JOBSLO_STATE_DIR,
                               else .jobslo/state)
  --endpoint URL               OTLP/HTTP base URL; /v1/traces is appended
                               (default $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as-is,
                               else $OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces,
                               else http://localhost:4318/v1/traces)
  --export-timeout DURATION    bound on sending spans at exit (default 5s)

Schedule file:
  timezone: Europe/Berlin      # default time zone of the jobs (default UTC)
  queue: schedule              # jobslo.queue.name of the runs (default schedule)
  jobs:
    - name: nightly-etl        # job name (required, unique)
      cron: "0 2 * * *"        # 5 fields, or 6 with seconds first (required)
      timezone: UTC            # overrides the file's
      command: ["./etl.sh", "--full"]   # argv, or a string run by /bin/sh -c
      overlap: skip            # skip | queue | allow (default skip): what a tick
                               # does while the job has "concurrency" runs active:
                               # dropped, queued (max_queued, default 10), or, for
                               # allow, every tick runs (concurrency default unlimited)
      concurrency: 1           # parallel runs of this job (default 1)
      retries: 0               # and backoff, base_delay, max_delay, jitter,
      timeout: 30m             # timeout, deadline, kill_grace: as in "jobslo run"
      env: { MODE: full }      # extra environment
      cwd: ./jobs              # relative to the working directory
Keys are snake_case; the older maxQueued, baseDelay, maxDelay and killGrace
are still read, with a deprecation warning. Errors name the field and its
file:line:col.

Monitoring: list this file under "schedules:" in jobslo.yaml and every job
gets a monitor (check state: up, late, down until a run succeeds, running too
long) with the same cron and time zone, a 30m grace, and its deadline (or its
timeout, without retries) as the maximum runtime; "jobslo serve" and
"jobslo alerts" notify the webhooks when one goes down (docs/monitors.md).
`;

const OPTIONS = {
  file: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'state-dir': { type: 'string' },
  endpoint: { type: 'string' },
  'export-timeout': { type: 'string' },
} as const;

/** `jobslo schedule`: a cron scheduler whose runs are job runs with telemetry. */
export const scheduleCommand: Command = {
  name: 'schedule',
  summary: 'Run commands on cron schedules (time zones, overlap policy, missed ticks)',
  help: HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new ConfigError('schedule', `unexpected argument "${positionals[0]}"`);
    if (values.file === undefined) throw new ConfigError('--file', 'a schedule file is required');
    const path = resolve(ctx.cwd, values.file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError('--file', `cannot read ${path}`, { cause: err });
    }
    const ex = await import('../../executor/index.js');
    const config = ex.parseScheduleConfig(text, values.file, ctx.logger);

    if (values['dry-run']) {
      for (const job of config.jobs) {
        const ticks = ex.cronFor(job.cron, job.timezone).nextRuns(3, new Date());
        ctx.out(`${job.name}  "${job.cron}" ${job.timezone}  overlap=${job.overlap}  next: ${ticks.map((d) => d.toISOString()).join(', ')}\n`);
      }
      return 0;
    }

    const env = ctx.env;
    const endpoint = ex.resolveTracesEndpoint({ flag: values.endpoint, env });
    const exportTimeoutMillis = values['export-timeout'] === undefined ? 5_000 : parseDurationMillis(values['export-timeout'], '--export-timeout');
    const stateDir = ex.resolveStateDir(values['state-dir'], env, ctx.cwd);
    const parentContext = ex.contextFromEnv(env);
    const telemetry = ex.startTelemetry({ tracesUrl: endpoint.tracesUrl, exportTimeoutMillis, headers: ex.resolveTraceHeaders(env), env });
    if (telemetry.resourceWarning !== undefined) ctx.err(`jobslo schedule: ${telemetry.resourceWarning}\n`);
    let scheduler: ReturnType<typeof ex.startScheduler> | undefined;
    try {
      scheduler = ex.startScheduler({
        config,
        stateDir,
        tracer: telemetry.tracer,
        parentContext,
        clock: ex.systemClock,
        logger: ctx.logger,
        execute: async ({ job, scheduledAtMillis, signal }) => {
          const [command, ...cmdArgs] = job.command;
          const r = await ex.runProcessJob({
            name: job.name,
            command: command ?? '',
            args: cmdArgs,
            env: { ...env, ...job.env },
            cwd: resolve(ctx.cwd, job.cwd ?? '.'),
            retries: job.retries,
            backoff: job.backoff,
            timeoutMillis: job.timeoutMillis,
            deadlineMillis: job.deadlineMillis,
            killGraceMillis: job.killGraceMillis,
            queue: config.queue,
            queuedAtMillis: scheduledAtMillis,
            stateDir,
            tracer: telemetry.tracer,
            parentContext,
            logger: ctx.logger,
            signal,
            otlpEndpoint: endpoint.baseUrl,
          });
          ctx.logger.info('run finished', { job: job.name, outcome: r.outcome, attempts: r.attempts, exitCode: r.exitCode });
        },
      });
      ctx.logger.info('scheduler started', { jobs: config.jobs.length, file: values.file });
      await new Promise<void>((done) => {
        if (ctx.signal.aborted) done();
        else ctx.signal.addEventListener('abort', () => done(), { once: true });
      });
    } finally {
      await scheduler?.stop(ctx.signal.reason);
      const delivery = await telemetry.shutdown();
      if (!delivery.delivered) {
        ctx.err(`jobslo schedule: telemetry not delivered to ${endpoint.tracesUrl}: ${delivery.reason ?? 'unknown error'}\n`);
      }
    }
    return ctx.signal.reason === 'SIGINT' ? 130 : 143;
  },
};
