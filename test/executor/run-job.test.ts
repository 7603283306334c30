import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_COST_AMOUNT,
  ATTR_DEAD_LETTER_REASON,
  ATTR_ERROR_TYPE,
  ATTR_IDEMPOTENCY_KEY,
  ATTR_JOB_NAME,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_QUEUE_NAME,
  ATTR_RETRY_DELAY_MILLIS,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_DEAD_LETTERED,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SPAN_TYPE,
  ConfigError,
  LifecycleEvent,
  UnrecoverableError,
} from '../../contracts/index.js';
import { runJob, type RunJobOptions } from '../../executor/index.js';
import { ownerFor, releaseLock, tryAcquireLock } from '../../executor/internal/locks.js';
import { eventNames, fakeableClock, memoryTracing, ms } from './helpers/spans.js';

const T0 = Date.UTC(2026, 0, 15, 3, 0, 0);
let tracing: ReturnType<typeof memoryTracing>;
let stateDir: string;

beforeEach(() => {
  tracing = memoryTracing();
  stateDir = mkdtempSync(join(tmpdir(), 'jobslo-runjob-'));
});
afterEach(async () => {
  vi.useRealTimers();
  await tracing.provider.shutdown();
  rmSync(stateDir, { recursive: true, force: true });
});

function opts(extra: Partial<RunJobOptions> = {}): RunJobOptions {
  return { name: 'etl', tracerProvider: tracing.provider, clock: fakeableClock, random: () => 0.5, stateDir, ...extra };
}

class FlakyError extends Error {}

describe('runJob: one run span, one attempt span per attempt', () => {
  it('a first-try success: value returned, run span parent of the attempt, lifecycle events, no error status', async () => {
    const r = await runJob(opts(), async (ctx) => {
      expect(ctx.attempt).toBe(1);
      ctx.span.setAttribute('custom', 1);
      return 42;
    });
    expect(r).toMatchObject({ outcome: 'succeeded', attempts: 1, value: 42, deadLettered: false });
    const [run] = tracing.runSpans();
    const [att] = tracing.attemptSpans();
    expect(run && att).toBeTruthy();
    expect(run!.parentSpanContext).toBeUndefined();
    expect(att!.parentSpanContext?.spanId).toBe(run!.spanContext().spanId);
    expect(att!.spanContext().traceId).toBe(run!.spanContext().traceId);
    expect(run!.attributes).toMatchObject({
      [ATTR_JOB_NAME]: 'etl',
      [ATTR_RUN_ID]: r.runId,
      [ATTR_SPAN_TYPE]: 'run',
      [ATTR_RUN_OUTCOME]: 'succeeded',
      [ATTR_RUN_ATTEMPTS]: 1,
      [ATTR_RUN_DEAD_LETTERED]: false,
    });
    expect(run!.attributes[ATTR_ERROR_TYPE]).toBeUndefined();
    expect(att!.attributes).toMatchObject({ [ATTR_SPAN_TYPE]: 'attempt', [ATTR_ATTEMPT_NUMBER]: 1, [ATTR_ATTEMPT_OUTCOME]: 'succeeded', custom: 1 });
    expect(eventNames(run!)).toEqual([LifecycleEvent.Started, LifecycleEvent.Succeeded]);
    expect(run!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(tracing.exporter.getFinishedSpans().every((s) => s.instrumentationScope.name === 'jobslo-executor')).toBe(true);
  });

  it('retries with backoff on the injected clock: run latency spans first attempt start to last attempt end', async () => {
    vi.useFakeTimers({ now: T0 });
    let calls = 0;
    const p = runJob(opts({ retries: 3, backoff: { kind: 'exponential', baseDelayMillis: 1000, maxDelayMillis: 30_000, jitter: 'full' } }), async () => {
      calls += 1;
      await new Promise((r) => setTimeout(r, 100)); // each attempt takes 100 ms
      if (calls < 3) throw new FlakyError(`flaky ${calls}`);
      return 'ok';
    });
    await vi.runAllTimersAsync();
    const r = await p;
    expect(r).toMatchObject({ outcome: 'succeeded', attempts: 3, value: 'ok', deadLettered: false });
    const run = tracing.runSpans()[0]!;
    const atts = tracing.attemptSpans();
    expect(atts.map((a) => a.attributes[ATTR_ATTEMPT_OUTCOME])).toEqual(['failed', 'failed', 'succeeded']);
    expect(atts[0]!.attributes[ATTR_ERROR_TYPE]).toBe('FlakyError');
    expect(atts[0]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'flaky 1' });
    // full jitter with random 0.5: 1000*0.5, 2000*0.5
    const delays = run.events.filter((e) => e.name === LifecycleEvent.RetryScheduled).map((e) => e.attributes?.[ATTR_RETRY_DELAY_MILLIS]);
    expect(delays).toEqual([500, 1000]);
    expect(atts.map((a) => ms(a.startTime) - T0)).toEqual([0, 600, 1700]);
    expect(ms(run.startTime)).toBe(T0);
    expect(ms(run.endTime)).toBe(T0 + 1800);
    expect(eventNames(run)).toEqual([
      LifecycleEvent.Started,
      LifecycleEvent.AttemptFailed,
      LifecycleEvent.RetryScheduled,
      LifecycleEvent.AttemptFailed,
      LifecycleEvent.RetryScheduled,
      LifecycleEvent.Succeeded,
    ]);
  });

  it('exhausted retries: failed, dead-lettered with a reason, error status, the error returned (not thrown)', async () => {
    vi.useFakeTimers({ now: T0 });
    const p = runJob(opts({ retries: 2, backoff: { jitter: 'none', baseDelayMillis: 10, maxDelayMillis: 10 } }), async () => {
      throw new FlakyError('boom');
    });
    await vi.runAllTimersAsync();
    const r = await p;
    expect(r.outcome).toBe('failed');
    expect(r.attempts).toBe(3);
    expect(r.deadLettered).toBe(true);
    expect(r.error).toBeInstanceOf(FlakyError);
    const run = tracing.runSpans()[0]!;
    expect(run.attributes[ATTR_RUN_DEAD_LETTERED]).toBe(true);
    expect(run.attributes[ATTR_DEAD_LETTER_REASON]).toBe('boom (after 3 attempts)');
    expect(run.attributes[ATTR_ERROR_TYPE]).toBe('FlakyError');
    expect(run.status.code).toBe(SpanStatusCode.ERROR);
    expect(eventNames(run).slice(-2)).toEqual([LifecycleEvent.Failed, LifecycleEvent.DeadLettered]);
    expect(run.events.at(-1)?.attributes?.[ATTR_DEAD_LETTER_REASON]).toBe('boom (after 3 attempts)');
  });

  it('UnrecoverableError fails the run at once, without retries', async () => {
    let calls = 0;
    const r = await runJob(opts({ retries: 5 }), async () => {
      calls += 1;
      throw new UnrecoverableError('bad input');
    });
    expect(calls).toBe(1);
    expect(r).toMatchObject({ outcome: 'failed', attempts: 1, deadLettered: true });
    expect(tracing.runSpans()[0]!.attributes[ATTR_DEAD_LETTER_REASON]).toBe('bad input (not retryable)');
    expect(tracing.runSpans()[0]!.attributes[ATTR_ERROR_TYPE]).toBe('UnrecoverableError');
  });
});

describe('runJob: timeouts, deadline and cancellation', () => {
  it('an attempt past its timeout ends timed_out at the timeout, its signal aborted; retried; the run times out', async () => {
    vi.useFakeTimers({ now: T0 });
    const signals: AbortSignal[] = [];
    const p = runJob(opts({ retries: 1, timeoutMillis: 5_000, backoff: { jitter: 'none', baseDelayMillis: 1000, maxDelayMillis: 1000 } }), (ctx) => {
      signals.push(ctx.signal);
      return new Promise<never>(() => {}); // ignores its signal
    });
    await vi.runAllTimersAsync();
    const r = await p;
    expect(r).toMatchObject({ outcome: 'timed_out', attempts: 2, deadLettered: true });
    expect(signals.every((s) => s.aborted && (s.reason as DOMException).name === 'TimeoutError')).toBe(true);
    const atts = tracing.attemptSpans();
    expect(atts.map((a) => [a.attributes[ATTR_ATTEMPT_OUTCOME], a.attributes[ATTR_ERROR_TYPE], ms(a.endTime) - ms(a.startTime)])).toEqual([
      ['timed_out', 'timeout', 5000],
      ['timed_out', 'timeout', 5000],
    ]);
    const run = tracing.runSpans()[0]!;
    expect(run.attributes[ATTR_RUN_OUTCOME]).toBe('timed_out');
    expect(run.attributes[ATTR_ERROR_TYPE]).toBe('timeout');
    expect(eventNames(run)).toContain(LifecycleEvent.TimedOut);
    expect(ms(run.endTime) - ms(run.startTime)).toBe(11_000);
  });

  it('the run deadline stops the running attempt and no attempt starts after it', async () => {
    vi.useFakeTimers({ now: T0 });
    let calls = 0;
    const p = runJob(opts({ retries: 10, deadlineMillis: 2_500, backoff: { jitter: 'none', kind: 'fixed', baseDelayMillis: 1000, maxDelayMillis: 1000 } }), async (ctx) => {
      calls += 1;
      if (calls === 1) throw new FlakyError('first fails fast');
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)));
    });
    await vi.runAllTimersAsync();
    const r = await p;
    expect(calls).toBe(2);
    expect(r).toMatchObject({ outcome: 'timed_out', attempts: 2, deadLettered: true });
    const run = tracing.runSpans()[0]!;
    expect(ms(run.endTime) - T0).toBe(2_500);
    expect(String(run.attributes[ATTR_DEAD_LETTER_REASON])).toMatch(/run deadline of 2500 ms reached/);
  });

  it('no retry is scheduled when the backoff would end past the deadline', async () => {
    vi.useFakeTimers({ now: T0 });
    let calls = 0;
    const p = runJob(opts({ retries: 10, deadlineMillis: 1_500, backoff: { jitter: 'none', kind: 'fixed', baseDelayMillis: 1000, maxDelayMillis: 1000 } }), async () => {
      calls += 1;
      await new Promise((res) => setTimeout(res, 600));
      throw new FlakyError('nope');
    });
    await vi.runAllTimersAsync();
    const r = await p;
    expect(calls).toBe(1); // 600 ms + 1000 ms backoff would start attempt 2 past the 1500 ms deadline
    expect(r).toMatchObject({ outcome: 'failed', deadLettered: true });
    expect(String(tracing.runSpans()[0]!.attributes[ATTR_DEAD_LETTER_REASON])).toMatch(/no time for attempt 2 before the run deadline/);
    expect(eventNames(tracing.runSpans()[0]!)).not.toContain(LifecycleEvent.RetryScheduled);
  });

  it('cancelling via options.signal ends the run cancelled (not dead-lettered), without waiting for fn', async () => {
    const ac = new AbortController();
    const p = runJob(opts({ retries: 3, signal: ac.signal }), async () => {
      setTimeout(() => ac.abort('SIGTERM'), 5);
      return new Promise<never>(() => {});
    });
    const r = await p;
    expect(r).toMatchObject({ outcome: 'cancelled', attempts: 1, deadLettered: false, error: 'SIGTERM' });
    const run = tracing.runSpans()[0]!;
    expect(run.attributes[ATTR_RUN_OUTCOME]).toBe('cancelled');
    expect(run.attributes[ATTR_RUN_DEAD_LETTERED]).toBe(false);
    expect(run.status.code).toBe(SpanStatusCode.ERROR);
    expect(eventNames(run)).toEqual([LifecycleEvent.Started, LifecycleEvent.Cancelled]);
  });

  it('cancelling during the backoff wait ends the run cancelled after the attempts made', async () => {
    vi.useFakeTimers({ now: T0 });
    const ac = new AbortController();
    const p = runJob(opts({ retries: 3, signal: ac.signal, backoff: { jitter: 'none', baseDelayMillis: 10_000, maxDelayMillis: 10_000 } }), async () => {
      throw new FlakyError('x');
    });
    await vi.advanceTimersByTimeAsync(3_000);
    ac.abort('SIGINT');
    await vi.runAllTimersAsync();
    const r = await p;
    expect(r).toMatchObject({ outcome: 'cancelled', attempts: 1, deadLettered: false });
    expect(ms(tracing.runSpans()[0]!.endTime) - T0).toBe(3_000);
  });
});

describe('runJob: cost, queue and options', () => {
  it('ctx.reportCost wins over rates and sums over attempts', async () => {
    vi.useFakeTimers({ now: T0 });
    const p = runJob(opts({ retries: 1, cost: { perRun: 100 }, backoff: { jitter: 'none', baseDelayMillis: 1, maxDelayMillis: 1 } }), async (ctx) => {
      ctx.reportCost(0.25);
      ctx.reportCost(0.5); // last call of an attempt wins
      if (ctx.attempt === 1) throw new FlakyError('again');
    });
    await vi.runAllTimersAsync();
    await p;
    expect(tracing.runSpans()[0]!.attributes[ATTR_COST_AMOUNT]).toBe(1);
  });

  it('without a report the per-run rate is the cost; with no rates there is no cost attribute', async () => {
    await runJob(opts({ cost: { perRun: 0.003 } }), async () => {});
    await runJob(opts(), async () => {});
    const [priced, free] = tracing.runSpans();
    expect(priced!.attributes[ATTR_COST_AMOUNT]).toBe(0.003);
    expect(free!.attributes[ATTR_COST_AMOUNT]).toBeUndefined();
  });

  it('queue name and queued time become attributes and a job.queued event at the queued time', async () => {
    vi.useFakeTimers({ now: T0 });
    await runJob(opts({ queue: 'nightly', queuedAtMillis: T0 - 1_234 }), async () => {});
    const run = tracing.runSpans()[0]!;
    expect(run.attributes[ATTR_QUEUE_NAME]).toBe('nightly');
    expect(run.attributes[ATTR_QUEUED_TIME_UNIX_NANO]).toBe(`${BigInt(T0 - 1_234) * 1_000_000n}`);
    expect(run.events[0]!.name).toBe(LifecycleEvent.Queued);
    expect(ms(run.events[0]!.time)).toBe(T0 - 1_234);
  });

  it('invalid options throw ConfigError naming the option; job failures never throw', async () => {
    await expect(runJob(opts({ retries: -1 }), async () => {})).rejects.toThrow(/retries/);
    await expect(runJob(opts({ name: '' }), async () => {})).rejects.toThrow(ConfigError);
    await expect(runJob(opts({ timeoutMillis: 0 }), async () => {})).rejects.toThrow(/timeoutMillis/);
    const r = await runJob(opts(), () => Promise.reject(new Error('job failure')));
    expect(r.outcome).toBe('failed');
  });
});

describe('runJob: idempotency keys (local state)', () => {
  it('a key that already succeeded skips the run: zero-length run span, outcome skipped, job.skipped event', async () => {
    let calls = 0;
    const fn = async (): Promise<number> => ++calls;
    const first = await runJob(opts({ idempotencyKey: '2026-01-15' }), fn);
    const second = await runJob(opts({ idempotencyKey: '2026-01-15' }), fn);
    expect(calls).toBe(1);
    expect(first.outcome).toBe('succeeded');
    expect(second).toMatchObject({ outcome: 'skipped', attempts: 0, deadLettered: false });
    expect(second.runId).not.toBe(first.runId);
    const skipped = tracing.runSpans().find((s) => s.attributes[ATTR_RUN_OUTCOME] === 'skipped')!;
    expect(skipped.attributes[ATTR_IDEMPOTENCY_KEY]).toBe('2026-01-15');
    expect(skipped.attributes[ATTR_RUN_ATTEMPTS]).toBe(0);
    expect(ms(skipped.endTime)).toBe(ms(skipped.startTime));
    expect(eventNames(skipped)).toEqual([LifecycleEvent.Skipped]);
    expect(skipped.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(tracing.attemptSpans()).toHaveLength(1);
  });

  it('a failed run does not record the key; keys are scoped per job', async () => {
    await runJob(opts({ idempotencyKey: 'k' }), () => Promise.reject(new Error('x')));
    const again = await runJob(opts({ idempotencyKey: 'k' }), async () => 'ran');
    expect(again.outcome).toBe('succeeded');
    const otherJob = await runJob(opts({ name: 'other', idempotencyKey: 'k' }), async () => 'ran');
    expect(otherJob.outcome).toBe('succeeded');
  });

  it('two concurrent runs with one key do not both execute: the second waits, then skips', async () => {
    let running = 0;
    let executions = 0;
    const fn = async (): Promise<void> => {
      running += 1;
      executions += 1;
      expect(running).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
      running -= 1;
    };
    const [a, b] = await Promise.all([
      runJob(opts({ idempotencyKey: 'once', lockPollMillis: 5 }), fn),
      runJob(opts({ idempotencyKey: 'once', lockPollMillis: 5 }), fn),
    ]);
    expect(executions).toBe(1);
    expect([a.outcome, b.outcome].sort()).toEqual(['skipped', 'succeeded']);
  });

  it('lock files: a live owner blocks, a dead pid or a reused pid is stale and taken over', () => {
    const path = join(stateDir, 'x.lock');
    const me = ownerFor('run-a', Date.now());
    expect(tryAcquireLock(path, me)).toBe(true);
    expect(tryAcquireLock(path, ownerFor('run-b', Date.now()))).toBe(false); // held by a live process (us)
    releaseLock(path, me);
    // pid_max is at most 2^22, so this pid cannot exist.
    writeFileSync(path, JSON.stringify({ pid: 4_194_304 + 7, runId: 'dead', acquiredAtMillis: 0 }));
    expect(tryAcquireLock(path, ownerFor('run-c', Date.now()))).toBe(true);
    // Our pid, but a different start time: the pid was reused, the owner is gone.
    writeFileSync(path, JSON.stringify({ pid: process.pid, startTicks: '1', runId: 'old', acquiredAtMillis: 0 }));
    expect(tryAcquireLock(path, ownerFor('run-d', Date.now()))).toBe(true);
    expect(readdirSync(stateDir)).toEqual(['x.lock']); // no takeover guard left behind
  });
});

describe('runJob: concurrency keys', () => {
  it('a run cancelled while waiting for a slot never executes: zero attempts, queued then cancelled', async () => {
    let release: () => void = () => {};
    const holder = runJob(opts({ concurrencyKey: 'one', lockPollMillis: 5, clock: undefined }), () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 20));
    const ac = new AbortController();
    let ran = false;
    const waiter = runJob(opts({ concurrencyKey: 'one', lockPollMillis: 5, clock: undefined, signal: ac.signal }), async () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    ac.abort('SIGTERM');
    const r = await waiter;
    release();
    await holder;
    expect(ran).toBe(false);
    expect(r).toMatchObject({ outcome: 'cancelled', attempts: 0, deadLettered: false });
    const span = tracing.runSpans().find((s) => s.attributes[ATTR_RUN_OUTCOME] === 'cancelled')!;
    expect(eventNames(span)).toEqual([LifecycleEvent.Queued, LifecycleEvent.Cancelled]);
  });

  it('an already-aborted signal runs nothing', async () => {
    let ran = false;
    const r = await runJob(opts({ signal: AbortSignal.abort('SIGINT') }), async () => {
      ran = true;
    });
    expect(ran).toBe(false);
    expect(r).toMatchObject({ outcome: 'cancelled', attempts: 0 });
    expect(eventNames(tracing.runSpans()[0]!)).toEqual([LifecycleEvent.Cancelled]);
  });

  it('at most N runs at once per key; waiting is recorded as queue time', async () => {
    let running = 0;
    let peak = 0;
    const fn = async (): Promise<void> => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 40));
      running -= 1;
    };
    const o = opts({ concurrencyKey: 'db', concurrency: 2, lockPollMillis: 5, clock: undefined });
    const results = await Promise.all([runJob(o, fn), runJob(o, fn), runJob(o, fn), runJob(o, fn)]);
    expect(results.every((r) => r.outcome === 'succeeded')).toBe(true);
    expect(peak).toBe(2);
    const runs = tracing.runSpans();
    expect(runs.every((s) => typeof s.attributes[ATTR_QUEUED_TIME_UNIX_NANO] === 'string')).toBe(true);
    const queuedMillis = runs.map((s) => ms(s.startTime) - Number(BigInt(s.attributes[ATTR_QUEUED_TIME_UNIX_NANO] as string) / 1_000_000n)).sort((a, b) => a - b);
    expect(queuedMillis[3]).toBeGreaterThanOrEqual(30); // the last two waited for a slot
    expect(queuedMillis[0]).toBeLessThan(30);
  });
});
