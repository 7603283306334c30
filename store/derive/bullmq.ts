/** Profile `bullmq`: spans of BullMQ's telemetry (bullmq-otel). */
import { ATTR_BULLMQ_ATTEMPTS_MADE, ATTR_BULLMQ_JOB_ID, ATTR_BULLMQ_JOB_NAME, ATTR_BULLMQ_QUEUE_NAME, RunOutcome } from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { makeRow } from './_row.js';
import type { Dims } from './_profile.js';
import { int, str } from './_values.js';
import type { Derivation } from './types.js';

const CONSUMER = 5;
const PRODUCER = 4;

/** The queue: `bullmq.queue.name`, else from the span name (`process <queue>`, `add <queue>.<job name>`). */
function queueOf(span: SpanRecord, jobName: string): string {
  const declared = str(span.attributes[ATTR_BULLMQ_QUEUE_NAME]);
  if (declared !== '') return declared;
  const space = span.name.indexOf(' ');
  if (space < 0) return '';
  let rest = span.name.slice(space + 1);
  if (span.name.startsWith('add ') && jobName !== '' && rest.endsWith(`.${jobName}`)) rest = rest.slice(0, -jobName.length - 1);
  return rest;
}

/**
 * Claims spans with `bullmq.job.id`. A CONSUMER `process <queue>` span is
 * attempt `bullmq.job.attempts.made + 1` of run `<queue>/<job id>` (job ids
 * are unique per queue only) of job `<queue>/<bullmq.job.name>`. Every span
 * status is UNSET, so the outcome comes from the events: `job completed` is
 * a success, `job failed` a failure (the latest attempt gives the run's
 * outcome), neither (a stalled attempt) a failure that does not end the run.
 * A PRODUCER `add ...` span is never a run: it gives the queued time.
 */
export function bullmqProfile(span: SpanRecord, dims: Dims): Derivation | undefined {
  const a = span.attributes;
  const jobId = str(a[ATTR_BULLMQ_JOB_ID]);
  if (jobId === '') return undefined;
  const name = str(a[ATTR_BULLMQ_JOB_NAME]);
  const isProcess = span.kind === CONSUMER && span.name.startsWith('process');
  const isEnqueue = span.kind === PRODUCER && span.name.startsWith('add');
  if (!isProcess && !isEnqueue) return { rows: [], profile: 'bullmq' };
  const queue = queueOf(span, name);
  if (queue === '') {
    return { rows: [], profile: 'bullmq', warning: `BullMQ span "${span.name}" has no ${ATTR_BULLMQ_QUEUE_NAME} and no queue in its name: it cannot form a run` };
  }
  const job = name !== '' ? `${queue}/${name}` : queue;
  const runId = `${queue}/${jobId}`;
  if (isEnqueue) {
    return { profile: 'bullmq', rows: [makeRow(span, { profile: 'bullmq', job, runId, role: 'enqueue', queuedNs: span.startTimeUnixNano }, dims())] };
  }
  const completed = span.events.some((e) => e.name === 'job completed');
  const failed = !completed && span.events.some((e) => e.name === 'job failed');
  const outcome = completed ? RunOutcome.Succeeded : RunOutcome.Failed;
  const attempt = (int(a[ATTR_BULLMQ_ATTEMPTS_MADE]) ?? 0) + 1;
  return { profile: 'bullmq', rows: [makeRow(span, { profile: 'bullmq', job, runId, role: 'attempt', attempt, outcome, terminal: completed || failed }, dims())] };
}
