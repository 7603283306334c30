/** Profile `k8s`: processes of Kubernetes Jobs, identified by resource attributes. */
import { ATTR_K8S_CRONJOB_NAME, ATTR_K8S_JOB_NAME, ATTR_K8S_JOB_UID } from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { outcomeFromStatus } from './_row.js';
import type { Dims, MakeRow } from './_profile.js';
import { pick, str } from './_values.js';
import type { Derivation } from './types.js';

/**
 * Claims root spans with `k8s.job.name` (usually a resource attribute). Each
 * root span is one attempt (a pod's execution) of run `k8s.job.uid`; the job
 * is `k8s.cronjob.name` when the Job belongs to a CronJob, else
 * `k8s.job.name`. Every attempt may end the run and the latest gives the
 * outcome, from the span status. Child spans give nothing.
 */
export function k8sProfile(span: SpanRecord, dims: Dims, make: MakeRow): Derivation | undefined {
  if (span.parentSpanId !== '') return undefined;
  const name = str(pick(span, ATTR_K8S_JOB_NAME));
  if (name === '') return undefined;
  const job = str(pick(span, ATTR_K8S_CRONJOB_NAME)) || name;
  const runId = str(pick(span, ATTR_K8S_JOB_UID));
  if (runId === '') {
    return { rows: [], profile: 'k8s', missing: ATTR_K8S_JOB_UID, warning: `span "${span.name}" of Kubernetes Job "${name}" has no ${ATTR_K8S_JOB_UID}: it cannot form a run` };
  }
  return { profile: 'k8s', rows: [make(span, { profile: 'k8s', job, runId, role: 'attempt', outcome: outcomeFromStatus(span), terminal: true, resources: true }, dims)] };
}
