import { context, trace, type Span } from '@opentelemetry/api';
import { AttemptOutcome, ConfigError, UnrecoverableError, errorMessage, type RunOutcome } from '../contracts/index.js';
import { executeRun, isTimeoutReason, type AttemptReport } from './internal/engine.js';
import { resolveEngineOptions, type RunOptions } from './options.js';

/** What a job function gets for each attempt. */
export interface JobContext {
  /** Aborts when the attempt times out, the run deadline passes or the run is cancelled. */
  readonly signal: AbortSignal;
  /** 1-based attempt number. */
  readonly attempt: number;
  /** Id of the run (the same for every attempt). */
  readonly runId: string;
  /** The attempt span: add attributes, or parent your own spans on it. */
  readonly span: Span;
  /**
   * Reports this attempt's cost (a finite number >= 0; the last call of an
   * attempt wins). Reported costs of all attempts are summed and replace the
   * cost computed from rates.
   *
   * @throws {ConfigError} when `amount` is negative or not finite
   */
  reportCost(amount: number): void;
}

/** Options of {@link runJob}. */
export type RunJobOptions = RunOptions;

/**
 * Result of a run, as a value: job failures do not throw.
 */
export interface RunResult<T> {
  runId: string;
  /** `succeeded`, `failed`, `timed_out`, `cancelled` or `skipped`. */
  outcome: RunOutcome;
  /** Attempts made (0 when skipped or cancelled before the first attempt). */
  attempts: number;
  /** The job function's value when the run succeeded. */
  value?: T;
  /** What the last failed attempt threw (or the abort reason on timeout/cancel). */
  error?: unknown;
  /** `true` when the run failed or timed out for good (retries exhausted or not retryable). */
  deadLettered: boolean;
}

/**
 * Runs `fn` as one run of job `options.name`, with the executor's retries,
 * timeouts, idempotency, concurrency limit and telemetry (a `job.run` span
 * with a `job.attempt` child per attempt, and lifecycle events).
 *
 * An attempt fails when `fn` rejects; throwing {@link UnrecoverableError}
 * fails the run at once without retries. On timeout or cancel, `ctx.signal`
 * aborts and the attempt ends at once: the run does not wait for `fn` to
 * notice (JavaScript cannot stop it), and a later settlement is ignored.
 *
 * @throws {ConfigError} for invalid options or an unusable state directory; never for job failures
 */
export async function runJob<T>(options: RunJobOptions, fn: (ctx: JobContext) => Promise<T>): Promise<RunResult<T>> {
  const engine = resolveEngineOptions(options, undefined);
  const parent = engine.parentContext;
  const result = await executeRun(engine, async ({ attempt, runId, span, signal }): Promise<AttemptReport> => {
    let reportedCost: number | undefined;
    const ctx: JobContext = {
      signal,
      attempt,
      runId,
      span,
      reportCost(amount: number): void {
        if (!Number.isFinite(amount) || amount < 0) throw new ConfigError('reportCost', `must be a finite number >= 0, got ${amount}`);
        reportedCost = amount;
      },
    };
    type Settled = { ok: true; value: T } | { ok: false; error: unknown } | { aborted: true };
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<Settled>((resolve) => {
      if (signal.aborted) resolve({ aborted: true });
      onAbort = () => resolve({ aborted: true });
      signal.addEventListener('abort', onAbort, { once: true });
    });
    // Both branches are handled here, so a late rejection after a timeout is never unhandled.
    const settled = context
      .with(trace.setSpan(parent, span), async () => fn(ctx))
      .then(
        (value): Settled => ({ ok: true, value }),
        (error: unknown): Settled => ({ ok: false, error }),
      );
    const r = await Promise.race([settled, aborted]);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    if ('aborted' in r) {
      const timedOut = isTimeoutReason(signal.reason);
      return {
        outcome: timedOut ? AttemptOutcome.TimedOut : AttemptOutcome.Cancelled,
        message: errorMessage(signal.reason),
        retryable: timedOut,
        reportedCost,
        error: signal.reason,
      };
    }
    if (r.ok) return { outcome: AttemptOutcome.Succeeded, retryable: false, reportedCost, value: r.value };
    return {
      outcome: AttemptOutcome.Failed,
      errorType: errorTypeOf(r.error),
      message: errorMessage(r.error),
      retryable: !(r.error instanceof UnrecoverableError),
      reportedCost,
      error: r.error,
    };
  });
  const out: RunResult<T> = {
    runId: result.runId,
    outcome: result.outcome,
    attempts: result.attempts,
    deadLettered: result.deadLettered,
  };
  if (result.last?.outcome === AttemptOutcome.Succeeded) out.value = result.last.value as T;
  else if (result.last?.error !== undefined) out.error = result.last.error;
  return out;
}

function errorTypeOf(err: unknown): string {
  if (err instanceof Error) return err.constructor.name || err.name;
  return err === null ? 'null' : typeof err;
}
