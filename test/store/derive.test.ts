/** The span-to-run derivation, one profile at a time: pure functions, no store. */
import { describe, expect, it } from 'vitest';
import { CICD_RESULT_OUTCOMES, PROFILE_ORDER, checkSpan, deriveSpan, derivationWarnings, dimensionsOf } from '../../store/derive/index.js';
import type { JobRow } from '../../store/derive/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { runSpans } from '../support/spans.js';
import { BULLMQ_FIXTURE, CELERY_FIXTURE, bullmqAdd, bullmqProcess, celeryPublish, celeryRun, recordedSpans, span } from '../support/native-spans.js';

const T0 = Date.UTC(2026, 10, 1, 12);

type Want = Partial<Pick<JobRow, 'profile' | 'job' | 'runId' | 'role' | 'attempt' | 'outcome' | 'terminal' | 'runAttempts' | 'errorType' | 'exitCode' | 'message'>> & { queued?: boolean };

function only(s: SpanRecord): JobRow {
  const { rows } = deriveSpan(s);
  expect(rows).toHaveLength(1);
  return rows[0] as JobRow;
}

function check(s: SpanRecord, want: Want | null, warning?: RegExp): void {
  const d = deriveSpan(s);
  if (want === null) expect(d.rows).toEqual([]);
  else {
    const { queued, ...fields } = want;
    const row = only(s);
    expect(row).toMatchObject(fields);
    if (queued !== undefined) expect(row.queuedNs !== null).toBe(queued);
  }
  if (warning) expect(d.warning).toMatch(warning);
  else expect(d.warning).toBeUndefined();
  // A warning always names the missing attribute, and the row-less check agrees with the derivation.
  expect(d.missing !== undefined).toBe(d.warning !== undefined);
  const c = checkSpan(s);
  expect([c.profile, c.warning, c.missing]).toEqual([d.profile, d.warning, d.missing]);
}

describe('profile jobslo', () => {
  const [runSpan, attempt] = runSpans({
    job: 'etl',
    startMillis: T0,
    outcome: 'failed',
    attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'failed', exitCode: 3 }],
  }) as [SpanRecord, SpanRecord];
  const cases: [string, SpanRecord, Want | null, RegExp?][] = [
    ['a run span is a terminal run row with its attempt count', runSpan, { profile: 'jobslo', job: 'etl', role: 'run', terminal: true, outcome: 'failed', runAttempts: 1 }],
    ['an attempt span is a non-terminal attempt row with its number and exit code', attempt, { role: 'attempt', attempt: 1, terminal: false, outcome: 'failed', exitCode: 3, errorType: '3' }],
    [
      'a run span without jobslo.run.attempts is also its own attempt (single-span run)',
      span({ startMillis: T0, durationMillis: 5, attributes: { 'jobslo.job.name': 'j', 'jobslo.run.id': 'r', 'jobslo.span.type': 'run' } }),
      { role: 'run_attempt', outcome: 'succeeded', terminal: true },
    ],
    [
      'a root span with job and run id but no span type is a run; its ERROR status makes it failed',
      span({ startMillis: T0, statusCode: 2, attributes: { 'jobslo.job.name': 'j', 'jobslo.run.id': 'r' } }),
      { role: 'run_attempt', outcome: 'failed' },
    ],
    [
      'a child span with jobslo.attempt.number is an attempt',
      span({ startMillis: T0, parentSpanId: 'ab'.repeat(8), attributes: { 'jobslo.job.name': 'j', 'jobslo.run.id': 'r', 'jobslo.attempt.number': 2 } }),
      { role: 'attempt', attempt: 2 },
    ],
    ['any other child span of a job gives nothing', span({ startMillis: T0, parentSpanId: 'ab'.repeat(8), attributes: { 'jobslo.job.name': 'j', 'jobslo.run.id': 'r' } }), null],
    ['cicd.pipeline.run.id and k8s.job.uid are run ids after jobslo.run.id', span({ startMillis: T0, attributes: { 'jobslo.job.name': 'j', 'jobslo.span.type': 'run' }, resource: { 'k8s.job.uid': 'uid-1' } }), { runId: 'uid-1' }],
    ['a run span without a run id is not a run, and says so', span({ startMillis: T0, attributes: { 'jobslo.job.name': 'j', 'jobslo.span.type': 'run' } }), null, /no jobslo\.run\.id/],
    [
      'jobslo.run.queued_time_unix_nano, else the job.queued event, is the queued time',
      span({ startMillis: T0, attributes: { 'jobslo.job.name': 'j', 'jobslo.run.id': 'r', 'jobslo.span.type': 'run' }, events: [{ name: 'job.queued', atMillis: T0 - 5 }] }),
      { queued: true },
    ],
  ];
  for (const [name, s, want, warning] of cases) it(name, () => check(s, want, warning));
});

describe('profile cicd', () => {
  const pipeline = (result: string | undefined, extra = {}): SpanRecord =>
    span({ startMillis: T0, durationMillis: 60_000, attributes: { 'cicd.pipeline.name': 'build', 'cicd.pipeline.run.id': '42', ...(result ? { 'cicd.pipeline.result': result } : {}), ...extra } });
  for (const [result, outcome] of Object.entries(CICD_RESULT_OUTCOMES)) {
    it(`maps cicd.pipeline.result ${result} to ${outcome}`, () => check(pipeline(result), { profile: 'cicd', job: 'build', runId: '42', role: 'run_attempt', outcome, terminal: true }));
  }
  it('takes the span status when there is no result', () => check(span({ ...{ startMillis: T0 }, statusCode: 2, attributes: { 'cicd.pipeline.name': 'b', 'cicd.pipeline.run.id': '1' } }), { outcome: 'failed' }));
  it('files a timed-out pipeline without error.type under timeout', () => {
    expect(only(pipeline('timeout')).errorType).toBe('timeout');
  });
  it('makes a task run its own job <pipeline>/<task>', () =>
    check(
      span({ startMillis: T0, parentSpanId: 'ab'.repeat(8), attributes: { 'cicd.pipeline.name': 'build', 'cicd.pipeline.run.id': '42', 'cicd.pipeline.task.name': 'test', 'cicd.pipeline.task.run.id': '42-3', 'cicd.pipeline.task.run.result': 'failure' } }),
      { job: 'build/test', runId: '42-3', outcome: 'failed', role: 'run_attempt' },
    ));
  it('qualifies a task without its own run id by the pipeline run id', () =>
    check(span({ startMillis: T0, parentSpanId: 'ab'.repeat(8), attributes: { 'cicd.pipeline.name': 'build', 'cicd.pipeline.run.id': '42', 'cicd.pipeline.task.name': 'lint' } }), { job: 'build/lint', runId: '42/lint' }));
  it('gives nothing for a step span that only carries the pipeline attributes', () =>
    check(span({ startMillis: T0, parentSpanId: 'ab'.repeat(8), attributes: { 'cicd.pipeline.name': 'build', 'cicd.pipeline.run.id': '42' } }), null));
  it('warns about a pipeline span without a run id', () => check(span({ startMillis: T0, attributes: { 'cicd.pipeline.name': 'build' } }), null, /cicd\.pipeline\.run\.id/));
});

describe('profile celery', () => {
  const cases: [string, SpanRecord, Want | null, RegExp?][] = [
    ['a SUCCESS execution ends the run', celeryRun('tasks.add', 't1', { startMillis: T0, durationMillis: 5, state: 'SUCCESS' }), { profile: 'celery', job: 'tasks.add', runId: 't1', role: 'attempt', attempt: 1, outcome: 'succeeded', terminal: true }],
    ['a RETRY execution (status UNSET) is a failed attempt that does not end the run', celeryRun('tasks.add', 't1', { startMillis: T0, durationMillis: 5, state: 'RETRY', retries: 1 }), { attempt: 2, outcome: 'failed', terminal: false }],
    ['a FAILURE execution ends the run, filed under its exception type', celeryRun('tasks.add', 't1', { startMillis: T0, durationMillis: 5, state: 'FAILURE', exceptionType: 'ValueError' }), { outcome: 'failed', terminal: true, errorType: 'ValueError', message: 'boom' }],
    ['a time limit makes the execution timed_out', celeryRun('tasks.add', 't1', { startMillis: T0, durationMillis: 5, state: 'FAILURE', exceptionType: 'TimeLimitExceeded' }), { outcome: 'timed_out', errorType: 'TimeLimitExceeded' }],
    ['the PRODUCER apply_async span is never a run: it gives the queued time', celeryPublish('tasks.add', 't1', T0), { role: 'enqueue', terminal: false, outcome: '', queued: true }],
    ['an execution without a task id is not a run, and says so', span({ name: 'run/x', kind: 5, startMillis: T0, attributes: { 'celery.action': 'run', 'celery.task_name': 'x' } }), null, /messaging\.message\.id/],
  ];
  for (const [name, s, want, warning] of cases) it(name, () => check(s, want, warning));
});

describe('profile bullmq', () => {
  const [completed, completeChild] = bullmqProcess('emails', 'welcome', '7', { startMillis: T0, durationMillis: 5, attemptsMade: 1, result: 'completed' }) as [SpanRecord, SpanRecord];
  const [retried, delayChild] = bullmqProcess('emails', 'welcome', '7', { startMillis: T0, durationMillis: 5, attemptsMade: 2, result: 'retried' }) as [SpanRecord, SpanRecord];
  const [lastFailed, failChild] = bullmqProcess('emails', 'welcome', '7', { startMillis: T0, durationMillis: 5, attemptsMade: 3, result: 'failed' }) as [SpanRecord, SpanRecord];
  const [stalled] = bullmqProcess('emails', 'welcome', '7', { startMillis: T0, durationMillis: 5, attemptsMade: 1, result: 'none' }) as [SpanRecord];
  const cases: [string, SpanRecord, Want | null][] = [
    ['a completed process span ends the run; the run id is queue-qualified', completed, { profile: 'bullmq', job: 'emails/welcome', runId: 'emails/7', role: 'attempt', attempt: 1, outcome: 'succeeded', terminal: true }],
    ['a failed process span (status UNSET) is a failed attempt that does not end the run: BullMQ may retry it', retried, { attempt: 2, outcome: 'failed', terminal: false }],
    ['the last failed attempt does not end the run either', lastFailed, { attempt: 3, terminal: false }],
    ['the fail child (no attempts left) ends the run as failed', failChild, { role: 'run', outcome: 'failed', terminal: true, runId: 'emails/7', job: 'emails/welcome' }],
    ['the delay child adds nothing', delayChild, null],
    ['the complete child adds nothing', completeChild, null],
    ['a process span without an outcome event (stalled) does not end the run', stalled, { outcome: 'failed', terminal: false }],
    ['the PRODUCER add span is never a run: it gives the queued time', bullmqAdd('emails', 'welcome', '7', T0), { role: 'enqueue', job: 'emails/welcome', runId: 'emails/7', queued: true }],
    ['worker housekeeping spans give nothing', span({ name: 'moveStalledJobsToWait q', startMillis: T0, attributes: { 'bullmq.queue.name': 'q', 'bullmq.queue.operation': 'moveStalledJobsToWait' } }), null],
  ];
  for (const [name, s, want] of cases) it(name, () => check(s, want));
});

describe('recorded spans of real frameworks', () => {
  const summarize = (spans: SpanRecord[]): Record<string, string> => {
    const byRun = new Map<string, JobRow[]>();
    for (const s of spans) for (const r of deriveSpan(s).rows) byRun.set(`${r.job} ${r.runId}`, [...(byRun.get(`${r.job} ${r.runId}`) ?? []), r]);
    const out: Record<string, string[]> = {};
    for (const rows of byRun.values()) {
      const job = (rows[0] as JobRow).job.replace(/^bullmq-spans-[0-9a-f-]+\//, '<queue>/');
      const attempts = rows.filter((r) => r.role === 'attempt').length;
      const final = rows.filter((r) => r.terminal).map((r) => r.outcome).join('+') || 'unfinished';
      const queued = rows.some((r) => r.role === 'enqueue') ? 'queued' : 'not queued';
      (out[job] ??= []).push(`${final} after ${attempts} (${queued})`);
    }
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...new Set(v)].join(', ') + ` x${v.length}`]));
  };

  it('Celery: 5 ok, 3 flaky retried once, 2 doomed after 3 attempts; every run has its enqueue', () => {
    const spans = recordedSpans(CELERY_FIXTURE);
    expect(spans.every((s) => deriveSpan(s).warning === undefined)).toBe(true);
    expect(summarize(spans)).toEqual({
      'native.ok': 'succeeded after 1 (queued) x5',
      'native.flaky': 'succeeded after 2 (queued) x3',
      'native.doomed': 'failed after 3 (queued) x2',
    });
  });

  it('BullMQ: the same mix; housekeeping spans give nothing', () => {
    const spans = recordedSpans(BULLMQ_FIXTURE);
    expect(spans.every((s) => deriveSpan(s).warning === undefined)).toBe(true);
    expect(summarize(spans)).toEqual({
      '<queue>/ok': 'succeeded after 1 (queued) x5',
      '<queue>/flaky': 'succeeded after 2 (queued) x3',
      '<queue>/doomed': 'failed after 3 (queued) x2',
    });
  });
});

describe('profile messaging', () => {
  const consumer = (attrs: Record<string, string>, statusCode = 0): SpanRecord => span({ kind: 5, startMillis: T0, durationMillis: 3, statusCode, attributes: attrs });
  const cases: [string, SpanRecord, Want | null, RegExp?][] = [
    ['a process span is an attempt of run messaging.message.id of job messaging.destination.name', consumer({ 'messaging.operation.type': 'process', 'messaging.destination.name': 'orders', 'messaging.message.id': 'm1' }, 2), { profile: 'messaging', job: 'orders', runId: 'm1', role: 'attempt', outcome: 'failed', terminal: true }],
    ['the old messaging.operation and messaging.destination names work too', consumer({ 'messaging.operation': 'process', 'messaging.destination': 'orders', 'messaging.message.id': 'm1' }), { job: 'orders', outcome: 'succeeded' }],
    ['a publish span gives the queued time', consumer({ 'messaging.operation.type': 'send', 'messaging.destination.name': 'orders', 'messaging.message.id': 'm1' }), { role: 'enqueue', queued: true }],
    ['a receive span gives nothing', consumer({ 'messaging.operation.type': 'receive', 'messaging.destination.name': 'orders', 'messaging.message.id': 'm1' }), null],
    ['a process span without a message id says so', consumer({ 'messaging.operation.type': 'process', 'messaging.destination.name': 'orders' }), null, /messaging\.message\.id/],
  ];
  for (const [name, s, want, warning] of cases) it(name, () => check(s, want, warning));
});

describe('profile k8s', () => {
  const root = (resource: Record<string, string>, statusCode = 0): SpanRecord => span({ startMillis: T0, durationMillis: 9, statusCode, resource });
  const cases: [string, SpanRecord, Want | null, RegExp?][] = [
    ['a root span of a Job is an attempt of run k8s.job.uid', root({ 'k8s.job.name': 'backup-1', 'k8s.job.uid': 'u1' }, 2), { profile: 'k8s', job: 'backup-1', runId: 'u1', role: 'attempt', outcome: 'failed', terminal: true }],
    ['a CronJob\'s runs are one job, the CronJob', root({ 'k8s.job.name': 'backup-29000', 'k8s.job.uid': 'u2', 'k8s.cronjob.name': 'backup' }), { job: 'backup', runId: 'u2' }],
    ['a Job without k8s.job.uid says so', root({ 'k8s.job.name': 'backup-1' }), null, /k8s\.job\.uid/],
  ];
  for (const [name, s, want, warning] of cases) it(name, () => check(s, want, warning));
  it('gives nothing for child spans of a Job\'s process', () => check(span({ startMillis: T0, parentSpanId: 'ab'.repeat(8), resource: { 'k8s.job.name': 'b', 'k8s.job.uid': 'u' } }), null));
});

describe('precedence between profiles', () => {
  it('tries jobslo, then Celery and BullMQ, then CI/CD, messaging and Kubernetes Jobs', () => {
    expect(PROFILE_ORDER).toEqual(['jobslo', 'celery', 'bullmq', 'cicd', 'messaging', 'k8s']);
  });
  it('takes explicit jobslo attributes over a framework\'s', () => {
    const s = celeryRun('tasks.add', 't1', { startMillis: T0, durationMillis: 5, state: 'SUCCESS' });
    s.attributes['jobslo.job.name'] = 'mine';
    s.attributes['jobslo.run.id'] = 'r1';
    s.attributes['jobslo.span.type'] = 'run';
    check(s, { profile: 'jobslo', job: 'mine' });
  });
  it('takes Celery over the messaging attributes its spans also carry, and over the Kubernetes Job it runs in', () => {
    const s = celeryRun('tasks.add', 't1', { startMillis: T0, durationMillis: 5, state: 'SUCCESS', resource: { 'k8s.job.name': 'worker', 'k8s.job.uid': 'u' } });
    s.attributes['messaging.operation.type'] = 'process';
    check(s, { profile: 'celery', job: 'tasks.add' });
  });
});

describe('dimensions', () => {
  it('keeps resource attributes and non-telemetry span attributes, span over resource, old environment name as the new one', () => {
    const s = span({
      startMillis: T0,
      resource: { 'service.name': 'api', 'deployment.environment': 'prod', team: 'core', big: 'x'.repeat(300) },
      attributes: { team: 'data', 'jobslo.run.id': 'r', 'messaging.message.id': 'm', nested: { a: 1 } },
    });
    const d = dimensionsOf(s);
    const map = Object.fromEntries(d.keys.map((k, i) => [k, d.values[i]]));
    expect(map).toEqual({ 'service.name': 'api', 'deployment.environment': 'prod', 'deployment.environment.name': 'prod', team: 'data', big: 'x'.repeat(256) });
    expect(d.keys).toEqual([...d.keys].sort());
  });
});

describe('derivation warnings', () => {
  it('counts the spans that look like job telemetry but cannot form a run and names the first missing attribute', () => {
    const bad = span({ startMillis: T0, attributes: { 'jobslo.job.name': 'j', 'jobslo.span.type': 'run' } });
    const good = runSpans({ job: 'j', startMillis: T0, outcome: 'succeeded', attempts: [] });
    const k8s = span({ startMillis: T0, resource: { 'k8s.job.name': 'nightly' } });
    expect(derivationWarnings([...good, bad, k8s, bad])).toEqual({
      spans: 3,
      message: expect.stringMatching(/^3 spans stored but not counted as runs \(2 jobslo spans without jobslo\.run\.id, 1 k8s spans without k8s\.job\.uid\); the first: .*jobslo\.run\.id/),
    });
    expect(derivationWarnings([bad]).message).toMatch(/^1 span stored but not counted as runs \(1 jobslo spans without jobslo\.run\.id\)/);
    expect(derivationWarnings(good)).toEqual({ spans: 0, message: '' });
  });

  it('the row-less check agrees with the derivation on the recorded spans of real frameworks', () => {
    for (const s of [...recordedSpans(CELERY_FIXTURE), ...recordedSpans(BULLMQ_FIXTURE)]) {
      const d = deriveSpan(s);
      const c = checkSpan(s);
      expect([c.profile, c.warning, c.missing]).toEqual([d.profile, d.warning, d.missing]);
    }
  });
});
