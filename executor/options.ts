import { context, trace, type Context, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { ConfigError, noopLogger, type LifecycleEventRecord, type Logger } from '../contracts/index.js';
import { DEFAULT_BACKOFF, validateBackoff, type BackoffPolicy } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { ZERO_RATES, type CostRates } from './cost.js';
import type { EngineOptions } from './internal/engine.js';
import { resolveStateDir } from './state.js';

/** Name of the tracer the executor creates spans with. */
export const TRACER_NAME = 'jobslo-executor';

/** Options shared by {@link runJob} and {@link runProcessJob}. */
export interface RunOptions {
  /** Job name (`jobslo.job.name`); the unit SLOs are defined on. */
  name: string;
  /** Retries after the first attempt; only retryable failures are retried. @default 0 */
  retries?: number;
  /** Delay between attempts; missing fields take {@link DEFAULT_BACKOFF}'s. */
  backoff?: Partial<BackoffPolicy>;
  /** Limit on each attempt; a timed-out attempt may be retried. @default undefined (none) */
  timeoutMillis?: number;
  /**
   * Limit on the whole run, from the first attempt's start: a running attempt
   * is stopped at the deadline and no attempt starts after it.
   * @default undefined (none)
   */
  deadlineMillis?: number;
  /**
   * Skips the run when a run of this job with this key already succeeded, and
   * makes concurrent runs with the key wait for each other. Needs `stateDir`.
   */
  idempotencyKey?: string;
  /** Runs sharing this key (on this machine, across processes) are limited to `concurrency` at a time. */
  concurrencyKey?: string;
  /** Parallel runs allowed per `concurrencyKey`. @default 1 */
  concurrency?: number;
  /** Local state directory for idempotency records and lock files. @default env `JOBSLO_STATE_DIR`, else `.jobslo/state` */
  stateDir?: string;
  /** Queue or schedule name (`jobslo.queue.name`). */
  queue?: string;
  /** When the run was queued, Unix epoch milliseconds (recorded as `job.queued` and queue time). */
  queuedAtMillis?: number;
  /** Aborting cancels the run: the attempt is stopped and the run ends `cancelled`. */
  signal?: AbortSignal;
  /** Prices for the run's cost when the job does not report one. @default all 0 (no cost recorded) */
  cost?: Partial<CostRates>;
  /** Tracer provider to get the `jobslo-executor` tracer from. @default the global provider */
  tracerProvider?: TracerProvider;
  /** Tracer to use instead of one from `tracerProvider`. */
  tracer?: Tracer;
  /** Parent of the run span. @default the active context */
  parentContext?: Context;
  /** @default a no-op logger */
  logger?: Logger;
  /** Time source, for tests. @default the system clock */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter, for tests. @default Math.random */
  random?: () => number;
  /** How often a run waiting for a lock or slot retries. @default 100 */
  lockPollMillis?: number;
  /**
   * Called synchronously at every lifecycle transition (queued, started,
   * attempt_failed, retry_scheduled, final outcome, dead_lettered, skipped,
   * cancelled) as it happens, for live delivery (see `LifecycleReporter`).
   * The same events are also recorded as span events on the run span.
   * @default none
   */
  onLifecycle?: (event: LifecycleEventRecord) => void;
}

function positive(value: number | undefined, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(path, `must be a finite number > 0, got ${value}`);
  return value;
}

function nonNegativeInt(value: number, path: string): number {
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(path, `must be an integer >= 0, got ${value}`);
  return value;
}

function rate(value: number | undefined, path: string): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(path, `must be a finite number >= 0, got ${value}`);
  return value;
}

/**
 * Applies defaults and validates.
 *
 * @throws {ConfigError} naming the bad option
 */
export function resolveEngineOptions(o: RunOptions, command: string | undefined): EngineOptions {
  if (typeof o.name !== 'string' || o.name.trim() === '') throw new ConfigError('name', 'a job name is required');
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError('concurrency', `must be an integer >= 1, got ${concurrency}`);
  const needsState = o.idempotencyKey !== undefined || o.concurrencyKey !== undefined;
  const tracer = o.tracer ?? (o.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME);
  return {
    name: o.name,
    retries: nonNegativeInt(o.retries ?? 0, 'retries'),
    backoff: validateBackoff({ ...DEFAULT_BACKOFF, ...o.backoff }),
    timeoutMillis: positive(o.timeoutMillis, 'timeoutMillis'),
    deadlineMillis: positive(o.deadlineMillis, 'deadlineMillis'),
    idempotencyKey: o.idempotencyKey,
    concurrencyKey: o.concurrencyKey,
    concurrency,
    stateDir: needsState ? resolveStateDir(o.stateDir, process.env, process.cwd()) : (o.stateDir ?? ''),
    queue: o.queue,
    queuedAtMillis: o.queuedAtMillis,
    command,
    cost: {
      cpuHour: rate(o.cost?.cpuHour ?? ZERO_RATES.cpuHour, 'cost.cpuHour'),
      gbHour: rate(o.cost?.gbHour ?? ZERO_RATES.gbHour, 'cost.gbHour'),
      perRun: rate(o.cost?.perRun ?? ZERO_RATES.perRun, 'cost.perRun'),
    },
    tracer,
    parentContext: o.parentContext ?? context.active(),
    logger: o.logger ?? noopLogger,
    clock: o.clock ?? systemClock,
    random: o.random ?? Math.random,
    signal: o.signal,
    lockPollMillis: positive(o.lockPollMillis, 'lockPollMillis') ?? 100,
    onLifecycle: o.onLifecycle,
  };
}
