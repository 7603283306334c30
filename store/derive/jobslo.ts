/** Profile `jobslo`: the `jobslo.*` conventions the executor and hand-instrumented runners emit. */
import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_CICD_PIPELINE_NAME,
  ATTR_CICD_PIPELINE_RUN_ID,
  ATTR_JOB_NAME,
  ATTR_K8S_JOB_NAME,
  ATTR_K8S_JOB_UID,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SPAN_TYPE,
  LifecycleEvent,
  RunOutcome,
  SpanType,
} from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { outcomeFromStatus } from './_row.js';
import type { Dims, MakeRow } from './_profile.js';
import { int, nanos, pick, str } from './_values.js';
import type { Derivation } from './types.js';

const OUTCOMES = new Set<string>(Object.values(RunOutcome));

/**
 * Claims spans with a `jobslo.*` job attribute of their own (or a root span
 * whose resource has one). Job: `jobslo.job.name`, else `cicd.pipeline.name`,
 * else `k8s.job.name`; run id: `jobslo.run.id`, else `cicd.pipeline.run.id`,
 * else `k8s.job.uid` (span attributes first, then resource). Span type:
 * `jobslo.span.type`, else attempt when it has `jobslo.attempt.number`, else
 * run when it is a root span. A run span without `jobslo.run.attempts` is also
 * its own attempt (single-span run) when no attempt span arrives.
 */
export function jobsloProfile(span: SpanRecord, dims: Dims, make: MakeRow): Derivation | undefined {
  const a = span.attributes;
  const own = a[ATTR_JOB_NAME] !== undefined || a[ATTR_RUN_ID] !== undefined || a[ATTR_SPAN_TYPE] !== undefined || a[ATTR_ATTEMPT_NUMBER] !== undefined;
  const root = span.parentSpanId === '';
  if (!own && !(root && (span.resourceAttributes[ATTR_JOB_NAME] !== undefined || span.resourceAttributes[ATTR_RUN_ID] !== undefined))) return undefined;
  const attemptNo = int(a[ATTR_ATTEMPT_NUMBER]) ?? 0;
  let type = str(a[ATTR_SPAN_TYPE]);
  if (type !== SpanType.Run && type !== SpanType.Attempt) type = attemptNo > 0 ? SpanType.Attempt : root ? SpanType.Run : '';
  if (type === '') return { rows: [], profile: 'jobslo' };
  const job = str(pick(span, ATTR_JOB_NAME) ?? pick(span, ATTR_CICD_PIPELINE_NAME) ?? pick(span, ATTR_K8S_JOB_NAME));
  const runId = str(pick(span, ATTR_RUN_ID) ?? pick(span, ATTR_CICD_PIPELINE_RUN_ID) ?? pick(span, ATTR_K8S_JOB_UID));
  if (job === '' || runId === '') {
    const missing = job === '' ? `${ATTR_JOB_NAME} (or ${ATTR_CICD_PIPELINE_NAME}, ${ATTR_K8S_JOB_NAME})` : `${ATTR_RUN_ID} (or ${ATTR_CICD_PIPELINE_RUN_ID}, ${ATTR_K8S_JOB_UID})`;
    return { rows: [], profile: 'jobslo', missing: job === '' ? ATTR_JOB_NAME : ATTR_RUN_ID, warning: `${type} span "${span.name}" has jobslo attributes but no ${missing}: it cannot form a run` };
  }
  if (type === SpanType.Attempt) {
    const declared = str(a[ATTR_ATTEMPT_OUTCOME]);
    const outcome = declared !== '' ? declared : outcomeFromStatus(span);
    return { profile: 'jobslo', rows: [make(span, { profile: 'jobslo', job, runId, role: 'attempt', attempt: attemptNo, outcome }, dims)] };
  }
  let outcome = str(a[ATTR_RUN_OUTCOME]);
  if (!OUTCOMES.has(outcome)) outcome = outcomeFromStatus(span);
  const reported = int(a[ATTR_RUN_ATTEMPTS]);
  let queuedNs = nanos(a[ATTR_QUEUED_TIME_UNIX_NANO]);
  if (queuedNs === null) {
    const queued = span.events.find((e) => e.name === LifecycleEvent.Queued);
    if (queued) queuedNs = queued.timeUnixNano;
  }
  return {
    profile: 'jobslo',
    rows: [
      make(
        span,
        { profile: 'jobslo', job, runId, role: reported === null ? 'run_attempt' : 'run', outcome, terminal: true, runAttempts: reported ?? 0, queuedNs, resources: true },
        dims,
      ),
    ],
  };
}
