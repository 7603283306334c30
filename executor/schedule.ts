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
import { LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
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
  YamlFieldReader,
  cronProblem,
  describeYamlValue,
  isTimeZone,
  noopLogger,
  type YamlPathSegment,
  RunOutcome,
  SPAN_NAME_RUN,
  SpanType,
  errorMessage,
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

/** Fields of a job in a schedule file (snake_case). */
const JOB_FIELDS = [
  'name', 'cron', 'timezone', 'command', 'overlap', 'concurrency', 'max_queued', 'retries', 'backoff', 'base_delay', 'max_delay', 'jitter',
  'timeout', 'deadline', 'kill_grace', 'env', 'cwd',
] as const;
/** Keys of earlier releases, still read (with a deprecation warning). */
const CAMEL_KEYS: Readonly<Record<string, string>> = { maxQueued: 'max_queued', baseDelay: 'base_delay', maxDelay: 'max_delay', killGrace: 'kill_grace' };

/** A paused croner job used only to compute tick times. */
export function cronFor(pattern: string, timezone: string, path = 'cron'): Cron {
  const problem = cronProblem(pattern, timezone);
  if (problem !== null) throw new ConfigError(path, `"${pattern}" ${problem}`);
  return new Cron(pattern, { paused: true, timezone, mode: '5-or-6-parts' });
}

/**
 * Parses and validates a schedule file, as `jobslo.yaml` is: every error is a
 * {@link ConfigError} naming the field (`jobs[0].cron`), the file, line and
 * column, and the allowed values. Keys are snake_case; the camelCase keys of
 * earlier releases (`maxQueued`, `baseDelay`, `maxDelay`, `killGrace`) are
 * read with a deprecation warning on `logger`.
 *
 * @param source file name, for messages
 * @throws {ConfigError} naming the path of the bad field, e.g. `jobs[0].cron`
 */
export function parseScheduleConfig(text: string, source: string, logger: Logger = noopLogger): ScheduleConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const e = doc.errors[0];
  if (e) {
    const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
    throw new ConfigError(source, `not valid YAML at line ${pos.line}, column ${pos.col}: ${e.message.split('\n')[0] ?? e.message}`);
  }
  const r: YamlFieldReader = new YamlFieldReader(doc as unknown as Document, lines, source, []);
  const root = r.mapping(doc.toJS({ maxAliasCount: 100 }) ?? {}, [], ['timezone', 'queue', 'jobs']);
  const defaultTz = readTz(r, root['timezone'], ['timezone'], 'UTC');
  const queue = root['queue'] === undefined ? 'schedule' : r.string(root['queue'], ['queue']);
  if (root['jobs'] === undefined) r.fail(['jobs'], 'is required: a list of jobs, each with name, cron and command');
  const list = r.list(root['jobs'], ['jobs']);
  if (list.length === 0) r.fail(['jobs'], 'must list at least one job');
  const names = new Set<string>();
  const warned = new Set<string>();
  const jobs = list.map((value, i): ScheduledJob => {
    const p: YamlPathSegment[] = ['jobs', i];
    const raw = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    // Old camelCase keys: read as their snake_case names, once warned per key.
    const m: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw ?? {})) {
      const snake = CAMEL_KEYS[k];
      if (snake === undefined) continue;
      if (raw?.[snake] !== undefined) r.fail([...p, k], `is the old name of ${snake}, which is also set; keep only ${snake}`);
      if (!warned.has(k)) {
        warned.add(k);
        logger.warn(`${source}: "${k}" is deprecated; write "${snake}" (schedule files use snake_case keys like jobslo.yaml)`, { file: source, key: k });
      }
      m[snake] = v;
    }
    const fields = r.mapping(value, p, [...JOB_FIELDS, ...Object.keys(CAMEL_KEYS)]);
    for (const [k, v] of Object.entries(fields)) if (CAMEL_KEYS[k] === undefined) m[k] = v;
    const at = (field: string): YamlPathSegment[] => {
      const camel = Object.keys(CAMEL_KEYS).find((c) => CAMEL_KEYS[c] === field && raw?.[c] !== undefined);
      return [...p, camel ?? field];
    };
    const name = r.string(m['name'], at('name'));
    if (names.has(name)) r.fail(at('name'), `duplicate job name "${name}"; job names must be unique`);
    names.add(name);
    const timezone = readTz(r, m['timezone'], at('timezone'), defaultTz);
    const cron = r.string(m['cron'], at('cron'));
    const problem = cronProblem(cron, timezone);
    if (problem !== null) r.fail(at('cron'), `"${cron}" ${problem}`);
    let command: string[];
    if (typeof m['command'] === 'string' && m['command'].trim() !== '') command = ['/bin/sh', '-c', m['command']];
    else if (Array.isArray(m['command']) && m['command'].length > 0) command = m['command'].map((c, j) => r.string(c, [...at('command'), j]));
    else r.fail(at('command'), `must be a command line (run by /bin/sh -c) or a non-empty list of arguments, got ${describeYamlValue(m['command'])}`);
    const overlap = r.oneOf(m['overlap'] ?? 'skip', at('overlap'), ['skip', 'queue', 'allow'] as const);
    const whole = (field: string, min: number): number | undefined => {
      if (m[field] === undefined) return undefined;
      const n = r.number(m[field], at(field));
      if (!Number.isInteger(n) || n < min) r.fail(at(field), `must be a whole number >= ${min}, got ${n}`);
      return n;
    };
    const dur = (field: string): number | undefined => (m[field] === undefined ? undefined : r.duration(m[field], at(field)));
    const baseDelayMillis = dur('base_delay') ?? DEFAULT_BACKOFF.baseDelayMillis;
    const maxDelayMillis = dur('max_delay') ?? DEFAULT_BACKOFF.maxDelayMillis;
    if (baseDelayMillis > maxDelayMillis) r.fail(at('base_delay'), `exceeds max_delay (${maxDelayMillis} ms)`);
    let env: Record<string, string> = {};
    if (m['env'] !== undefined) {
      const em = r.mapping(m['env'], at('env'), Object.keys((m['env'] as Record<string, unknown> | null) ?? {}));
      env = Object.fromEntries(Object.entries(em).map(([k, v]) => [k, typeof v === 'string' ? v : r.fail([...at('env'), k], `must be a string (quote numbers and booleans), got ${describeYamlValue(v)}`)]));
    }
    return {
      name,
      cron,
      timezone,
      command,
      overlap,
      concurrency: whole('concurrency', 1) ?? (overlap === 'allow' ? Infinity : 1),
      maxQueued: whole('max_queued', 0) ?? 10,
      retries: whole('retries', 0) ?? 0,
      backoff: {
        kind: r.oneOf(m['backoff'] ?? DEFAULT_BACKOFF.kind, at('backoff'), ['fixed', 'exponential'] as const),
        baseDelayMillis,
        maxDelayMillis,
        jitter: r.oneOf(m['jitter'] ?? DEFAULT_BACKOFF.jitter, at('jitter'), ['none', 'full', 'equal', 'decorrelated'] as const),
      },
      timeoutMillis: dur('timeout'),
      deadlineMillis: dur('deadline'),
      killGraceMillis: dur('kill_grace'),
      env,
      cwd: m['cwd'] === undefined ? undefined : r.string(m['cwd'], at('cwd')),
    };
  });
  return { queue, jobs };
}

function readTz(r: YamlFieldReader, value: unknown, path: YamlPathSegment[], fallback: string): string {
  if (value === undefined) return fallback;
  const tz = r.string(value, path);
  if (!isTimeZone(tz)) r.fail(path, `"${tz}" is not an IANA time zone such as UTC or Europe/Berlin`);
  return tz;
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
