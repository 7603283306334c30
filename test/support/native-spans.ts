/**
 * Spans shaped like those of runners jobslo has profiles for (Celery, BullMQ,
 * CI/CD, messaging consumers, Kubernetes Jobs), for unit and conformance tests.
 * The shapes follow the spans the real instrumentations emit (see the
 * captured fixtures in test/store/fixtures/).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Attributes, SpanEventRecord, SpanRecord } from '../../contracts/index.js';

export const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const ns = (ms: number): bigint => BigInt(Math.round(ms * 1000)) * 1000n;

export interface SpanOptions {
  name?: string;
  kind?: number;
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  startMillis: number;
  durationMillis?: number;
  statusCode?: number;
  statusMessage?: string;
  attributes?: Attributes;
  resource?: Attributes;
  events?: { name: string; atMillis?: number; attributes?: Attributes }[];
}

/** One span; times in ms. */
export function span(o: SpanOptions): SpanRecord {
  const events: SpanEventRecord[] = (o.events ?? []).map((e) => ({ name: e.name, timeUnixNano: ns(e.atMillis ?? o.startMillis), attributes: e.attributes ?? {} }));
  return {
    traceId: o.traceId ?? hex(16),
    spanId: o.spanId ?? hex(8),
    parentSpanId: o.parentSpanId ?? '',
    traceState: '',
    name: o.name ?? 'span',
    kind: o.kind ?? 1,
    startTimeUnixNano: ns(o.startMillis),
    endTimeUnixNano: ns(o.startMillis + (o.durationMillis ?? 0)),
    statusCode: o.statusCode ?? 0,
    statusMessage: o.statusMessage ?? '',
    attributes: o.attributes ?? {},
    events,
    resourceAttributes: o.resource ?? { 'service.name': 'fixture' },
    scopeName: 'fixture',
    scopeVersion: '',
  };
}

/** A Celery PRODUCER `apply_async/<task>` span (opentelemetry-instrumentation-celery). */
export function celeryPublish(task: string, taskId: string, atMillis: number, extra: Attributes = {}): SpanRecord {
  return span({
    name: `apply_async/${task}`,
    kind: 4,
    startMillis: atMillis,
    durationMillis: 2,
    attributes: { 'celery.action': 'apply_async', 'celery.task_name': task, 'messaging.message.id': taskId, ...extra },
  });
}

/** A Celery CONSUMER `run/<task>` span: one execution ending in `state`. */
export function celeryRun(task: string, taskId: string, o: { startMillis: number; durationMillis: number; state: string; retries?: number; exceptionType?: string; resource?: Attributes }): SpanRecord {
  const failed = o.state === 'FAILURE';
  return span({
    name: `run/${task}`,
    kind: 5,
    startMillis: o.startMillis,
    durationMillis: o.durationMillis,
    statusCode: failed ? 2 : 0,
    ...(o.resource ? { resource: o.resource } : {}),
    attributes: {
      'celery.action': 'run',
      'celery.task_name': task,
      'celery.state': o.state,
      'messaging.message.id': taskId,
      'messaging.destination': 'celery',
      ...(o.retries ? { 'celery.retries': o.retries } : {}),
    },
    events:
      o.exceptionType !== undefined
        ? [{ name: 'exception', atMillis: o.startMillis + o.durationMillis, attributes: { 'exception.type': o.exceptionType, 'exception.message': 'boom' } }]
        : [],
  });
}

/** A BullMQ PRODUCER `add <queue>.<name>` span (bullmq-otel). */
export function bullmqAdd(queue: string, name: string, jobId: string, atMillis: number): SpanRecord {
  return span({
    name: `add ${queue}.${name}`,
    kind: 4,
    startMillis: atMillis,
    durationMillis: 1,
    attributes: { 'bullmq.queue.name': queue, 'bullmq.queue.operation': 'add', 'bullmq.job.id': jobId, 'bullmq.job.name': name },
  });
}

/**
 * A BullMQ CONSUMER `process <queue>` span (attempt `attemptsMade`, 1-based as
 * BullMQ sets it) and its INTERNAL child: `complete`, `delay` (a retry
 * follows) or `fail` (no attempts left). `none` = a stalled attempt.
 */
export function bullmqProcess(
  queue: string,
  name: string,
  jobId: string,
  o: { startMillis: number; durationMillis: number; attemptsMade: number; result: 'completed' | 'retried' | 'failed' | 'none' },
): SpanRecord[] {
  const end = o.startMillis + o.durationMillis;
  const processSpan = span({
    name: `process ${queue}`,
    kind: 5,
    startMillis: o.startMillis,
    durationMillis: o.durationMillis,
    attributes: { 'bullmq.queue.name': queue, 'bullmq.queue.operation': 'process', 'bullmq.job.id': jobId, 'bullmq.job.name': name, 'bullmq.job.attempts.made': o.attemptsMade },
    events: o.result === 'completed' ? [{ name: 'job completed', atMillis: end }] : o.result === 'none' ? [] : [{ name: 'job failed', atMillis: end, attributes: { 'bullmq.job.failed.reason': 'boom' } }],
  });
  if (o.result === 'none') return [processSpan];
  const op = o.result === 'completed' ? 'complete' : o.result === 'retried' ? 'delay' : 'fail';
  const child = span({
    name: `${op} ${queue}`,
    traceId: processSpan.traceId,
    parentSpanId: processSpan.spanId,
    startMillis: end - 1,
    durationMillis: 1,
    attributes: { 'bullmq.queue.name': queue, 'bullmq.queue.operation': op, 'bullmq.job.id': jobId, 'bullmq.job.name': name },
  });
  return [processSpan, child];
}

/** Spans recorded from a real framework (test/native/fixtures/*.json: SpanRecords with times as decimal strings). */
export function recordedSpans(file: URL): SpanRecord[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as (Omit<SpanRecord, 'startTimeUnixNano' | 'endTimeUnixNano' | 'events'> & {
    startTimeUnixNano: string;
    endTimeUnixNano: string;
    events: { name: string; timeUnixNano: string; attributes: Attributes }[];
  })[];
  return raw.map((s) => ({
    ...s,
    startTimeUnixNano: BigInt(s.startTimeUnixNano),
    endTimeUnixNano: BigInt(s.endTimeUnixNano),
    events: s.events.map((e) => ({ ...e, timeUnixNano: BigInt(e.timeUnixNano) })),
  }));
}

/** Real Celery 5.7 + opentelemetry-instrumentation-celery spans: 5 ok, 3 flaky (retried once), 2 doomed (3 attempts) tasks. */
export const CELERY_FIXTURE = new URL('../native/fixtures/celery-spans.json', import.meta.url);
/** Real BullMQ 6.7 + bullmq-otel spans of the same mix. */
export const BULLMQ_FIXTURE = new URL('../native/fixtures/bullmq-spans.json', import.meta.url);
