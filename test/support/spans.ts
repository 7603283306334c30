import { randomBytes } from 'node:crypto';
import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_ERROR_TYPE,
  ATTR_JOB_NAME,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_DEAD_LETTERED,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SPAN_TYPE,
  StatusCode,
} from '../../contracts/index.js';
import type { Attributes, SpanRecord } from '../../contracts/index.js';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

export interface FixtureAttempt {
  /** Offset of the attempt's start from the run's start, ms. */
  startOffsetMillis: number;
  durationMillis: number;
  outcome: 'succeeded' | 'failed' | 'timed_out';
  exitCode?: number;
}

export interface FixtureRun {
  job: string;
  /** Run start, Unix ms. */
  startMillis: number;
  outcome: 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'skipped';
  attempts: FixtureAttempt[];
  deadLettered?: boolean;
  extraAttributes?: Attributes;
}

const ns = (ms: number): bigint => BigInt(Math.round(ms * 1000)) * 1000n;

/** Builds the spans the executor would emit for one run: the run span first, then its attempts. */
export function runSpans(run: FixtureRun): SpanRecord[] {
  const traceId = hex(16);
  const runSpanId = hex(8);
  const runId = `run-${hex(6)}`;
  const resource: Attributes = { 'service.name': 'fixture' };
  const last = run.attempts[run.attempts.length - 1];
  const endMillis = last ? run.startMillis + last.startOffsetMillis + last.durationMillis : run.startMillis;
  const base = (name: string, spanId: string, parent: string, start: number, end: number, attrs: Attributes, error: boolean): SpanRecord => ({
    traceId,
    spanId,
    parentSpanId: parent,
    traceState: '',
    name,
    kind: 1,
    startTimeUnixNano: ns(start),
    endTimeUnixNano: ns(end),
    statusCode: error ? StatusCode.Error : StatusCode.Unset,
    statusMessage: error ? 'failed' : '',
    attributes: attrs,
    events: [],
    resourceAttributes: resource,
    scopeName: 'fixture',
    scopeVersion: '',
  });
  const spans: SpanRecord[] = [
    base(
      'job.run',
      runSpanId,
      '',
      run.startMillis,
      endMillis,
      {
        [ATTR_JOB_NAME]: run.job,
        [ATTR_RUN_ID]: runId,
        [ATTR_SPAN_TYPE]: 'run',
        [ATTR_RUN_OUTCOME]: run.outcome,
        [ATTR_RUN_ATTEMPTS]: run.attempts.length,
        ...(run.deadLettered ? { [ATTR_RUN_DEAD_LETTERED]: true } : {}),
        ...run.extraAttributes,
      },
      run.outcome !== 'succeeded' && run.outcome !== 'skipped',
    ),
  ];
  run.attempts.forEach((a, i) => {
    const start = run.startMillis + a.startOffsetMillis;
    spans.push(
      base(
        'job.attempt',
        hex(8),
        runSpanId,
        start,
        start + a.durationMillis,
        {
          [ATTR_JOB_NAME]: run.job,
          [ATTR_RUN_ID]: runId,
          [ATTR_SPAN_TYPE]: 'attempt',
          [ATTR_ATTEMPT_NUMBER]: i + 1,
          [ATTR_ATTEMPT_OUTCOME]: a.outcome,
          ...(a.exitCode !== undefined ? { [ATTR_PROCESS_EXIT_CODE]: a.exitCode } : {}),
          ...(a.outcome !== 'succeeded' ? { [ATTR_ERROR_TYPE]: a.outcome === 'timed_out' ? 'timeout' : String(a.exitCode ?? 1) } : {}),
        },
        a.outcome !== 'succeeded',
      ),
    );
  });
  return spans;
}
