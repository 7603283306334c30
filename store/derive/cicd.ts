/** Profile `cicd`: OpenTelemetry CI/CD semantic conventions (pipeline runs and task runs). */
import {
  ATTR_CICD_PIPELINE_NAME,
  ATTR_CICD_PIPELINE_RESULT,
  ATTR_CICD_PIPELINE_RUN_ID,
  ATTR_CICD_PIPELINE_TASK_NAME,
  ATTR_CICD_PIPELINE_TASK_RUN_ID,
  ATTR_CICD_PIPELINE_TASK_RUN_RESULT,
  RunOutcome,
} from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { outcomeFromStatus } from './_row.js';
import type { Dims, MakeRow } from './_profile.js';
import { pick, str } from './_values.js';
import type { Derivation } from './types.js';

/** `cicd.pipeline.result` / `cicd.pipeline.task.run.result` values to run outcomes. */
export const CICD_RESULT_OUTCOMES: Readonly<Record<string, RunOutcome>> = {
  success: RunOutcome.Succeeded,
  failure: RunOutcome.Failed,
  error: RunOutcome.Failed,
  timeout: RunOutcome.TimedOut,
  cancellation: RunOutcome.Cancelled,
  skip: RunOutcome.Skipped,
};

function outcomeOf(span: SpanRecord, result: string): string {
  return CICD_RESULT_OUTCOMES[result] ?? outcomeFromStatus(span);
}

/**
 * Claims spans with `cicd.pipeline.name`, `cicd.pipeline.run.id` or
 * `cicd.pipeline.task.name`. A **task run** (a span with task attributes of
 * its own, or a root span whose resource has them) is a single-span run of
 * job `<pipeline>/<task>` with run id `cicd.pipeline.task.run.id` (else
 * `<pipeline run id>/<task>`). A **pipeline run** (a root span, or a span with
 * its own `cicd.pipeline.result`) is a single-span run of job
 * `cicd.pipeline.name`, run id `cicd.pipeline.run.id`. Outcome from the
 * result ({@link CICD_RESULT_OUTCOMES}), else the span status. Other spans of
 * a pipeline (steps) give no row.
 */
export function cicdProfile(span: SpanRecord, dims: Dims, make: MakeRow): Derivation | undefined {
  const pipeline = str(pick(span, ATTR_CICD_PIPELINE_NAME));
  const pipelineRun = str(pick(span, ATTR_CICD_PIPELINE_RUN_ID));
  const a = span.attributes;
  const ownTask = a[ATTR_CICD_PIPELINE_TASK_NAME] !== undefined || a[ATTR_CICD_PIPELINE_TASK_RUN_ID] !== undefined || a[ATTR_CICD_PIPELINE_TASK_RUN_RESULT] !== undefined;
  if (pipeline === '' && pipelineRun === '' && !ownTask) return undefined;
  const root = span.parentSpanId === '';
  const task = str(pick(span, ATTR_CICD_PIPELINE_TASK_NAME));
  if (ownTask || (root && task !== '')) {
    const job = pipeline !== '' && task !== '' ? `${pipeline}/${task}` : task;
    const runId = str(pick(span, ATTR_CICD_PIPELINE_TASK_RUN_ID)) || (pipelineRun !== '' && task !== '' ? `${pipelineRun}/${task}` : '');
    if (job === '' || runId === '') {
      const missing = job === '' ? ATTR_CICD_PIPELINE_TASK_NAME : `${ATTR_CICD_PIPELINE_TASK_RUN_ID} (or ${ATTR_CICD_PIPELINE_RUN_ID})`;
      return { rows: [], profile: 'cicd', missing: job === '' ? ATTR_CICD_PIPELINE_TASK_NAME : ATTR_CICD_PIPELINE_TASK_RUN_ID, warning: `CI/CD task span "${span.name}" has no ${missing}: it cannot form a run` };
    }
    const outcome = outcomeOf(span, str(a[ATTR_CICD_PIPELINE_TASK_RUN_RESULT]));
    return { profile: 'cicd', rows: [make(span, { profile: 'cicd', job, runId, role: 'run_attempt', outcome, terminal: true, resources: true }, dims)] };
  }
  if (!root && a[ATTR_CICD_PIPELINE_RESULT] === undefined) return { rows: [], profile: 'cicd' };
  if (pipeline === '' || pipelineRun === '') {
    const missing = pipeline === '' ? ATTR_CICD_PIPELINE_NAME : ATTR_CICD_PIPELINE_RUN_ID;
    return { rows: [], profile: 'cicd', missing, warning: `CI/CD pipeline span "${span.name}" has no ${missing}: it cannot form a run` };
  }
  const outcome = outcomeOf(span, str(pick(span, ATTR_CICD_PIPELINE_RESULT)));
  return { profile: 'cicd', rows: [make(span, { profile: 'cicd', job: pipeline, runId: pipelineRun, role: 'run_attempt', outcome, terminal: true, resources: true }, dims)] };
}
