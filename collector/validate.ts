/**
 * Per-span and per-lifecycle-event validation: every value the stores read
 * from a span is checked against what both stores can hold
 * (contracts/limits.ts) and against what is plausible, so that one bad span
 * is rejected with its reason (OTLP partial success) while the rest of its
 * batch is stored. Nothing is clamped: a value is either stored as sent or
 * the span is rejected. The collector (HTTP and gRPC) and the Kafka ingest
 * apply the same rules.
 */
import {
  ATTR_ATTEMPT_NUMBER,
  ATTR_COST_AMOUNT,
  ATTR_CPU_SECONDS,
  ATTR_MAX_RSS_BYTES,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_RETRY_DELAY_MILLIS,
  ATTR_RUN_ATTEMPTS,
  ATTR_SCHEDULED_TIME_UNIX_NANO,
  ConfigError,
  LifecycleEvent,
} from '../contracts/index.js';
import type { AttributeValue, LifecycleEventRecord, SpanRecord } from '../contracts/index.js';
import {
  DEFAULT_MAX_FUTURE_MILLIS,
  DEFAULT_MAX_QUEUE_DELAY_MILLIS,
  DEFAULT_MIN_TIME_UNIX_MILLIS,
  INT32_MAX,
  INT32_MIN,
  MAX_RESOURCE_VALUE,
  SPAN_KIND_MAX,
  STATUS_CODE_MAX,
  STORABLE_MAX_TIME_UNIX_MILLIS,
} from '../contracts/limits.js';

/** Options of {@link TelemetryValidator}. */
export interface ValidationOptions {
  /**
   * Earliest accepted time (span start and end, queued events, queued and
   * scheduled times, lifecycle event times), Unix ms.
   * @default 946_684_800_000 (2000-01-01T00:00:00Z)
   */
  minTimeUnixMillis?: number;
  /**
   * How far ahead of the receiver's clock a time may be, ms. The latest
   * accepted time is also capped at 2105-12-31, the last day every store holds.
   * @default 86_400_000 (1 day)
   */
  maxFutureMillis?: number;
  /**
   * Longest accepted queue delay: a run's queued time may be at most this
   * long before its span's start (and never after its end), ms.
   * @default 2_592_000_000 (30 days)
   */
  maxQueueDelayMillis?: number;
  /** The receiver's clock, Unix ms. @default Date.now */
  nowMillis?: () => number;
}

/** Why one span or event was rejected: a stable reason (for counting) and a detail naming the offender. */
export interface Rejection {
  /** e.g. `jobslo.attempt.number outside 0..2147483647`; the same for every span rejected for this rule. */
  reason: string;
  /** e.g. `span 00f067aa0ba902b7: 2147483648`. */
  detail: string;
}

/** Rejections of one request, counted by reason; renders the OTLP partial-success `error_message`. */
export class RejectionTally {
  count = 0;
  private readonly byReason = new Map<string, { n: number; first: string }>();

  add(r: Rejection): void {
    this.count++;
    const seen = this.byReason.get(r.reason);
    if (seen) seen.n++;
    else this.byReason.set(r.reason, { n: 1, first: r.detail });
  }

  /**
   * One line naming the first reasons (at most `maxReasons`) with their counts
   * and the first offender of each, e.g. `2 spans rejected: end time before
   * start time (2; first: span 00f067aa0ba902b7: ...)`; `''` when none.
   */
  summary(noun = 'span', maxReasons = 5): string {
    if (this.count === 0) return '';
    const parts: string[] = [];
    for (const [reason, { n, first }] of this.byReason) {
      if (parts.length === maxReasons) {
        parts.push(`and ${this.byReason.size - maxReasons} more reasons`);
        break;
      }
      parts.push(`${reason} (${n}; first: ${first})`);
    }
    return `${this.count} ${this.count === 1 ? noun : `${noun}s`} rejected: ${parts.join(', ')}`;
  }
}

const NANOS_PER_MILLI = 1_000_000n;
const INTEGER_TEXT = /^-?\d{1,20}$/;

type Num = { ok: true; value: number } | { ok: false };
type Big = { ok: true; value: bigint } | { ok: false };

/** A number or numeric string as a finite double (how the stores read these attributes). */
function asNumber(v: AttributeValue): Num {
  if (typeof v === 'number') return Number.isFinite(v) ? { ok: true, value: v } : { ok: false };
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? { ok: true, value: n } : { ok: false };
  }
  return { ok: false };
}

/** An integer number or decimal integer string, exactly. */
function asInteger(v: AttributeValue): Big {
  if (typeof v === 'number') return Number.isInteger(v) ? { ok: true, value: BigInt(v) } : { ok: false };
  if (typeof v === 'string' && INTEGER_TEXT.test(v)) return { ok: true, value: BigInt(v) };
  return { ok: false };
}

/**
 * Checks spans and lifecycle events against the store limits and the
 * plausible ranges of {@link ValidationOptions}. Pure apart from the clock.
 */
export class TelemetryValidator {
  private readonly minNs: bigint;
  private readonly maxFutureNs: bigint;
  private readonly storableMaxNs: bigint;
  private readonly maxQueueDelayNs: bigint;
  private readonly now: () => number;
  /** Human form of the accepted range, for reasons. */
  private readonly minText: string;

  /** @throws {ConfigError} when an option is not a non-negative finite number. */
  constructor(options: ValidationOptions = {}) {
    const min = options.minTimeUnixMillis ?? DEFAULT_MIN_TIME_UNIX_MILLIS;
    const future = options.maxFutureMillis ?? DEFAULT_MAX_FUTURE_MILLIS;
    const queue = options.maxQueueDelayMillis ?? DEFAULT_MAX_QUEUE_DELAY_MILLIS;
    for (const [name, v] of [['minTimeUnixMillis', min], ['maxFutureMillis', future], ['maxQueueDelayMillis', queue]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new ConfigError(name, `must be a non-negative integer number of milliseconds, got ${v}`);
    }
    if (min >= STORABLE_MAX_TIME_UNIX_MILLIS) throw new ConfigError('minTimeUnixMillis', `must be before ${new Date(STORABLE_MAX_TIME_UNIX_MILLIS).toISOString()}`);
    this.minNs = BigInt(min) * NANOS_PER_MILLI;
    this.maxFutureNs = BigInt(future) * NANOS_PER_MILLI;
    this.storableMaxNs = BigInt(STORABLE_MAX_TIME_UNIX_MILLIS) * NANOS_PER_MILLI;
    this.maxQueueDelayNs = BigInt(queue) * NANOS_PER_MILLI;
    this.now = options.nowMillis ?? Date.now;
    this.minText = new Date(min).toISOString();
  }

  /** Latest accepted time right now, Unix ns. */
  private maxNs(): bigint {
    const ahead = BigInt(Math.trunc(this.now())) * NANOS_PER_MILLI + this.maxFutureNs;
    return ahead < this.storableMaxNs ? ahead : this.storableMaxNs;
  }

  private timeProblem(ns: bigint, maxNs: bigint): string {
    if (ns < this.minNs) return `before ${this.minText}`;
    if (ns > maxNs) return 'too far in the future';
    return '';
  }

  /**
   * Splits spans into those to store and the rejected ones.
   * @returns the spans that pass (the input array itself when all do) and the tally of the others
   */
  filterSpans(spans: readonly SpanRecord[]): { spans: readonly SpanRecord[]; rejected: RejectionTally } {
    const rejected = new RejectionTally();
    const maxNs = this.maxNs();
    let kept: SpanRecord[] | undefined;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i] as SpanRecord;
      const problem = this.spanProblem(span, maxNs);
      if (problem === undefined) {
        kept?.push(span);
        continue;
      }
      kept ??= spans.slice(0, i);
      rejected.add(problem);
    }
    return { spans: kept ?? spans, rejected };
  }

  /** Why `span` cannot be stored, or undefined when it can. */
  spanProblem(span: SpanRecord, maxNs = this.maxNs()): Rejection | undefined {
    const who = `span ${span.spanId}`;
    const bad = (reason: string, value: unknown): Rejection => ({ reason, detail: `${who}: ${formatValue(value)}` });
    if (!Number.isInteger(span.kind) || span.kind < 0 || span.kind > SPAN_KIND_MAX) return bad(`span kind outside 0..${SPAN_KIND_MAX}`, span.kind);
    if (!Number.isInteger(span.statusCode) || span.statusCode < 0 || span.statusCode > STATUS_CODE_MAX) {
      return bad(`status code outside 0..${STATUS_CODE_MAX}`, span.statusCode);
    }
    let p = this.timeProblem(span.startTimeUnixNano, maxNs);
    if (p !== '') return bad(`start time ${p}`, span.startTimeUnixNano);
    p = this.timeProblem(span.endTimeUnixNano, maxNs);
    if (p !== '') return bad(`end time ${p}`, span.endTimeUnixNano);
    if (span.endTimeUnixNano < span.startTimeUnixNano) return bad('end time before start time', `${span.startTimeUnixNano} > ${span.endTimeUnixNano}`);
    // Of the events only the queued one is read as a time (the queued time of a run); the others are kept as text.
    for (const e of span.events) {
      if (e.name !== LifecycleEvent.Queued) continue;
      p = this.timeProblem(e.timeUnixNano, maxNs);
      if (p === '') p = this.queuedProblem(span, e.timeUnixNano);
      if (p !== '') return bad(`${LifecycleEvent.Queued} event time ${p}`, e.timeUnixNano);
    }
    const a = span.attributes;
    let r = this.integerProblem(a[ATTR_ATTEMPT_NUMBER], 0, INT32_MAX);
    if (r !== '') return bad(`${ATTR_ATTEMPT_NUMBER} ${r}`, a[ATTR_ATTEMPT_NUMBER]);
    r = this.integerProblem(a[ATTR_RUN_ATTEMPTS], 0, INT32_MAX);
    if (r !== '') return bad(`${ATTR_RUN_ATTEMPTS} ${r}`, a[ATTR_RUN_ATTEMPTS]);
    r = this.integerProblem(a[ATTR_PROCESS_EXIT_CODE], INT32_MIN, INT32_MAX);
    if (r !== '') return bad(`${ATTR_PROCESS_EXIT_CODE} ${r}`, a[ATTR_PROCESS_EXIT_CODE]);
    for (const key of [ATTR_COST_AMOUNT, ATTR_CPU_SECONDS, ATTR_MAX_RSS_BYTES, ATTR_RETRY_DELAY_MILLIS]) {
      r = this.amountProblem(a[key]);
      if (r !== '') return bad(`${key} ${r}`, a[key]);
    }
    const queued = a[ATTR_QUEUED_TIME_UNIX_NANO];
    if (queued !== undefined && queued !== null) {
      const q = asInteger(queued);
      if (!q.ok) return bad(`${ATTR_QUEUED_TIME_UNIX_NANO} is not an integer`, queued);
      p = this.timeProblem(q.value, maxNs);
      if (p !== '') return bad(`${ATTR_QUEUED_TIME_UNIX_NANO} ${p}`, queued);
      p = this.queuedProblem(span, q.value);
      if (p !== '') return bad(`${ATTR_QUEUED_TIME_UNIX_NANO} ${p}`, queued);
    }
    const scheduled = a[ATTR_SCHEDULED_TIME_UNIX_NANO];
    if (scheduled !== undefined && scheduled !== null) {
      const s = asInteger(scheduled);
      if (!s.ok) return bad(`${ATTR_SCHEDULED_TIME_UNIX_NANO} is not an integer`, scheduled);
      p = this.timeProblem(s.value, maxNs);
      if (p !== '') return bad(`${ATTR_SCHEDULED_TIME_UNIX_NANO} ${p}`, scheduled);
    }
    return undefined;
  }

  /**
   * Splits lifecycle events into those to store and the rejected ones (time
   * outside the accepted range, attempt number past the `INTEGER` column).
   */
  filterLifecycle(events: readonly LifecycleEventRecord[]): { events: readonly LifecycleEventRecord[]; rejected: RejectionTally } {
    const rejected = new RejectionTally();
    const maxNs = this.maxNs();
    const kept: LifecycleEventRecord[] = [];
    for (const e of events) {
      const problem = this.lifecycleProblem(e, maxNs);
      if (problem === undefined) kept.push(e);
      else rejected.add(problem);
    }
    return { events: kept.length === events.length ? events : kept, rejected };
  }

  /** Why a lifecycle event cannot be stored, or undefined when it can. */
  lifecycleProblem(e: LifecycleEventRecord, maxNs = this.maxNs()): Rejection | undefined {
    const who = `event ${e.eventId}`;
    const p = this.timeProblem(e.timeUnixNano, maxNs);
    if (p !== '') return { reason: `time_unix_nano ${p}`, detail: `${who}: ${e.timeUnixNano}` };
    if (e.attempt !== undefined && (!Number.isInteger(e.attempt) || e.attempt < 0 || e.attempt > INT32_MAX)) {
      return { reason: `attempt outside 0..${INT32_MAX}`, detail: `${who}: ${e.attempt}` };
    }
    return undefined;
  }

  private queuedProblem(span: SpanRecord, queuedNs: bigint): string {
    if (queuedNs > span.endTimeUnixNano) return 'after the span end';
    if (queuedNs < span.startTimeUnixNano - this.maxQueueDelayNs) return 'longer before the span start than the accepted queue delay';
    return '';
  }

  /** '' when `v` is absent or an integer in [min, max]. */
  private integerProblem(v: AttributeValue | undefined, min: number, max: number): string {
    if (v === undefined || v === null) return '';
    const n = asInteger(v);
    if (!n.ok) return 'is not an integer';
    if (n.value < BigInt(min) || n.value > BigInt(max)) return `outside ${min}..${max}`;
    return '';
  }

  /** '' when `v` is absent or a finite number in [0, 2^53). */
  private amountProblem(v: AttributeValue | undefined): string {
    if (v === undefined || v === null) return '';
    const n = asNumber(v);
    if (!n.ok) return 'is not a finite number';
    if (n.value < 0) return 'is negative';
    if (n.value > MAX_RESOURCE_VALUE) return `exceeds ${MAX_RESOURCE_VALUE}`;
    return '';
  }
}

function formatValue(v: unknown): string {
  const text = typeof v === 'number' || typeof v === 'bigint' ? String(v) : (JSON.stringify(v) ?? String(v));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
