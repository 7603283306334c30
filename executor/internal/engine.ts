/**
 * The run engine shared by `runJob` (in-process functions) and
 * `runProcessJob` (child processes): idempotency, concurrency slots, the
 * attempt loop with timeouts, deadline, retries and backoff, and the run and
 * attempt spans with their lifecycle events. How one attempt executes is the
 * caller's {@link AttemptRunner}.
 */
import { randomUUID } from 'node:crypto';
import { SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_ATTEMPT_STDERR_TAIL,
  ATTR_ATTEMPT_STDOUT_TAIL,
  ATTR_COST_AMOUNT,
  ATTR_CPU_SECONDS,
  ATTR_DEAD_LETTER_REASON,
  ATTR_ERROR_TYPE,
  ATTR_IDEMPOTENCY_KEY,
  ATTR_JOB_NAME,
  ATTR_MAX_RSS_BYTES,
  ATTR_PROCESS_COMMAND,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_QUEUE_NAME,
  ATTR_RETRY_DELAY_MILLIS,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_DEAD_LETTERED,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SPAN_TYPE,
  AttemptOutcome,
  LifecycleEvent,
  RunOutcome,
  SPAN_NAME_ATTEMPT,
  SPAN_NAME_RUN,
  SpanType,
  errorMessage,
  type Logger,
} from '../../contracts/index.js';
import { lifecycleEventId, type LifecycleEventRecord } from '../../contracts/index.js';
import { computeBackoffMillis, type BackoffPolicy } from '../backoff.js';
import { sleep, toHrTime, toUnixNanoString, type Clock } from '../clock.js';
import { computeRunCost, type CostRates } from '../cost.js';
import { acquireConcurrencySlot, acquireIdempotencyLock, readSucceeded, recordSucceeded, type Release } from '../state.js';
import { ownerFor } from './locks.js';

/** Everything the engine needs, defaults already applied and validated. */
export interface EngineOptions {
  name: string;
  retries: number;
  backoff: BackoffPolicy;
  timeoutMillis: number | undefined;
  deadlineMillis: number | undefined;
  idempotencyKey: string | undefined;
  concurrencyKey: string | undefined;
  concurrency: number;
  stateDir: string;
  queue: string | undefined;
  queuedAtMillis: number | undefined;
  command: string | undefined;
  cost: CostRates;
  tracer: Tracer;
  parentContext: Context;
  logger: Logger;
  clock: Clock;
  random: () => number;
  signal: AbortSignal | undefined;
  lockPollMillis: number;
  onLifecycle: ((event: LifecycleEventRecord) => void) | undefined;
}

/** What a runner gets for one attempt. */
export interface AttemptInput {
  /** 1-based. */
  attempt: number;
  runId: string;
  /** The attempt span (already started). */
  span: Span;
  /**
   * Aborts when the attempt must stop: its reason is a `TimeoutError`
   * DOMException on timeout or deadline, the caller's reason on cancel.
   */
  signal: AbortSignal;
}

/** How one attempt ended, as the runner saw it. */
export interface AttemptReport {
  outcome: AttemptOutcome;
  /** Exit code of the attempt's process, if it had one. */
  exitCode?: number | undefined;
  /** `error.type`; the engine uses `timeout` / `cancelled` for those outcomes. */
  errorType?: string | undefined;
  /** Human-readable cause of a failure (span status message, dead-letter reason). */
  message?: string | undefined;
  /** Whether a failure may be retried (ignored on success). */
  retryable: boolean;
  reportedCost?: number | undefined;
  cpuSeconds?: number | undefined;
  maxRssBytes?: number | undefined;
  stdoutTail?: string | undefined;
  stderrTail?: string | undefined;
  value?: unknown;
  error?: unknown;
}

/** Runs one attempt. Should not reject; a rejection counts as a failed, retryable attempt. */
export type AttemptRunner = (input: AttemptInput) => Promise<AttemptReport>;

/** Result of a run as the engine saw it. */
export interface EngineResult {
  runId: string;
  outcome: RunOutcome;
  attempts: number;
  deadLettered: boolean;
  deadLetterReason?: string | undefined;
  /** The final attempt's report. */
  last?: AttemptReport | undefined;
  costAmount?: number | undefined;
  cpuSeconds?: number | undefined;
  maxRssBytes?: number | undefined;
  /** Time spent waiting for locks or slots before the first attempt. */
  queueMillis?: number | undefined;
}

const TIMEOUT = 'TimeoutError';

/** `true` when an abort reason is the engine's timeout/deadline reason. */
export function isTimeoutReason(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === TIMEOUT;
}

/** Records a lifecycle event on the run span and tells the live listener, if any. */
function emit(o: EngineOptions, span: Span, runId: string, type: LifecycleEvent, atMillis: number, attrs: Attributes = {}, tellListener = true): void {
  span.addEvent(type, attrs, hr(atMillis));
  if (tellListener) notify(o, runId, type, atMillis, attrs);
}

/** Tells `o.onLifecycle` about a transition; a throwing listener is logged, never fatal. */
function notify(o: EngineOptions, runId: string, type: LifecycleEvent, atMillis: number, attrs: Attributes): void {
  if (!o.onLifecycle) return;
  const timeUnixNano = BigInt(toUnixNanoString(atMillis));
  const n = attrs[ATTR_ATTEMPT_NUMBER];
  const attempt = typeof n === 'number' ? n : undefined;
  try {
    o.onLifecycle({
      eventId: lifecycleEventId(runId, type, timeUnixNano, attempt),
      type,
      job: o.name,
      runId,
      timeUnixNano,
      ...(attempt !== undefined ? { attempt } : {}),
      attributes: attrs as LifecycleEventRecord['attributes'],
    });
  } catch (err) {
    o.logger.warn('lifecycle listener failed', { type, error: err instanceof Error ? err.message : String(err) });
  }
}

function hr(ms: number): [number, number] {
  return toHrTime(ms);
}

function runOutcomeOf(a: AttemptOutcome): RunOutcome {
  switch (a) {
    case AttemptOutcome.Succeeded:
      return RunOutcome.Succeeded;
    case AttemptOutcome.Failed:
      return RunOutcome.Failed;
    case AttemptOutcome.TimedOut:
      return RunOutcome.TimedOut;
    case AttemptOutcome.Cancelled:
      return RunOutcome.Cancelled;
  }
}

const FINAL_EVENT: Record<RunOutcome, LifecycleEvent> = {
  succeeded: LifecycleEvent.Succeeded,
  failed: LifecycleEvent.Failed,
  timed_out: LifecycleEvent.TimedOut,
  cancelled: LifecycleEvent.Cancelled,
  skipped: LifecycleEvent.Skipped,
};

/** Executes one run of a job. Rejects only on state-directory errors (`ConfigError`). */
export async function executeRun(o: EngineOptions, runner: AttemptRunner): Promise<EngineResult> {
  const runId = randomUUID();
  const { clock, logger } = o;
  const createdAt = clock.now();
  const baseAttrs: Attributes = { [ATTR_JOB_NAME]: o.name, [ATTR_RUN_ID]: runId };
  const runAttrs: Attributes = { ...baseAttrs, [ATTR_SPAN_TYPE]: SpanType.Run };
  if (o.command !== undefined) runAttrs[ATTR_PROCESS_COMMAND] = o.command;
  if (o.idempotencyKey !== undefined) runAttrs[ATTR_IDEMPOTENCY_KEY] = o.idempotencyKey;
  if (o.queue !== undefined) runAttrs[ATTR_QUEUE_NAME] = o.queue;

  const releases: Release[] = [];
  // A run that may wait (for a slot or a lock) is queued from now on: say so
  // live, so queue depth is visible while it waits. The run span repeats the
  // event with the same id when the run starts.
  const liveQueuedAt = o.queuedAtMillis ?? (o.concurrencyKey !== undefined ? createdAt : undefined);
  if (liveQueuedAt !== undefined) notify(o, runId, LifecycleEvent.Queued, liveQueuedAt, {});
  try {
    // --- Before the first attempt: idempotency and concurrency. ---
    let waited = false;
    if (o.idempotencyKey !== undefined) {
      const done = readSucceeded(o.stateDir, o.name, o.idempotencyKey);
      if (done) return skipped(o, runId, runAttrs, done.runId);
      const owner = ownerFor(runId, createdAt);
      const lock = await acquireIdempotencyLock(o.stateDir, o.name, o.idempotencyKey, owner, waitOpts(o)).catch(
        (err: unknown) => cancelledOr(err, o),
      );
      if (lock === 'cancelled') return cancelledBeforeStart(o, runId, runAttrs, createdAt, liveQueuedAt);
      releases.push(lock.release);
      waited ||= lock.waited;
      // Another run with this key may have succeeded while we waited.
      const doneNow = readSucceeded(o.stateDir, o.name, o.idempotencyKey);
      if (doneNow) return skipped(o, runId, runAttrs, doneNow.runId);
    }
    if (o.concurrencyKey !== undefined) {
      const owner = ownerFor(runId, createdAt);
      const slot = await acquireConcurrencySlot(o.stateDir, o.concurrencyKey, o.concurrency, owner, waitOpts(o)).catch(
        (err: unknown) => cancelledOr(err, o),
      );
      if (slot === 'cancelled') return cancelledBeforeStart(o, runId, runAttrs, createdAt, liveQueuedAt);
      releases.push(slot.release);
      waited ||= slot.waited;
    }
    if (o.signal?.aborted) {
      return cancelledBeforeStart(o, runId, runAttrs, waited || o.concurrencyKey !== undefined ? createdAt : undefined, liveQueuedAt);
    }
    const queuedAt = o.queuedAtMillis ?? (waited || o.concurrencyKey !== undefined ? createdAt : undefined);
    if (queuedAt !== undefined) runAttrs[ATTR_QUEUED_TIME_UNIX_NANO] = toUnixNanoString(queuedAt);

    // --- The attempts. ---
    const firstStart = clock.now();
    const runSpan = o.tracer.startSpan(SPAN_NAME_RUN, { startTime: hr(firstStart), attributes: runAttrs }, o.parentContext);
    if (queuedAt !== undefined) emit(o, runSpan, runId, LifecycleEvent.Queued, queuedAt, {}, queuedAt !== liveQueuedAt);
    emit(o, runSpan, runId, LifecycleEvent.Started, firstStart);
    const runCtx = trace.setSpan(o.parentContext, runSpan);
    const deadlineAt = o.deadlineMillis === undefined ? undefined : firstStart + o.deadlineMillis;
    const maxAttempts = o.retries + 1;

    let attempt = 0;
    let last: AttemptReport | undefined;
    let lastEnd = firstStart;
    let outcome: RunOutcome = RunOutcome.Failed;
    let deadLetterReason: string | undefined;
    let prevDelay: number | undefined;
    let busyMillis = 0;
    let cpuSeconds: number | undefined;
    let maxRssBytes: number | undefined;
    let reportedCost: number | undefined;

    for (;;) {
      attempt += 1;
      const start = attempt === 1 ? firstStart : clock.now();
      const span = o.tracer.startSpan(
        SPAN_NAME_ATTEMPT,
        { startTime: hr(start), attributes: { ...baseAttrs, [ATTR_SPAN_TYPE]: SpanType.Attempt, [ATTR_ATTEMPT_NUMBER]: attempt } },
        runCtx,
      );
      const { report, hitDeadline } = await runAttempt(o, runner, { attempt, runId, span }, start, deadlineAt);
      const end = clock.now();
      lastEnd = end;
      last = report;
      busyMillis += end - start;
      if (report.cpuSeconds !== undefined) cpuSeconds = (cpuSeconds ?? 0) + report.cpuSeconds;
      if (report.maxRssBytes !== undefined) maxRssBytes = Math.max(maxRssBytes ?? 0, report.maxRssBytes);
      if (report.reportedCost !== undefined) reportedCost = (reportedCost ?? 0) + report.reportedCost;
      endAttemptSpan(span, report, end);

      outcome = runOutcomeOf(report.outcome);
      if (report.outcome === AttemptOutcome.Succeeded || report.outcome === AttemptOutcome.Cancelled) break;

      emit(o, runSpan, runId, LifecycleEvent.AttemptFailed, end, { [ATTR_ATTEMPT_NUMBER]: attempt, [ATTR_ERROR_TYPE]: report.errorType ?? 'error' });
      const why = report.message ?? report.errorType ?? 'failed';
      if (hitDeadline) {
        deadLetterReason = `${why} (run deadline of ${o.deadlineMillis} ms reached)`;
        break;
      }
      if (!report.retryable) {
        deadLetterReason = `${why} (not retryable)`;
        break;
      }
      if (attempt >= maxAttempts) {
        deadLetterReason = `${why} (after ${attempt} attempt${attempt === 1 ? '' : 's'})`;
        break;
      }
      const delay = computeBackoffMillis(o.backoff, attempt, prevDelay, o.random);
      prevDelay = delay;
      if (deadlineAt !== undefined && end + delay >= deadlineAt) {
        deadLetterReason = `${why} (no time for attempt ${attempt + 1} before the run deadline)`;
        logger.info('not retrying: the next attempt would start after the run deadline', {
          job: o.name,
          attempt,
          delayMillis: delay,
        });
        break;
      }
      emit(o, runSpan, runId, LifecycleEvent.RetryScheduled, end, { [ATTR_RETRY_DELAY_MILLIS]: delay, [ATTR_ATTEMPT_NUMBER]: attempt + 1 });
      logger.info('attempt failed; retrying', { job: o.name, attempt, error: report.errorType, delayMillis: delay });
      try {
        await sleep(clock, delay, o.signal);
      } catch {
        outcome = RunOutcome.Cancelled;
        lastEnd = clock.now();
        break;
      }
    }

    const deadLettered = outcome === RunOutcome.Failed || outcome === RunOutcome.TimedOut;
    const costAmount = computeRunCost({ reportedCost, cpuSeconds, maxRssBytes, busyMillis }, o.cost);
    const endAttrs: Attributes = {
      [ATTR_RUN_OUTCOME]: outcome,
      [ATTR_RUN_ATTEMPTS]: attempt,
      [ATTR_RUN_DEAD_LETTERED]: deadLettered,
    };
    if (deadLettered && deadLetterReason !== undefined) endAttrs[ATTR_DEAD_LETTER_REASON] = deadLetterReason;
    if (last?.exitCode !== undefined) endAttrs[ATTR_PROCESS_EXIT_CODE] = last.exitCode;
    if (outcome !== RunOutcome.Succeeded) endAttrs[ATTR_ERROR_TYPE] = errorTypeOf(last, outcome);
    if (costAmount !== undefined) endAttrs[ATTR_COST_AMOUNT] = costAmount;
    if (cpuSeconds !== undefined) endAttrs[ATTR_CPU_SECONDS] = cpuSeconds;
    if (maxRssBytes !== undefined) endAttrs[ATTR_MAX_RSS_BYTES] = maxRssBytes;
    runSpan.setAttributes(endAttrs);
    emit(o, runSpan, runId, FINAL_EVENT[outcome], lastEnd);
    if (deadLettered) {
      emit(o, runSpan, runId, LifecycleEvent.DeadLettered, lastEnd, deadLetterReason ? { [ATTR_DEAD_LETTER_REASON]: deadLetterReason } : {});
    }
    if (outcome !== RunOutcome.Succeeded) {
      runSpan.setStatus({ code: SpanStatusCode.ERROR, message: statusMessage(outcome, last, deadLetterReason) });
    }
    runSpan.end(hr(lastEnd));

    if (outcome === RunOutcome.Succeeded && o.idempotencyKey !== undefined) {
      recordSucceeded(o.stateDir, {
        job: o.name,
        key: o.idempotencyKey,
        runId,
        outcome: 'succeeded',
        finishedAtMillis: Math.round(lastEnd),
      });
    }
    logger.debug('run finished', { job: o.name, runId, outcome, attempts: attempt });
    return {
      runId,
      outcome,
      attempts: attempt,
      deadLettered,
      deadLetterReason: deadLettered ? deadLetterReason : undefined,
      last,
      costAmount,
      cpuSeconds,
      maxRssBytes,
      queueMillis: queuedAt === undefined ? undefined : Math.max(0, firstStart - queuedAt),
    };
  } finally {
    for (const release of releases.reverse()) {
      try {
        release();
      } catch (err) {
        logger.warn('could not release a lock file', { error: errorMessage(err) });
      }
    }
  }
}

function waitOpts(o: EngineOptions): { clock: Clock; pollMillis: number; signal: AbortSignal | undefined } {
  return { clock: o.clock, pollMillis: o.lockPollMillis, signal: o.signal };
}

function cancelledOr(err: unknown, o: EngineOptions): 'cancelled' {
  if (o.signal?.aborted) return 'cancelled';
  throw err;
}

/** Runs one attempt under its timeout, the run deadline and the caller's cancel signal. */
async function runAttempt(
  o: EngineOptions,
  runner: AttemptRunner,
  input: Omit<AttemptInput, 'signal'>,
  start: number,
  deadlineAt: number | undefined,
): Promise<{ report: AttemptReport; hitDeadline: boolean }> {
  const controller = new AbortController();
  let hitDeadline = false;
  const untilDeadline = deadlineAt === undefined ? Infinity : deadlineAt - start;
  const limit = Math.min(o.timeoutMillis ?? Infinity, untilDeadline);
  const cancelTimer = Number.isFinite(limit)
    ? o.clock.setTimeout(() => {
        hitDeadline = untilDeadline <= (o.timeoutMillis ?? Infinity);
        const what = hitDeadline ? `run deadline of ${o.deadlineMillis} ms` : `attempt timeout of ${o.timeoutMillis} ms`;
        controller.abort(new DOMException(`${what} exceeded`, TIMEOUT));
      }, Math.max(0, limit))
    : () => {};
  const onCancel = (): void => controller.abort(o.signal?.reason);
  if (o.signal?.aborted) onCancel();
  else o.signal?.addEventListener('abort', onCancel, { once: true });

  let report: AttemptReport;
  try {
    report = await runner({ ...input, signal: controller.signal });
  } catch (err) {
    report = {
      outcome: AttemptOutcome.Failed,
      errorType: err instanceof Error ? err.constructor.name : typeof err,
      message: errorMessage(err),
      retryable: true,
      error: err,
    };
  } finally {
    cancelTimer();
    o.signal?.removeEventListener('abort', onCancel);
  }
  if (report.outcome === AttemptOutcome.TimedOut) report.errorType = 'timeout';
  if (report.outcome === AttemptOutcome.Cancelled) report.errorType = 'cancelled';
  if (report.outcome !== AttemptOutcome.TimedOut) hitDeadline = false;
  return { report, hitDeadline };
}

function endAttemptSpan(span: Span, r: AttemptReport, end: number): void {
  const attrs: Attributes = { [ATTR_ATTEMPT_OUTCOME]: r.outcome };
  if (r.exitCode !== undefined) attrs[ATTR_PROCESS_EXIT_CODE] = r.exitCode;
  if (r.cpuSeconds !== undefined) attrs[ATTR_CPU_SECONDS] = r.cpuSeconds;
  if (r.maxRssBytes !== undefined) attrs[ATTR_MAX_RSS_BYTES] = r.maxRssBytes;
  if (r.outcome !== AttemptOutcome.Succeeded) {
    attrs[ATTR_ERROR_TYPE] = r.errorType ?? 'error';
    if (r.stdoutTail) attrs[ATTR_ATTEMPT_STDOUT_TAIL] = r.stdoutTail;
    if (r.stderrTail) attrs[ATTR_ATTEMPT_STDERR_TAIL] = r.stderrTail;
    span.setStatus({ code: SpanStatusCode.ERROR, message: r.message ?? r.errorType ?? r.outcome });
  }
  span.setAttributes(attrs);
  span.end(hr(end));
}

function errorTypeOf(last: AttemptReport | undefined, outcome: RunOutcome): string {
  if (outcome === RunOutcome.Cancelled) return 'cancelled';
  return last?.errorType ?? 'error';
}

function statusMessage(outcome: RunOutcome, last: AttemptReport | undefined, deadLetterReason: string | undefined): string {
  if (outcome === RunOutcome.Cancelled) return 'run cancelled';
  return deadLetterReason ?? last?.message ?? outcome;
}

/** A zero-length run span for a run whose idempotency key already succeeded. */
function skipped(o: EngineOptions, runId: string, runAttrs: Attributes, previousRunId: string): EngineResult {
  const now = o.clock.now();
  const span = o.tracer.startSpan(
    SPAN_NAME_RUN,
    {
      startTime: hr(now),
      attributes: {
        ...runAttrs,
        [ATTR_RUN_OUTCOME]: RunOutcome.Skipped,
        [ATTR_RUN_ATTEMPTS]: 0,
        [ATTR_RUN_DEAD_LETTERED]: false,
      },
    },
    o.parentContext,
  );
  emit(o, span, runId, LifecycleEvent.Skipped, now);
  span.end(hr(now));
  o.logger.info('skipped: this idempotency key already succeeded', { job: o.name, previousRunId });
  return { runId, outcome: RunOutcome.Skipped, attempts: 0, deadLettered: false };
}

/** A zero-length cancelled run span: cancelled before its first attempt (e.g. while waiting for a lock or slot). */
function cancelledBeforeStart(
  o: EngineOptions,
  runId: string,
  runAttrs: Attributes,
  waitedSince: number | undefined,
  liveQueuedAt: number | undefined,
): EngineResult {
  const now = o.clock.now();
  const queuedAt = o.queuedAtMillis ?? waitedSince;
  const span = o.tracer.startSpan(
    SPAN_NAME_RUN,
    {
      startTime: hr(now),
      attributes: {
        ...runAttrs,
        ...(queuedAt === undefined ? {} : { [ATTR_QUEUED_TIME_UNIX_NANO]: toUnixNanoString(queuedAt) }),
        [ATTR_RUN_OUTCOME]: RunOutcome.Cancelled,
        [ATTR_RUN_ATTEMPTS]: 0,
        [ATTR_RUN_DEAD_LETTERED]: false,
        [ATTR_ERROR_TYPE]: 'cancelled',
      },
    },
    o.parentContext,
  );
  if (queuedAt !== undefined) emit(o, span, runId, LifecycleEvent.Queued, queuedAt, {}, queuedAt !== liveQueuedAt);
  emit(o, span, runId, LifecycleEvent.Cancelled, now);
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'run cancelled before its first attempt' });
  span.end(hr(now));
  return { runId, outcome: RunOutcome.Cancelled, attempts: 0, deadLettered: false };
}
