/** Profile `celery`: spans of opentelemetry-instrumentation-celery. */
import {
  ATTR_CELERY_ACTION,
  ATTR_CELERY_RETRIES,
  ATTR_CELERY_STATE,
  ATTR_CELERY_TASK_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  RunOutcome,
} from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { lastException, outcomeFromStatus } from './_row.js';
import type { Dims, MakeRow } from './_profile.js';
import { int, str } from './_values.js';
import type { Derivation } from './types.js';

/** Exceptions Celery raises when a task exceeds its time limit: the attempt timed out. */
const TIME_LIMIT_EXCEPTIONS = /(^|\.)(Soft)?TimeLimitExceeded$/;

/** `celery.state` after an execution -> outcome, and whether it ends the run. */
const STATES: Readonly<Record<string, { outcome: RunOutcome; terminal: boolean }>> = {
  SUCCESS: { outcome: RunOutcome.Succeeded, terminal: true },
  FAILURE: { outcome: RunOutcome.Failed, terminal: true },
  RETRY: { outcome: RunOutcome.Failed, terminal: false },
  REVOKED: { outcome: RunOutcome.Cancelled, terminal: true },
  REJECTED: { outcome: RunOutcome.Failed, terminal: true },
  IGNORED: { outcome: RunOutcome.Skipped, terminal: true },
};

/**
 * Claims spans with `celery.action` or `celery.task_name`. A `run` span (one
 * execution, CONSUMER `run/<task>`) is attempt `celery.retries + 1` of run
 * `messaging.message.id` (the task id, the same across retries) of job
 * `celery.task_name`. Its outcome is `celery.state` (the span status is UNSET
 * on retried executions): SUCCESS and FAILURE end the run, RETRY does not;
 * a time-limit exception makes it `timed_out`. An `apply_async` span (PRODUCER)
 * is never a run: it gives the run's queued time (its start).
 */
export function celeryProfile(span: SpanRecord, dims: Dims, make: MakeRow): Derivation | undefined {
  const a = span.attributes;
  const action = str(a[ATTR_CELERY_ACTION]);
  const task = str(a[ATTR_CELERY_TASK_NAME]);
  if (action === '' && task === '') return undefined;
  const isRun = action === 'run' || (action === '' && span.kind === 5 && span.name.startsWith('run/'));
  const isEnqueue = action === 'apply_async' || (action === '' && span.kind === 4 && span.name.startsWith('apply_async/'));
  if (!isRun && !isEnqueue) return { rows: [], profile: 'celery' };
  const runId = str(a[ATTR_MESSAGING_MESSAGE_ID]);
  if (task === '' || runId === '') {
    const missing = task === '' ? ATTR_CELERY_TASK_NAME : ATTR_MESSAGING_MESSAGE_ID;
    return { rows: [], profile: 'celery', missing, warning: `Celery span "${span.name}" has no ${missing}: it cannot form a run` };
  }
  if (isEnqueue) {
    return { profile: 'celery', rows: [make(span, { profile: 'celery', job: task, runId, role: 'enqueue', queuedNs: span.startTimeUnixNano }, dims)] };
  }
  const state = STATES[str(a[ATTR_CELERY_STATE]).toUpperCase()];
  let outcome: string = state?.outcome ?? outcomeFromStatus(span);
  const terminal = state?.terminal ?? true;
  if (outcome === RunOutcome.Failed && TIME_LIMIT_EXCEPTIONS.test(lastException(span, 'exception.type'))) outcome = RunOutcome.TimedOut;
  const attempt = (int(a[ATTR_CELERY_RETRIES]) ?? 0) + 1;
  return { profile: 'celery', rows: [make(span, { profile: 'celery', job: task, runId, role: 'attempt', attempt, outcome, terminal }, dims)] };
}
