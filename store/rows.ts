import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_CICD_PIPELINE_NAME,
  ATTR_CICD_PIPELINE_RUN_ID,
  ATTR_COST_AMOUNT,
  ATTR_CPU_SECONDS,
  ATTR_ERROR_TYPE,
  ATTR_JOB_NAME,
  ATTR_K8S_JOB_NAME,
  ATTR_MAX_RSS_BYTES,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_DEAD_LETTERED,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SERVICE_NAME,
  ATTR_SPAN_TYPE,
  LifecycleEvent,
  RunOutcome,
  SpanType,
  StatusCode,
} from '../contracts/index.js';
import type { AttributeValue, SpanRecord } from '../contracts/index.js';

/**
 * One stored span: the OTLP span plus the job columns extracted from its
 * attributes at ingest, so that queries never parse JSON on the hot path.
 * Both stores write exactly these columns.
 */
export interface SpanRow {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  statusCode: number;
  statusMessage: string;
  serviceName: string;
  /** Job name, `''` when the span is not part of a job run. */
  job: string;
  runId: string;
  /** `run`, `attempt`, or `''` for any other span. */
  spanType: string;
  /** Attempt number on attempt spans, else 0. */
  attempt: number;
  /** Run outcome on run spans, attempt outcome on attempt spans, else `''`. */
  outcome: string;
  /** Attempts the run made as the run span says, else 0. */
  runAttempts: number;
  errorType: string;
  exitCode: number | null;
  cost: number | null;
  cpuSeconds: number | null;
  maxRssBytes: number | null;
  /** When the run was queued, Unix ns, or null. */
  queuedNs: bigint | null;
  deadLettered: boolean;
  /** Span attributes as JSON text. */
  attributes: string;
  resourceAttributes: string;
  /** Span events as JSON text: `[{"name","time_unix_nano","attributes"}]`. */
  events: string;
}

function pick(span: SpanRecord, key: string): AttributeValue | undefined {
  const v = span.attributes[key];
  return v !== undefined ? v : span.resourceAttributes[key];
}

function str(v: AttributeValue | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function num(v: AttributeValue | undefined): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function nanos(v: AttributeValue | undefined): bigint | null {
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  return null;
}

const OUTCOMES = new Set<string>(Object.values(RunOutcome));

/**
 * Extracts the job columns of a span. Job name: `jobslo.job.name`, else
 * `cicd.pipeline.name`, else `k8s.job.name` (span attributes first, then
 * resource). Run id: `jobslo.run.id`, else `cicd.pipeline.run.id`. A span
 * without `jobslo.span.type` that has both is a run span when it is a root
 * span and an attempt span when it carries `jobslo.attempt.number`.
 * A run span without `jobslo.run.outcome` takes its outcome from the span
 * status: error means `failed`, anything else `succeeded`.
 */
export function toSpanRow(span: SpanRecord): SpanRow {
  const job = str(pick(span, ATTR_JOB_NAME) ?? pick(span, ATTR_CICD_PIPELINE_NAME) ?? pick(span, ATTR_K8S_JOB_NAME));
  const runId = str(pick(span, ATTR_RUN_ID) ?? pick(span, ATTR_CICD_PIPELINE_RUN_ID));
  const attempt = num(span.attributes[ATTR_ATTEMPT_NUMBER]) ?? 0;
  let spanType = str(span.attributes[ATTR_SPAN_TYPE]);
  if (spanType !== SpanType.Run && spanType !== SpanType.Attempt) {
    spanType = '';
    if (job !== '' && runId !== '') {
      if (attempt > 0) spanType = SpanType.Attempt;
      else if (span.parentSpanId === '') spanType = SpanType.Run;
    }
  }
  if (job === '' || runId === '') spanType = '';
  let outcome = '';
  if (spanType === SpanType.Run) {
    outcome = str(span.attributes[ATTR_RUN_OUTCOME]);
    if (!OUTCOMES.has(outcome)) outcome = span.statusCode === StatusCode.Error ? RunOutcome.Failed : RunOutcome.Succeeded;
  } else if (spanType === SpanType.Attempt) {
    outcome = str(span.attributes[ATTR_ATTEMPT_OUTCOME]);
    if (outcome === '') outcome = span.statusCode === StatusCode.Error ? RunOutcome.Failed : RunOutcome.Succeeded;
  }
  let queuedNs = nanos(span.attributes[ATTR_QUEUED_TIME_UNIX_NANO]);
  if (queuedNs === null && spanType === SpanType.Run) {
    const queued = span.events.find((e) => e.name === LifecycleEvent.Queued);
    if (queued) queuedNs = queued.timeUnixNano;
  }
  const exit = num(span.attributes[ATTR_PROCESS_EXIT_CODE]);
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    startNs: span.startTimeUnixNano,
    endNs: span.endTimeUnixNano < span.startTimeUnixNano ? span.startTimeUnixNano : span.endTimeUnixNano,
    statusCode: span.statusCode,
    statusMessage: span.statusMessage,
    serviceName: str(span.resourceAttributes[ATTR_SERVICE_NAME]),
    job,
    runId,
    spanType,
    attempt: spanType === SpanType.Attempt ? Math.trunc(attempt) : 0,
    outcome,
    runAttempts: spanType === SpanType.Run ? Math.trunc(num(span.attributes[ATTR_RUN_ATTEMPTS]) ?? 0) : 0,
    errorType: str(span.attributes[ATTR_ERROR_TYPE]),
    exitCode: exit === null ? null : Math.trunc(exit),
    cost: num(span.attributes[ATTR_COST_AMOUNT]),
    cpuSeconds: num(span.attributes[ATTR_CPU_SECONDS]),
    maxRssBytes: num(span.attributes[ATTR_MAX_RSS_BYTES]),
    queuedNs,
    deadLettered: span.attributes[ATTR_RUN_DEAD_LETTERED] === true,
    attributes: JSON.stringify(span.attributes),
    resourceAttributes: JSON.stringify(span.resourceAttributes),
    events: JSON.stringify(
      span.events.map((e) => ({ name: e.name, time_unix_nano: e.timeUnixNano.toString(), attributes: e.attributes })),
    ),
  };
}
