/**
 * `jobslo schedule`: runs commands on cron schedules (croner, with time
 * zones), with a per-job concurrency limit and overlap policy, and records
 * ticks missed while the scheduler was down as `job.missed` run spans.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpanStatusCode, type Context, type Tracer } from '@opentelemetry/api';
import { Cron } from 'croner';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  ATTR_ERROR_TYPE,
  ATTR_JOB_NAME,
  ATTR_QUEUE_NAME,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_DEAD_LETTERED,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SCHEDULED_TIME_UNIX_NANO,
  ATTR_SPAN_TYPE,
  ConfigError,
  LifecycleEvent,
  RunOutcome,
  SPAN_NAME_RUN,
  SpanType,
  errorMessage,
  parseDurationMillis,
  type Logger,
} from '../contracts/index.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { toHrTime, toUnixNanoString, type Clock } from './clock.js';
import { writeFileAtomic } from './internal/locks.js';

/** What to do with a tick that fires while the job is at its concurrency limit. */
export type OverlapPolicy = 'skip' | 'queue' | 'allow';

/** One scheduled job, validated. */
export interface ScheduledJob {
  name: string;
  /** Cron pattern (5 or 6 fields). */
  cron: string;
  /** IANA time zone the pattern is read in. @default the file's `timezone`, else 'UTC' */
  timezone: string;
  /** argv of the command; a string in the file becomes `['/bin/sh', '-c', string]`. */
  command: string[];
  /**
   * `skip`: a tick while `concurrency` runs are active is dropped (logged).
   * `queue`: it waits (FIFO, at most `maxQueued`) and starts when a run ends.
   * `allow`: every tick starts a run; `concurrency` defaults to unlimited.
   * @default 'skip'
   */
  overlap: OverlapPolicy;
  /** Parallel runs of this job. @default 1 (unlimited for `allow`) */
  concurrency: number;
  /** Queued ticks kept under `queue`; more are dropped (logged with a count). @default 10 */
  maxQueued: number;
  retries: number;
  backoff: BackoffPolicy;
  timeoutMillis?: number | undefined;
  deadlineMillis?: number | undefined;
  killGraceMillis?: number | undefined;
  env: Record<string, string>;
  cwd?: string | undefined;
}

/** A validated schedule file. */
export interface ScheduleConfig {
  /** Queue name on the runs' spans (`jobslo.queue.name`). @default 'schedule' */
  queue: string;
  jobs: ScheduledJob[];
}

const duration = z.union([z.string(), z.number()]);
const JobSchema = z
  .object({
    name: z.string().min(1),
    cron: z.string().min(1),
    timezone: z.string().optional(),
    command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    overlap: z.enum(['skip', 'queue', 'allow']).optional(),
    concurrency: z.number().int().min(1).optional(),
    maxQueued: z.number().int().min(0).optional(),
    retries: z.number().int().min(0).optional(),
    backoff: z.enum(['fixed', 'exponential']).optional(),
    baseDelay: duration.optional(),
    maxDelay: duration.optional(),
    jitter: z.enum(['none', 'full', 'equal', 'decorrelated']).optional(),
    timeout: duration.optional(),
    deadline: duration.optional(),
    killGrace: duration.optional(),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
  })
  .strict();
const FileSchema = z
  .object({
    timezone: z.string().optional(),
    queue: z.string().min(1).optional(),
    jobs: z.array(JobSchema).min(1),
  })
  .strict();

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out || '(root)';
}

function checkTimezone(tz: string, path: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch (err) {
    throw new ConfigError(path, `"${tz}" is not an IANA time zone`, { cause: err });
  }
  return tz;
}

/** A paused croner job used only to compute tick times. */
export function cronFor(pattern: string, timezone: string, path = 'cron'): Cron {
  try {
    return new Cron(pattern, { paused: true, timezone, mode: '5-or-6-parts' });
  } catch (err) {
    throw new ConfigError(path, `"${pattern}" is not a cron pattern: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Parses and validates a schedule file.
 *
 * @param source file name, for messages
 * @throws {ConfigError} naming the path of the bad field, e.g. `jobs[0].cron`
 */
export function parseScheduleConfig(text: string, source: string): ScheduleConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(source, `not valid YAML: ${errorMessage(err)}`, { cause: err });
  }
  const parsed = FileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${source}: ${pathOf(issue?.path ?? [])}`, issue?.message ?? 'invalid');
  }
  const file = parsed.data;
  const defaultTz = checkTimezone(file.timezone ?? 'UTC', `${source}: timezone`);
  const names = new Set<string>();
  const jobs = file.jobs.map((j, i): ScheduledJob => {
    const at = (field: string): string => `${source}: jobs[${i}].${field}`;
    if (names.has(j.name)) throw new ConfigError(at('name'), `duplicate job name "${j.name}"`);
    names.add(j.name);
    const dur = (v: string | number | undefined, field: string): number | undefined =>
      v === undefined ? undefined : parseDurationMillis(String(v), at(field));
    const timezone = j.timezone === undefined ? defaultTz : checkTimezone(j.timezone, at('timezone'));
    cronFor(j.cron, timezone, at('cron'));
    const overlap = j.overlap ?? 'skip';
    const baseDelayMillis = dur(j.baseDelay, 'baseDelay') ?? DEFAULT_BACKOFF.baseDelayMillis;
    const maxDelayMillis = dur(j.maxDelay, 'maxDelay') ?? DEFAULT_BACKOFF.maxDelayMillis;
    if (baseDelayMillis > maxDelayMillis) throw new ConfigError(at('baseDelay'), 'exceeds maxDelay');
    return {
      name: j.name,
      cron: j.cron,
      timezone,
      command: typeof j.command === 'string' ? ['/bin/sh', '-c', j.command] : j.command,
      overlap,
      concurrency: j.concurrency ?? (overlap === 'allow' ? Infinity : 1),
      maxQueued: j.maxQueued ?? 10,
      retries: j.retries ?? 0,
      backoff: {
        kind: j.backoff ?? DEFAULT_BACKOFF.kind,
        baseDelayMillis,
        maxDelayMillis,
        jitter: j.jitter ?? DEFAULT_BACKOFF.jitter,
      },
      timeoutMillis: dur(j.timeout, 'timeout'),
      deadlineMillis: dur(j.deadline, 'deadline'),
      killGraceMillis: dur(j.killGrace, 'killGrace'),
      env: j.env ?? {},
      cwd: j.cwd,
    };
  });
  return { queue: file.queue ?? 'schedule', jobs };
}

/**
 * Ticks of `cron` strictly after `fromMillis` and strictly before `toMillis`,
 * at most `max` of them; `more` counts those left out.
 */
export function missedTicks(cron: Cron, fromMillis: number, toMillis: number, max: number): { ticks: number[]; more: number } {
  const ticks: number[] = [];
  let more = 0;
  let cursor: Date | null = new Date(fromMillis);
  // Counting beyond `max` is bounded too: a per-second cron down for a year would be 31M ticks.
  const countLimit = max + 100_000;
  while (ticks.length + more < countLimit) {
    cursor = cron.nextRun(cursor);
    if (cursor === null || cursor.getTime() >= toMillis) break;
    if (ticks.length < max) ticks.push(cursor.getTime());
    else more += 1;
  }
  return { ticks, more };
}

/** One tick to run. */
export interface Tick {
  job: ScheduledJob;
  /** When the tick was due, Unix epoch ms. */
  scheduledAtMillis: number;
  /** Aborts when the scheduler stops. */
  signal: AbortSignal;
}

/** What the scheduler needs from its host. */
export interface SchedulerOptions {
  config: ScheduleConfig;
  /** Where the last tick of each job is kept, for missed-tick detection. */
  stateDir: string;
  tracer: Tracer;
  parentContext: Context;
  clock: Clock;
  logger: Logger;
  /** Runs one tick (the CLI: `runProcessJob`). Should not reject; a rejection is logged. */
  execute(tick: Tick): Promise<unknown>;
  /** Most missed ticks recorded per job at start-up. @default 100 */
  maxMissedPerJob?: number;
}

/** A running scheduler. */
export interface Scheduler {
  /** Stops ticking, cancels running runs (their signal aborts) and waits for them. */
  stop(reason?: unknown): Promise<void>;
  /** Runs of each job started so far, for tests and logs. */
  started(job: string): number;
}

/** Longest single timer; longer waits are re-armed (setTimeout overflows at 2^31 ms). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1;

function lastTickPath(stateDir: string, job: string): string {
  const slug = job.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return join(stateDir, 'schedule', `${slug}.json`);
}

function readLastTick(stateDir: string, job: string): number | undefined {
  try {
    const v = JSON.parse(readFileSync(lastTickPath(stateDir, job), 'utf8')) as { job?: string; lastTickMillis?: number };
    return v.job === job && typeof v.lastTickMillis === 'number' ? v.lastTickMillis : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the scheduler: records ticks missed since the last recorded tick of
 * each job (as zero-length `failed` run spans with `error.type` `missed` and
 * a `job.missed` event at the tick's time), then runs every job on its
 * schedule.
 *
 * @throws {ConfigError} when the state directory cannot be created
 */
export function startScheduler(o: SchedulerOptions): Scheduler {
  const { clock, logger, config } = o;
  try {
    mkdirSync(join(o.stateDir, 'schedule'), { recursive: true });
  } catch (err) {
    throw new ConfigError('--state-dir', `cannot create ${o.stateDir}`, { cause: err });
  }
  const controller = new AbortController();
  const running = new Set<Promise<void>>();
  const cancels: (() => void)[] = [];
  const counts = new Map<string, number>();
  let stopped = false;

  const saveTick = (job: string, millis: number): void => {
    try {
      writeFileAtomic(lastTickPath(o.stateDir, job), JSON.stringify({ job, lastTickMillis: millis }));
    } catch (err) {
      logger.warn('could not record the last tick', { job, error: errorMessage(err) });
    }
  };

  const recordMissed = (job: ScheduledJob, at: number): void => {
    const span = o.tracer.startSpan(
      SPAN_NAME_RUN,
      {
        startTime: toHrTime(at),
        attributes: {
          [ATTR_JOB_NAME]: job.name,
          [ATTR_RUN_ID]: randomUUID(),
          [ATTR_SPAN_TYPE]: SpanType.Run,
          [ATTR_QUEUE_NAME]: config.queue,
          [ATTR_RUN_OUTCOME]: RunOutcome.Failed,
          [ATTR_RUN_ATTEMPTS]: 0,
          [ATTR_RUN_DEAD_LETTERED]: false,
          [ATTR_ERROR_TYPE]: 'missed',
        },
      },
      o.parentContext,
    );
    span.addEvent(LifecycleEvent.Missed, { [ATTR_SCHEDULED_TIME_UNIX_NANO]: toUnixNanoString(at) }, toHrTime(at));
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'scheduled tick missed while the scheduler was down' });
    span.end(toHrTime(at));
  };

  for (const job of config.jobs) {
    const cron = cronFor(job.cron, job.timezone);
    const now = clock.now();
    const last = readLastTick(o.stateDir, job.name);
    if (last !== undefined && last < now) {
      const { ticks, more } = missedTicks(cron, last, now, o.maxMissedPerJob ?? 100);
      for (const t of ticks) recordMissed(job, t);
      if (ticks.length > 0) logger.warn('ticks were missed while the scheduler was down', { job: job.name, missed: ticks.length + more, recorded: ticks.length });
    }
    saveTick(job.name, now);

    let active = 0;
    const queue: number[] = [];
    let dropped = 0;
    const launch = (scheduledAtMillis: number): void => {
      active += 1;
      counts.set(job.name, (counts.get(job.name) ?? 0) + 1);
      const p = o
        .execute({ job, scheduledAtMillis, signal: controller.signal })
        .then(
          () => undefined,
          (err: unknown) => logger.error('scheduled run failed to execute', { job: job.name, error: errorMessage(err) }),
        )
        .finally(() => {
          active -= 1;
          running.delete(p);
          const next = queue.shift();
          if (next !== undefined && !stopped) launch(next);
        });
      running.add(p);
    };
    const onTick = (scheduledAtMillis: number): void => {
      saveTick(job.name, scheduledAtMillis);
      if (active < job.concurrency) {
        launch(scheduledAtMillis);
      } else if (job.overlap === 'queue' && queue.length < job.maxQueued) {
        queue.push(scheduledAtMillis);
        logger.info('tick queued behind a running run', { job: job.name, queued: queue.length });
      } else {
        dropped += 1;
        logger.warn('tick skipped: the job is at its concurrency limit', { job: job.name, overlap: job.overlap, skippedSoFar: dropped });
      }
    };
    let cancelTimer: () => void = () => {};
    cancels.push(() => cancelTimer());
    const arm = (after: number): void => {
      const next = cron.nextRun(new Date(after));
      if (next === null || stopped) return;
      const due = next.getTime();
      const wait = (): void => {
        const remaining = due - clock.now();
        if (remaining > 0) {
          cancelTimer = clock.setTimeout(wait, Math.min(remaining, MAX_TIMER_MILLIS));
          return;
        }
        if (stopped) return;
        onTick(due);
        arm(due);
      };
      wait();
    };
    arm(now);
  }

  return {
    started: (job) => counts.get(job) ?? 0,
    async stop(reason?: unknown): Promise<void> {
      stopped = true;
      for (const cancel of cancels) cancel();
      controller.abort(reason ?? 'stopped');
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
