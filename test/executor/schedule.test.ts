import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanStatusCode } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ATTR_ERROR_TYPE,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_OUTCOME,
  ATTR_SCHEDULED_TIME_UNIX_NANO,
  LifecycleEvent,
  noopLogger,
} from '../../contracts/index.js';
import { cronFor, missedTicks, parseScheduleConfig, startScheduler, type ScheduleConfig, type Tick } from '../../executor/index.js';
import { fakeableClock, memoryTracing, ms } from './helpers/spans.js';

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
let tracing: ReturnType<typeof memoryTracing>;
let stateDir: string;

beforeEach(() => {
  tracing = memoryTracing();
  stateDir = mkdtempSync(join(tmpdir(), 'jobslo-sched-'));
});
afterEach(async () => {
  vi.useRealTimers();
  await tracing.provider.shutdown();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('parseScheduleConfig', () => {
  it('applies defaults; a string command runs under /bin/sh -c; allow means unlimited concurrency', () => {
    const c = parseScheduleConfig(
      `timezone: Europe/Berlin
jobs:
  - name: a
    cron: "0 2 * * *"
    command: ["./etl.sh", "--full"]
    timeout: 30m
  - name: b
    cron: "*/5 * * * *"
    timezone: UTC
    command: echo hi
    overlap: allow
`,
      'schedule.yaml',
    );
    expect(c.queue).toBe('schedule');
    expect(c.jobs[0]).toMatchObject({ name: 'a', timezone: 'Europe/Berlin', command: ['./etl.sh', '--full'], overlap: 'skip', concurrency: 1, timeoutMillis: 1_800_000 });
    expect(c.jobs[1]).toMatchObject({ timezone: 'UTC', command: ['/bin/sh', '-c', 'echo hi'], overlap: 'allow', concurrency: Infinity });
  });

  const bad: { name: string; yaml: string; error: RegExp }[] = [
    { name: 'bad cron', yaml: 'jobs: [{name: a, cron: "61 * * * *", command: x}]', error: /^jobs\[0\]\.cron: "61 \* \* \* \*" is not a cron expression .*minute.* \(s\.yaml:1:24\)$/ },
    { name: 'bad timezone', yaml: 'jobs: [{name: a, cron: "* * * * *", timezone: Mars/Base, command: x}]', error: /jobs\[0\]\.timezone: "Mars\/Base" is not an IANA time zone such as UTC or Europe\/Berlin \(s\.yaml:1:47\)/ },
    { name: 'unknown overlap', yaml: 'jobs: [{name: a, cron: "* * * * *", command: x, overlap: sometimes}]', error: /jobs\[0\]\.overlap: must be one of skip, queue, allow, got "sometimes" \(s\.yaml:1:/ },
    { name: 'unknown field', yaml: 'jobs: [{name: a, cron: "* * * * *", command: x, retry: 3}]', error: /jobs\[0\]\.retry: unknown field; expected one of name, cron, timezone, command, overlap, concurrency, max_queued, retries/ },
    { name: 'bad duration', yaml: 'jobs: [{name: a, cron: "* * * * *", command: x, timeout: soon}]', error: /jobs\[0\]\.timeout: "soon" is not a duration/ },
    { name: 'duplicate names', yaml: 'jobs: [{name: a, cron: "* * * * *", command: x}, {name: a, cron: "* * * * *", command: y}]', error: /jobs\[1\]\.name: duplicate job name "a"/ },
    { name: 'no jobs', yaml: 'jobs: []', error: /^jobs: must list at least one job \(s\.yaml:1:7\)/ },
    { name: 'a missing command', yaml: 'jobs:\n  - name: a\n    cron: "* * * * *"\n', error: /^jobs\[0\]\.command: must be a command line .* got undefined/ },
    { name: 'not YAML', yaml: 'jobs: [', error: /s\.yaml: not valid YAML at line 1, column/ },
    { name: 'a 7-field cron', yaml: 'jobs: [{name: a, cron: "0 0 2 * * * 2027", command: x}]', error: /jobs\[0\]\.cron: "0 0 2 \* \* \* 2027" has 7 fields; use 5 fields \(minute hour day-of-month month day-of-week\), or 6 with seconds first \(a seventh, year field is not supported\)/ },
    { name: 'a cron that never fires', yaml: 'jobs: [{name: a, cron: "0 0 31 2 *", command: x}]', error: /jobs\[0\]\.cron: "0 0 31 2 \*" never fires/ },
    { name: 'old and new key together', yaml: 'jobs: [{name: a, cron: "* * * * *", command: x, overlap: queue, maxQueued: 3, max_queued: 4}]', error: /jobs\[0\]\.maxQueued: is the old name of max_queued, which is also set/ },
  ];
  for (const c of bad) it(`rejects ${c.name}, naming the field`, () => expect(() => parseScheduleConfig(c.yaml, 's.yaml')).toThrow(c.error));

  it('reads snake_case keys, and the old camelCase keys with one deprecation warning each', () => {
    const warnings: string[] = [];
    const logger = { ...noopLogger, warn: (msg: string) => warnings.push(msg) };
    const snake = parseScheduleConfig('jobs: [{name: a, cron: "* * * * *", command: x, overlap: queue, max_queued: 3, base_delay: 2s, max_delay: 1m, kill_grace: 5s}]', 's.yaml', logger);
    const camel = parseScheduleConfig(
      'jobs:\n  - {name: a, cron: "* * * * *", command: x, overlap: queue, maxQueued: 3, baseDelay: 2s, maxDelay: 1m, killGrace: 5s}\n  - {name: b, cron: "* * * * *", command: y, maxQueued: 1}\n',
      's.yaml',
      logger,
    );
    expect(camel.jobs[0]).toEqual(snake.jobs[0]);
    expect(snake.jobs[0]).toMatchObject({ maxQueued: 3, backoff: { baseDelayMillis: 2_000, maxDelayMillis: 60_000 }, killGraceMillis: 5_000 });
    expect(warnings).toEqual([
      's.yaml: "maxQueued" is deprecated; write "max_queued" (schedule files use snake_case keys like jobslo.yaml)',
      's.yaml: "baseDelay" is deprecated; write "base_delay" (schedule files use snake_case keys like jobslo.yaml)',
      's.yaml: "maxDelay" is deprecated; write "max_delay" (schedule files use snake_case keys like jobslo.yaml)',
      's.yaml: "killGrace" is deprecated; write "kill_grace" (schedule files use snake_case keys like jobslo.yaml)',
    ]);
  });
});

describe('cron ticks', () => {
  it('reads patterns in the job time zone (02:00 New York is 07:00 UTC in winter)', () => {
    expect(cronFor('0 2 * * *', 'America/New_York').nextRun(new Date(T0))?.toISOString()).toBe('2026-01-16T07:00:00.000Z');
    expect(cronFor('0 2 * * *', 'UTC').nextRun(new Date(T0))?.toISOString()).toBe('2026-01-16T02:00:00.000Z');
  });

  it('missedTicks lists ticks strictly between two times, bounded, counting the rest', () => {
    const hourly = cronFor('0 * * * *', 'UTC');
    const from = T0 - 3.5 * 3_600_000;
    expect(missedTicks(hourly, from, T0, 100)).toEqual({ ticks: [T0 - 3 * 3_600_000, T0 - 2 * 3_600_000, T0 - 3_600_000], more: 0 });
    expect(missedTicks(hourly, from, T0, 1)).toEqual({ ticks: [T0 - 3 * 3_600_000], more: 2 });
    expect(missedTicks(hourly, T0 - 1, T0, 10)).toEqual({ ticks: [], more: 0 });
  });
});

function config(overrides: Partial<ScheduleConfig['jobs'][number]>): ScheduleConfig {
  const c = parseScheduleConfig('jobs: [{name: tick, cron: "* * * * * *", command: "true"}]', 'inline');
  c.jobs[0] = { ...c.jobs[0]!, ...overrides };
  return c;
}

/** Starts a scheduler on fake timers whose runs each take `runMillis`. */
function scheduler(c: ScheduleConfig, runMillis: number) {
  const started: number[] = [];
  const signals: AbortSignal[] = [];
  const s = startScheduler({
    config: c,
    stateDir,
    tracer: tracing.provider.getTracer('t'),
    parentContext: ROOT_CONTEXT,
    clock: fakeableClock,
    logger: noopLogger,
    execute: (tick: Tick) => {
      started.push((tick.scheduledAtMillis - T0) / 1000);
      signals.push(tick.signal);
      // Like runProcessJob: ends at its time, or at once when the scheduler stops.
      return new Promise<void>((r) => {
        const t = setTimeout(r, runMillis);
        tick.signal.addEventListener('abort', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  });
  return { s, started, signals };
}

describe('scheduler: overlap policies on a per-second cron whose runs take 2.5 s', () => {
  it('skip drops ticks while a run is active', async () => {
    vi.useFakeTimers({ now: T0 });
    const { s, started } = scheduler(config({ overlap: 'skip' }), 2_500);
    await vi.advanceTimersByTimeAsync(10_000);
    await s.stop();
    expect(started).toEqual([1, 4, 7, 10]);
  });

  it('queue runs every tick, one after another', async () => {
    vi.useFakeTimers({ now: T0 });
    const { s, started } = scheduler(config({ overlap: 'queue', maxQueued: 100 }), 2_500);
    await vi.advanceTimersByTimeAsync(10_000);
    await s.stop();
    expect(started).toEqual([1, 2, 3, 4]); // started at 1, 3.5, 6, 8.5: each from its own tick
  });

  it('queue drops ticks beyond maxQueued', async () => {
    vi.useFakeTimers({ now: T0 });
    const { s, started } = scheduler(config({ overlap: 'queue', maxQueued: 1 }), 2_500);
    await vi.advanceTimersByTimeAsync(10_000);
    await s.stop();
    expect(started).toEqual([1, 2, 4, 6]); // 1 runs, 2 waits, 3 dropped; at 3.5 the queued 2 starts...
  });

  it('allow starts every tick; concurrency caps it', async () => {
    vi.useFakeTimers({ now: T0 });
    const free = scheduler(config({ overlap: 'allow', concurrency: Infinity }), 2_500);
    await vi.advanceTimersByTimeAsync(5_000);
    await free.s.stop();
    expect(free.started).toEqual([1, 2, 3, 4, 5]);
    const capped = scheduler(config({ overlap: 'allow', concurrency: 2 }), 2_500);
    await vi.advanceTimersByTimeAsync(5_000);
    await capped.s.stop();
    expect(capped.started).toEqual([6, 7, 9, 10]);
  });

  it('stop() aborts running runs, waits for them, and no tick fires after it', async () => {
    vi.useFakeTimers({ now: T0 });
    const { s, signals, started } = scheduler(config({}), 60_000);
    await vi.advanceTimersByTimeAsync(1_500);
    await s.stop('SIGTERM');
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toBe('SIGTERM');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(started).toEqual([1]);
  });
});

describe('scheduler: missed ticks while down', () => {
  it('records each missed tick as a zero-length failed run with error.type missed and a job.missed event; once', async () => {
    vi.useFakeTimers({ now: T0 });
    const c = config({ cron: '0 * * * *' });
    const first = scheduler(c, 10);
    await first.s.stop();
    expect(tracing.runSpans()).toHaveLength(0); // first start: nothing to compare with

    vi.setSystemTime(T0 + 3.5 * 3_600_000); // down for 3.5 hours
    const second = scheduler(c, 10);
    await second.s.stop();
    const missed = tracing.runSpans();
    expect(missed.map((m) => ms(m.startTime) - T0)).toEqual([3_600_000, 7_200_000, 10_800_000]);
    for (const m of missed) {
      expect(m.attributes).toMatchObject({ [ATTR_RUN_OUTCOME]: 'failed', [ATTR_ERROR_TYPE]: 'missed', [ATTR_RUN_ATTEMPTS]: 0 });
      expect(ms(m.endTime)).toBe(ms(m.startTime));
      expect(m.status.code).toBe(SpanStatusCode.ERROR);
      expect(m.events.map((e) => e.name)).toEqual([LifecycleEvent.Missed]);
      expect(m.events[0]!.attributes?.[ATTR_SCHEDULED_TIME_UNIX_NANO]).toBe(`${BigInt(ms(m.startTime)) * 1_000_000n}`);
    }

    const third = scheduler(c, 10); // restarted at once: nothing new was missed
    await third.s.stop();
    expect(tracing.runSpans()).toHaveLength(3);
  });
});
