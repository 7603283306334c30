/** Profile `bullmq`: spans of BullMQ's telemetry (bullmq-otel). */
import { ATTR_BULLMQ_ATTEMPTS_MADE, ATTR_BULLMQ_JOB_ID, ATTR_BULLMQ_JOB_NAME, ATTR_BULLMQ_QUEUE_NAME, ATTR_BULLMQ_QUEUE_OPERATION, RunOutcome } from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import type { Dims, MakeRow } from './_profile.js';
import { int, str } from './_values.js';
import type { Derivation } from './types.js';

/** `bullmq.queue.operation`, else the span name's first word (`process <queue>`, `add <queue>.<name>`, `fail <queue>`). */
function operationOf(span: SpanRecord): string {
  const declared = str(span.attributes[ATTR_BULLMQ_QUEUE_OPERATION]);
  if (declared !== '') return declared;
  const space = span.name.indexOf(' ');
  return space < 0 ? span.name : span.name.slice(0, space);
}

/** The queue: `bullmq.queue.name`, else from the span name. */
function queueOf(span: SpanRecord, op: string, jobName: string): string {
  const declared = str(span.attributes[ATTR_BULLMQ_QUEUE_NAME]);
  if (declared !== '') return declared;
  let rest = span.name.slice(op.length + 1);
  if (op === 'add' && jobName !== '' && rest.endsWith(`.${jobName}`)) rest = rest.slice(0, -jobName.length - 1);
  return rest;
}

/**
 * Claims spans with `bullmq.job.id`. A `process` span (CONSUMER `process
 * <queue>`) is attempt `bullmq.job.attempts.made` (1-based: BullMQ counts the
 * attempt before the span ends) of run `<queue>/<job id>` (job ids are unique
 * per queue only) of job `<queue>/<bullmq.job.name>`. Every span status is
 * UNSET, so outcomes come from events and child spans: an attempt with the
 * `job completed` event succeeded and ends the run; one with `job failed`
 * (or neither: stalled) failed and does not end the run by itself, because
 * BullMQ puts the same event on attempts it will retry. The `fail <queue>`
 * child (no attempts left) is a run row that ends the run as failed;
 * `delay` and `complete` children add nothing. The PRODUCER `add` span is
 * never a run: it gives the queued time.
 */
export function bullmqProfile(span: SpanRecord, dims: Dims, make: MakeRow): Derivation | undefined {
  const a = span.attributes;
  const jobId = str(a[ATTR_BULLMQ_JOB_ID]);
  if (jobId === '') return undefined;
  const op = operationOf(span);
  if (op !== 'process' && op !== 'add' && op !== 'fail') return { rows: [], profile: 'bullmq' };
  const name = str(a[ATTR_BULLMQ_JOB_NAME]);
  const queue = queueOf(span, op, name);
  if (queue === '') {
    return { rows: [], profile: 'bullmq', missing: ATTR_BULLMQ_QUEUE_NAME, warning: `BullMQ span "${span.name}" has no ${ATTR_BULLMQ_QUEUE_NAME}: it cannot form a run` };
  }
  const job = name !== '' ? `${queue}/${name}` : queue;
  const runId = `${queue}/${jobId}`;
  if (op === 'add') {
    return { profile: 'bullmq', rows: [make(span, { profile: 'bullmq', job, runId, role: 'enqueue', queuedNs: span.startTimeUnixNano }, dims)] };
  }
  if (op === 'fail') {
    return { profile: 'bullmq', rows: [make(span, { profile: 'bullmq', job, runId, role: 'run', outcome: RunOutcome.Failed, terminal: true }, dims)] };
  }
  const completed = span.events.some((e) => e.name === 'job completed');
  const attempt = Math.max(1, int(a[ATTR_BULLMQ_ATTEMPTS_MADE]) ?? 1);
  return {
    profile: 'bullmq',
    rows: [make(span, { profile: 'bullmq', job, runId, role: 'attempt', attempt, outcome: completed ? RunOutcome.Succeeded : RunOutcome.Failed, terminal: completed }, dims)],
  };
}
