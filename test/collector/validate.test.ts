import { describe, expect, it } from 'vitest';
import { TelemetryValidator } from '../../collector/index.js';
import { ConfigError, LifecycleEvent } from '../../contracts/index.js';
import type { Attributes, LifecycleEventRecord, SpanRecord } from '../../contracts/index.js';

const NOW = Date.UTC(2026, 10, 15);
const MS = 1_000_000n;
const START = BigInt(Date.UTC(2026, 10, 1)) * MS;
const validator = new TelemetryValidator({ nowMillis: () => NOW });

function span(over: Partial<SpanRecord> = {}, attributes: Attributes = {}): SpanRecord {
  return {
    traceId: '0102030405060708090a0b0c0d0e0f10',
    spanId: 'a1a2a3a4a5a6a7a8',
    parentSpanId: '',
    traceState: '',
    name: 'run',
    kind: 1,
    startTimeUnixNano: START,
    endTimeUnixNano: START + 5_000n * MS,
    statusCode: 0,
    statusMessage: '',
    attributes: { 'jobslo.job.name': 'j', 'jobslo.run.id': 'r', ...attributes },
    events: [],
    resourceAttributes: {},
    scopeName: '',
    scopeVersion: '',
    ...over,
  };
}

describe('TelemetryValidator: spans', () => {
  const rejected: { name: string; span: SpanRecord; reason: RegExp }[] = [
    { name: 'start at 2^63 ns', span: span({ startTimeUnixNano: 1n << 63n, endTimeUnixNano: 1n << 63n }), reason: /^start time too far in the future$/ },
    { name: 'end past 2^64 - 1 ns', span: span({ endTimeUnixNano: (1n << 64n) - 1n }), reason: /^end time too far in the future$/ },
    { name: 'start 0', span: span({ startTimeUnixNano: 0n }), reason: /^start time before 2000-01-01T00:00:00.000Z$/ },
    { name: 'end more than a day ahead of the clock', span: span({ endTimeUnixNano: BigInt(NOW + 86_400_001) * MS }), reason: /^end time too far in the future$/ },
    { name: 'end before start', span: span({ endTimeUnixNano: START - 1n }), reason: /^end time before start time$/ },
    { name: 'attempt number 2^31', span: span({}, { 'jobslo.attempt.number': 2 ** 31 }), reason: /^jobslo\.attempt\.number outside 0\.\.2147483647$/ },
    { name: 'negative attempt number', span: span({}, { 'jobslo.attempt.number': -1 }), reason: /^jobslo\.attempt\.number outside/ },
    { name: 'fractional attempt number', span: span({}, { 'jobslo.attempt.number': 1.5 }), reason: /^jobslo\.attempt\.number is not an integer$/ },
    { name: 'run attempts 2^31 as a string', span: span({}, { 'jobslo.run.attempts': '2147483648' }), reason: /^jobslo\.run\.attempts outside/ },
    { name: 'exit code 1e15', span: span({}, { 'process.exit.code': 1e15 }), reason: /^process\.exit\.code outside -2147483648\.\.2147483647$/ },
    { name: 'exit code "abc"', span: span({}, { 'process.exit.code': 'abc' }), reason: /^process\.exit\.code is not an integer$/ },
    { name: 'negative CPU seconds', span: span({}, { 'jobslo.resource.cpu_seconds': -0.5 }), reason: /^jobslo\.resource\.cpu_seconds is negative$/ },
    { name: 'max RSS 1e308', span: span({}, { 'jobslo.resource.max_rss_bytes': 1e308 }), reason: /^jobslo\.resource\.max_rss_bytes exceeds/ },
    { name: 'NaN cost', span: span({}, { 'jobslo.cost.amount': Number.NaN }), reason: /^jobslo\.cost\.amount is not a finite number$/ },
    { name: 'infinite cost as a string', span: span({}, { 'jobslo.cost.amount': 'Infinity' }), reason: /^jobslo\.cost\.amount is not a finite number$/ },
    { name: 'queued time "1" (57 years of queue delay)', span: span({}, { 'jobslo.run.queued_time_unix_nano': '1' }), reason: /^jobslo\.run\.queued_time_unix_nano before 2000/ },
    { name: 'queued time past int64', span: span({}, { 'jobslo.run.queued_time_unix_nano': '9223372036854775808' }), reason: /^jobslo\.run\.queued_time_unix_nano too far in the future$/ },
    { name: 'queued after the span end', span: span({}, { 'jobslo.run.queued_time_unix_nano': String(START + 6_000n * MS) }), reason: /after the span end$/ },
    {
      name: 'queued 31 days before the start',
      span: span({}, { 'jobslo.run.queued_time_unix_nano': String(START - 31n * 86_400_000n * MS) }),
      reason: /longer before the span start than the accepted queue delay$/,
    },
    { name: 'queued time not an integer', span: span({}, { 'jobslo.run.queued_time_unix_nano': true }), reason: /is not an integer$/ },
    {
      name: 'job.queued event at time 0',
      span: span({ events: [{ name: LifecycleEvent.Queued, timeUnixNano: 0n, attributes: {} }] }),
      reason: /^job\.queued event time before 2000/,
    },
    { name: 'span kind 6', span: span({ kind: 6 }), reason: /^span kind outside 0\.\.5$/ },
    { name: 'status code 3', span: span({ statusCode: 3 }), reason: /^status code outside 0\.\.2$/ },
  ];
  for (const c of rejected) {
    it(`rejects ${c.name}`, () => {
      const problem = validator.spanProblem(c.span);
      expect(problem?.reason).toMatch(c.reason);
      expect(problem?.detail).toMatch(/^span a1a2a3a4a5a6a7a8: /);
    });
  }

  const accepted: { name: string; span: SpanRecord }[] = [
    { name: 'a plain run span', span: span() },
    { name: 'a zero-length span', span: span({ endTimeUnixNano: START }) },
    { name: 'attempt 2147483647, exit code -1, 0 CPU seconds', span: span({}, { 'jobslo.attempt.number': 2147483647, 'process.exit.code': -1, 'jobslo.resource.cpu_seconds': 0 }) },
    { name: 'numeric strings within range', span: span({}, { 'jobslo.run.attempts': '3', 'jobslo.resource.max_rss_bytes': '1048576' }) },
    { name: 'a queued time an hour before the start', span: span({}, { 'jobslo.run.queued_time_unix_nano': String(START - 3_600_000n * MS) }) },
    { name: 'other events at any time', span: span({ events: [{ name: 'exception', timeUnixNano: 0n, attributes: {} }] }) },
    { name: 'null attributes', span: span({}, { 'process.exit.code': null, 'jobslo.cost.amount': null }) },
  ];
  for (const c of accepted) {
    it(`accepts ${c.name}`, () => {
      expect(validator.spanProblem(c.span)).toBeUndefined();
    });
  }

  it('filterSpans keeps the input array when all pass, and tallies the others by reason with the first offender', () => {
    const good = [span(), span({ spanId: 'b1b2b3b4b5b6b7b8' })];
    expect(validator.filterSpans(good).spans).toBe(good);
    const bad1 = span({ spanId: '0000000000000001', endTimeUnixNano: 0n });
    const bad2 = span({ spanId: '0000000000000002', endTimeUnixNano: 1n });
    const bad3 = span({ spanId: '0000000000000003' }, { 'jobslo.attempt.number': 2 ** 40 });
    const { spans, rejected: tally } = validator.filterSpans([bad1, ...good, bad2, bad3]);
    expect(spans).toEqual(good);
    expect(tally.count).toBe(3);
    expect(tally.summary()).toBe(
      '3 spans rejected: end time before 2000-01-01T00:00:00.000Z (2; first: span 0000000000000001: 0), ' +
        'jobslo.attempt.number outside 0..2147483647 (1; first: span 0000000000000003: 1099511627776)',
    );
  });

  it('the accepted range is configurable, and options are checked', () => {
    const old = span({ startTimeUnixNano: 1_000_000_000n * 1_000_000_000n, endTimeUnixNano: 1_000_000_001n * 1_000_000_000n });
    expect(validator.spanProblem(old)).toBeUndefined();
    const strict = new TelemetryValidator({ minTimeUnixMillis: Date.UTC(2020, 0, 1), nowMillis: () => NOW });
    expect(strict.spanProblem(old)?.reason).toBe('start time before 2020-01-01T00:00:00.000Z');
    expect(() => new TelemetryValidator({ maxFutureMillis: -1 })).toThrow(ConfigError);
    expect(() => new TelemetryValidator({ minTimeUnixMillis: Number.NaN })).toThrow(/minTimeUnixMillis/);
  });
});

describe('TelemetryValidator: lifecycle events', () => {
  const event = (over: Partial<LifecycleEventRecord> = {}): LifecycleEventRecord => ({
    eventId: 'e1',
    type: LifecycleEvent.Queued,
    job: 'j',
    runId: 'r',
    timeUnixNano: START,
    attributes: {},
    ...over,
  });

  it('accepts a plausible event and rejects times and attempts outside what the stores hold', () => {
    expect(validator.lifecycleProblem(event())).toBeUndefined();
    expect(validator.lifecycleProblem(event({ timeUnixNano: 1n << 63n }))?.reason).toBe('time_unix_nano too far in the future');
    expect(validator.lifecycleProblem(event({ timeUnixNano: 5n }))?.reason).toMatch(/^time_unix_nano before/);
    expect(validator.lifecycleProblem(event({ attempt: 2 ** 31 }))?.reason).toBe('attempt outside 0..2147483647');
    const { events, rejected } = validator.filterLifecycle([event(), event({ eventId: 'e2', attempt: 2 ** 31 })]);
    expect(events.map((e) => e.eventId)).toEqual(['e1']);
    expect(rejected.summary('event')).toBe('1 event rejected: attempt outside 0..2147483647 (1; first: event e2: 2147483648)');
  });
});
