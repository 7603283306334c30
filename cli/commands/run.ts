import { parseArgs } from 'node:util';
import { ConfigError, parseDurationMillis } from '../../contracts/index.js';
import type { CliContext, Command } from '../command.js';

const HELP = `Usage: jobslo run --job NAME [options] -- COMMAND [ARGS...]

Runs COMMAND as one run of job NAME, with retries, timeouts and idempotency,
and sends a job.run span (with a job.attempt span per attempt) to an OTLP/HTTP
collector, plus each lifecycle transition (queued, started, ...) as it happens
to the collector's /v1/lifecycle (best effort; the spans carry them too). stdout and stderr pass through; stdin is inherited. The exit code
is the last attempt's: 124 when it timed out, 128+N when killed by signal N,
130/143 when jobslo was interrupted (SIGINT/SIGTERM), 0 when skipped.

Job:
  --job NAME                   job name (required)
  --queue NAME                 queue or schedule the run came from
  --queued-at TIME             when the run was queued: ISO-8601 or Unix epoch
                               milliseconds (recorded as queue time)

Retries:
  --retries N                  retries after the first attempt (default 0)
  --backoff fixed|exponential  delay growth between attempts (default exponential)
  --base-delay DURATION        first retry delay before jitter (default 1s)
  --max-delay DURATION         cap on any delay (default 30s)
  --jitter none|full|equal|decorrelated
                               jitter on the delay (default full)
  --retry-on-exit-codes LIST   only these exit codes are retried, e.g. 1,2
                               (default: every non-zero code)
  --no-retry-on-exit-codes LIST
                               these exit codes are never retried, e.g. 64,65

Time limits:
  --timeout DURATION           limit on each attempt (default none)
  --deadline DURATION          limit on the whole run from its first attempt:
                               the attempt running then is stopped and no new
                               attempt starts (default none)
  --kill-grace DURATION        SIGTERM to the job's process group, then SIGKILL
                               after this long (default 10s)

Idempotency and concurrency (local state, one machine):
  --idempotency-key KEY        skip the run (exit 0) if a run of this job with
                               KEY already succeeded; concurrent runs with KEY
                               wait for each other
  --concurrency-key KEY        limit parallel runs sharing KEY (any job)
  --concurrency N              runs allowed at once per key (default 1)
  --state-dir DIR              state directory (default $JOBSLO_STATE_DIR,
                               else .jobslo/state)

Cost (a cost the job writes as "jobslo:cost=<n>" to $JOBSLO_COST_FILE wins):
  --cost-cpu-hour PRICE        price of a CPU hour (default $JOBSLO_COST_CPU_HOUR, else 0)
  --cost-gb-hour PRICE         price of a GiB of peak RSS for an hour
                               (default $JOBSLO_COST_GB_HOUR, else 0)
  --cost-per-run PRICE         flat price per run (default $JOBSLO_COST_PER_RUN, else 0)

Telemetry:
  --endpoint URL               OTLP/HTTP base URL; /v1/traces is appended
                               (default $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as-is,
                               else $OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces,
                               else http://localhost:4318/v1/traces)
  --export-timeout DURATION    bound on sending spans at exit (default 5s)
  Headers (e.g. a collector's bearer token) come from
  OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer TOKEN" (and
  OTEL_EXPORTER_OTLP_TRACES_HEADERS), for the spans and the lifecycle events.
  --output-tail-bytes N        bytes of stdout and of stderr kept on failed
                               attempts' spans, secrets redacted; 0 disables
                               (default 4096)

Durations: 500ms, 30s, 5m, 1h30m (a bare number is seconds).

The job gets TRACEPARENT (its attempt span), OTEL_EXPORTER_OTLP_ENDPOINT,
JOBSLO_JOB_NAME, JOBSLO_RUN_ID, JOBSLO_ATTEMPT and JOBSLO_COST_FILE. A
TRACEPARENT in jobslo's own environment becomes the run span's parent.
OTEL_RESOURCE_ATTRIBUTES (key=value,..., percent-encoded) and OTEL_SERVICE_NAME
(which wins for service.name; default jobslo) set the spans' resource, as in
any OpenTelemetry SDK: e.g. deployment.environment.name=prod,team=data.

Examples:
  jobslo run --job nightly-etl --retries 3 --timeout 30m -- ./etl.sh
  jobslo run --job report --idempotency-key 2024-06-01 -- node report.js
`;

const OPTIONS = {
  job: { type: 'string' },
  queue: { type: 'string' },
  'queued-at': { type: 'string' },
  retries: { type: 'string' },
  backoff: { type: 'string' },
  'base-delay': { type: 'string' },
  'max-delay': { type: 'string' },
  jitter: { type: 'string' },
  'retry-on-exit-codes': { type: 'string' },
  'no-retry-on-exit-codes': { type: 'string' },
  timeout: { type: 'string' },
  deadline: { type: 'string' },
  'kill-grace': { type: 'string' },
  'idempotency-key': { type: 'string' },
  'concurrency-key': { type: 'string' },
  concurrency: { type: 'string' },
  'state-dir': { type: 'string' },
  'cost-cpu-hour': { type: 'string' },
  'cost-gb-hour': { type: 'string' },
  'cost-per-run': { type: 'string' },
  endpoint: { type: 'string' },
  'export-timeout': { type: 'string' },
  'output-tail-bytes': { type: 'string' },
} as const;

function parseInteger(value: string, name: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(name, `"${value}" is not an integer >= ${min}`);
  }
  return n;
}

function parseExitCodes(value: string, name: string): number[] {
  return value.split(',').map((part) => {
    const code = parseInteger(part.trim(), name, 0);
    if (code > 255) throw new ConfigError(name, `exit codes are 0-255, got ${code}`);
    return code;
  });
}

function parseQueuedAt(value: string): number {
  const text = value.trim();
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) {
    throw new ConfigError('--queued-at', `"${value}" is not a time; use ISO-8601 (2024-06-01T12:00:00Z) or epoch milliseconds`);
  }
  return ms;
}

/** `jobslo run`: runs a command as a job run with retries, timeouts and telemetry. */
export const runCommand: Command = {
  name: 'run',
  summary: 'Run a command as a job: retries, timeouts, idempotency, cost, spans',
  help: HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const dd = args.indexOf('--');
    const flagArgs = dd === -1 ? args : args.slice(0, dd);
    const command = dd === -1 ? [] : args.slice(dd + 1);
    const { values, positionals } = parseArgs({ args: flagArgs, options: OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length > 0) {
      throw new ConfigError('COMMAND', `put the command after "--": jobslo run --job NAME [options] -- ${positionals.join(' ')}`);
    }
    const [cmd, ...cmdArgs] = command;
    if (cmd === undefined) throw new ConfigError('COMMAND', 'missing; usage: jobslo run --job NAME [options] -- COMMAND [ARGS...]');
    if (values.job === undefined || values.job.trim() === '') throw new ConfigError('--job', 'a job name is required');

    // The executor and OpenTelemetry load only when a run actually starts.
    const ex = await import('../../executor/process-entry.js');
    const env = ctx.env;
    const rate = (flag: 'cost-cpu-hour' | 'cost-gb-hour' | 'cost-per-run', envName: string): number => {
      const v = values[flag] ?? env[envName];
      return v === undefined ? 0 : ex.parseRate(v, values[flag] !== undefined ? `--${flag}` : envName);
    };
    const duration = (flag: 'timeout' | 'deadline' | 'kill-grace' | 'base-delay' | 'max-delay' | 'export-timeout'): number | undefined => {
      const v = values[flag];
      return v === undefined ? undefined : parseDurationMillis(v, `--${flag}`);
    };
    const endpoint = ex.resolveTracesEndpoint({ flag: values.endpoint, env });
    const options = {
      name: values.job,
      command: cmd,
      args: cmdArgs,
      env,
      cwd: ctx.cwd,
      retries: values.retries === undefined ? 0 : parseInteger(values.retries, '--retries', 0),
      backoff: ex.validateBackoff(
        {
          kind: values.backoff === undefined ? ex.DEFAULT_BACKOFF.kind : ex.parseBackoffKind(values.backoff, '--backoff'),
          baseDelayMillis: duration('base-delay') ?? ex.DEFAULT_BACKOFF.baseDelayMillis,
          maxDelayMillis: duration('max-delay') ?? ex.DEFAULT_BACKOFF.maxDelayMillis,
          jitter: values.jitter === undefined ? ex.DEFAULT_BACKOFF.jitter : ex.parseJitterKind(values.jitter, '--jitter'),
        },
        '--backoff',
      ),
      timeoutMillis: duration('timeout'),
      deadlineMillis: duration('deadline'),
      killGraceMillis: duration('kill-grace') ?? 10_000,
      outputTailBytes: values['output-tail-bytes'] === undefined ? 4096 : parseInteger(values['output-tail-bytes'], '--output-tail-bytes', 0),
      retryOnExitCodes: values['retry-on-exit-codes'] === undefined ? undefined : parseExitCodes(values['retry-on-exit-codes'], '--retry-on-exit-codes'),
      noRetryOnExitCodes:
        values['no-retry-on-exit-codes'] === undefined ? undefined : parseExitCodes(values['no-retry-on-exit-codes'], '--no-retry-on-exit-codes'),
      idempotencyKey: values['idempotency-key'],
      concurrencyKey: values['concurrency-key'],
      concurrency: values.concurrency === undefined ? 1 : parseInteger(values.concurrency, '--concurrency', 1),
      stateDir: ex.resolveStateDir(values['state-dir'], env, ctx.cwd),
      queue: values.queue,
      queuedAtMillis: values['queued-at'] === undefined ? undefined : parseQueuedAt(values['queued-at']),
      cost: {
        cpuHour: rate('cost-cpu-hour', 'JOBSLO_COST_CPU_HOUR'),
        gbHour: rate('cost-gb-hour', 'JOBSLO_COST_GB_HOUR'),
        perRun: rate('cost-per-run', 'JOBSLO_COST_PER_RUN'),
      },
      otlpEndpoint: endpoint.baseUrl,
      parentContext: ex.contextFromEnv(env),
      logger: ctx.logger,
      signal: ctx.signal,
    };
    const exportTimeoutMillis = duration('export-timeout') ?? 5_000;

    // OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, e.g. the collector's bearer token, for both the spans and the lifecycle events.
    const headers = ex.resolveTraceHeaders(env);
    const telemetry = ex.startTelemetry({ tracesUrl: endpoint.tracesUrl, exportTimeoutMillis, headers, env });
    if (telemetry.resourceWarning !== undefined) ctx.err(`jobslo run: ${telemetry.resourceWarning}\n`);
    const lifecycle = new ex.LifecycleReporter({ url: ex.lifecycleUrlFor(endpoint.tracesUrl), logger: ctx.logger, headers });
    let result;
    try {
      result = await ex.runProcessJob({ ...options, tracer: telemetry.tracer, onLifecycle: lifecycle.report });
    } finally {
      // Lifecycle events are best effort (the run span carries them too): no separate notice.
      const [delivery] = await Promise.all([telemetry.shutdown(), lifecycle.flush()]);
      if (!delivery.delivered) {
        const dropped = delivery.failedSpans > 0 ? ` (${delivery.failedSpans} span${delivery.failedSpans === 1 ? '' : 's'} dropped)` : '';
        ctx.err(`jobslo run: telemetry not delivered to ${endpoint.tracesUrl}: ${delivery.reason ?? 'unknown error'}${dropped}\n`);
      }
    }
    return ex.exitCodeForRun(result, ctx.signal.reason);
  },
};
