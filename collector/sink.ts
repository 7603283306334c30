import { StoreError, errorMessage } from '../contracts/index.js';
import type { LifecycleEventRecord, Logger, SpanRecord } from '../contracts/index.js';
import type { Closeable, SpanWriter } from '../store/index.js';

/**
 * Outcome of handing telemetry over, returned as a value because the
 * receiver must branch on it (collector/pipeline.ts maps it to HTTP and gRPC
 * statuses through one table):
 * - `accepted`: everything is stored (or durably handed to the bus);
 * - `partial`: `rejected` items can never be stored (the reason names the
 *   first), everything else is stored; answered as OTLP partial success;
 * - `retryable`: nothing may be stored yet; the client should send the same
 *   request again after `retryAfterMillis` (503 + Retry-After, gRPC UNAVAILABLE + RetryInfo);
 * - `failed`: permanent, the request can never be stored as it is; sending
 *   it again would fail the same way (400, gRPC INVALID_ARGUMENT).
 */
export type SinkResult =
  | { kind: 'accepted' }
  | { kind: 'partial'; rejected: number; reason: string }
  | { kind: 'retryable'; retryAfterMillis: number; reason: string }
  | { kind: 'failed'; reason: string };

/** Where the collector hands received telemetry: a store in-process, or a bus. */
export interface SpanSink {
  /**
   * Hands spans over. `raw` is the request's OTLP protobuf encoding when it
   * arrived as protobuf and every span of it is being handed over (a bus may
   * forward it unchanged); absent when some spans were rejected.
   */
  write(spans: readonly SpanRecord[], raw?: Uint8Array): Promise<SinkResult>;
  /** Hands live lifecycle events over (`POST /v1/lifecycle`). */
  writeLifecycle(events: readonly LifecycleEventRecord[]): Promise<SinkResult>;
  /**
   * Cheap check the pipeline makes before a request's body is read: a
   * `retryable` result refuses the request at once (503 + Retry-After)
   * because the sink is already too far behind to take more.
   */
  backlog?(inFlightBodyBytes: number): SinkResult | undefined;
  close(): Promise<void>;
}

/**
 * Whether a store failure may succeed when tried again: the store is
 * unreachable or its file is locked by another process. Anything else (a
 * value the store refuses, a schema mismatch) fails the same way every time.
 */
export function isRetryableStoreFailure(err: unknown): boolean {
  return err instanceof StoreError && (err.code === 'JOBSLO_ERR_STORE_UNREACHABLE' || err.code === 'JOBSLO_ERR_STORE_LOCKED');
}

/** Options of {@link StoreSink}. */
export interface StoreSinkOptions {
  /**
   * Spans that may be waiting to be written at once; past this, writes are
   * refused as retryable (HTTP 503) instead of queueing without bound.
   * @default 200_000
   */
  maxPendingSpans?: number;
  /**
   * Longest a write may expect to wait for the store: from the store's
   * measured insert rate, a write that would wait longer behind the spans
   * already pending is refused at once as retryable (503 + Retry-After)
   * instead of being answered after the client's own timeout. @default 2_000
   */
  maxQueueWaitMillis?: number;
  /** Retry-After sent when refusing. @default 1_000 */
  retryAfterMillis?: number;
  /**
   * When the store refuses a batch (an error other than unreachable or
   * locked), the sink splits it in halves to find the spans it refuses and
   * stores the others (answered as partial success); this bounds the extra
   * inserts one request may cost. Spans not isolated within it are rejected
   * with the store's reason. When nothing of the request could be stored the
   * store itself is failing, and the answer is retryable. @default 64
   */
  maxIsolationInserts?: number;
  /**
   * Span writes that arrive while the store is busy wait and are then
   * written together, in one store insert (one transaction on DuckDB), up to
   * this many spans; each is answered once that insert is committed. Fewer,
   * larger inserts are several times faster than one per request (each
   * commit has a fixed cost). A request larger than this is inserted alone.
   * @default 8_192
   */
  maxBatchSpans?: number;
  logger?: Logger;
}

/** Insert rate assumed before one is measured, spans per ms: conservative, so a cold start is not flooded. */
const ASSUMED_SPANS_PER_MILLI = 5;

/** Protobuf body bytes per span, roughly (a span with a dozen attributes), to estimate the spans of requests not decoded yet. */
const BYTES_PER_SPAN = 300;

type Outcome = { stored: number; rejected: number; firstReason: string } | { retryable: string };

/** A span write waiting for its turn at the store. */
interface QueuedWrite {
  spans: readonly SpanRecord[];
  done: (outcome: Outcome) => void;
}

/** The embedded path: spans go straight into a store in this process. */
export class StoreSink implements SpanSink {
  private pending = 0;
  private readonly maxPending: number;
  private readonly retryAfterMillis: number;
  private readonly maxIsolationInserts: number;
  private readonly maxQueueWaitMillis: number;
  /** Measured insert rate, spans per ms (moving average); undefined until the first insert. */
  private spansPerMilli: number | undefined;
  private lastInsertEnd = 0;
  private readonly logger: Logger | undefined;
  private readonly maxBatchSpans: number;
  /** Span writes waiting for the store (their spans count in {@link pending}, which bounds them). */
  private readonly queued: QueuedWrite[] = [];
  private draining = false;

  constructor(
    private readonly store: SpanWriter & Closeable,
    options: StoreSinkOptions = {},
  ) {
    this.maxPending = options.maxPendingSpans ?? 200_000;
    this.retryAfterMillis = options.retryAfterMillis ?? 1_000;
    this.maxIsolationInserts = options.maxIsolationInserts ?? 64;
    this.maxQueueWaitMillis = options.maxQueueWaitMillis ?? 2_000;
    this.maxBatchSpans = options.maxBatchSpans ?? 8_192;
    this.logger = options.logger;
  }

  async write(spans: readonly SpanRecord[]): Promise<SinkResult> {
    if (this.pending > 0 && this.pending + spans.length > this.maxPending) {
      return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `store write queue full (${this.pending} spans pending)` };
    }
    const busy = this.pending > 0 ? this.backlog() : undefined;
    if (busy !== undefined) return busy;
    this.pending += spans.length;
    try {
      const outcome = await new Promise<Outcome>((done) => {
        this.queued.push({ spans, done });
        this.drain();
      });
      return this.result(outcome, spans.length, 'spans');
    } finally {
      this.pending -= spans.length;
    }
  }

  /** Starts writing the queued span writes unless that is already going on (one store insert at a time). */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    void this.drainQueued().finally(() => {
      this.draining = false;
    });
  }

  /**
   * Writes the queued span writes, several at a time (up to
   * `maxBatchSpans`) in one store insert; answers each once its insert is
   * committed. When such a shared insert fails for good, each write of it is
   * tried again alone, so one request's unstorable span never costs another
   * request anything. Never rejects: every write is answered.
   */
  private async drainQueued(): Promise<void> {
    while (this.queued.length > 0) {
      const group: QueuedWrite[] = [this.queued.shift() as QueuedWrite];
      let total = group[0]?.spans.length ?? 0;
      while (this.queued.length > 0 && total + (this.queued[0] as QueuedWrite).spans.length <= this.maxBatchSpans) {
        const next = this.queued.shift() as QueuedWrite;
        total += next.spans.length;
        group.push(next);
      }
      try {
        if (group.length === 1) {
          const only = group[0] as QueuedWrite;
          only.done(await this.insert(only.spans, (batch) => this.insertSpans(batch)));
          continue;
        }
        const all: SpanRecord[] = [];
        for (const w of group) for (const span of w.spans) all.push(span);
        let shared: Outcome;
        try {
          await this.insertSpans(all);
          shared = { stored: all.length, rejected: 0, firstReason: '' };
        } catch (err) {
          if (!isRetryableStoreFailure(err)) {
            // Permanent: find whose spans the store refuses, one write at a time.
            for (const w of group) w.done(await this.insert(w.spans, (batch) => this.insertSpans(batch)));
            continue;
          }
          this.logger?.error('store write failed', { store: this.store.kind, items: all.length, error: errorMessage(err) });
          shared = { retryable: describe(err) };
        }
        for (const w of group) w.done('retryable' in shared ? shared : { stored: w.spans.length, rejected: 0, firstReason: '' });
      } catch (err) {
        // Not expected (insert() catches store errors): answer instead of leaving the writes hanging.
        for (const w of group) w.done({ retryable: describe(err) });
      }
    }
  }

  private async insertSpans(batch: readonly SpanRecord[]): Promise<void> {
    const t = performance.now();
    await this.store.insertSpans(batch);
    this.observeRate(batch.length, t);
  }

  /**
   * Retryable when the spans already pending, plus those the requests in
   * flight (`inFlightBodyBytes`) will bring, would take the store longer than
   * `maxQueueWaitMillis` at the measured insert rate (5,000 spans/s until
   * one is measured).
   */
  backlog(inFlightBodyBytes = 0): SinkResult | undefined {
    // Requests still being read or decoded will add about one span per BYTES_PER_SPAN body bytes.
    const coming = this.pending + inFlightBodyBytes / BYTES_PER_SPAN;
    if (coming === 0) return undefined;
    const expectedWait = coming / (this.spansPerMilli ?? ASSUMED_SPANS_PER_MILLI);
    if (expectedWait <= this.maxQueueWaitMillis) return undefined;
    return {
      kind: 'retryable',
      retryAfterMillis: Math.max(this.retryAfterMillis, Math.min(30_000, Math.round(expectedWait))),
      reason: `store busy (about ${Math.round(coming)} spans pending or arriving, about ${Math.round(expectedWait)} ms of work)`,
    };
  }

  /**
   * Updates the insert rate from one insert that started at `startedAt` and
   * just finished. Inserts may queue inside the store, so an insert's wall
   * time includes waiting for earlier ones; only the time since the later of
   * its start and the previous insert's end counts as its own.
   */
  private observeRate(spans: number, startedAt: number): void {
    const now = performance.now();
    const own = now - Math.max(startedAt, this.lastInsertEnd);
    this.lastInsertEnd = now;
    if (spans < 100) return;
    const rate = spans / Math.max(1, own);
    this.spansPerMilli = this.spansPerMilli === undefined ? rate : 0.8 * this.spansPerMilli + 0.2 * rate;
  }

  async writeLifecycle(events: readonly LifecycleEventRecord[]): Promise<SinkResult> {
    return this.result(await this.insert(events, (batch) => this.store.insertLifecycleEvents(batch)), events.length, 'lifecycle events');
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  private result(o: Outcome, total: number, what: string): SinkResult {
    if ('retryable' in o) return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `store write failed: ${o.retryable}` };
    if (o.rejected === 0) return { kind: 'accepted' };
    if (o.stored === 0) {
      // Nothing at all could be stored: the store itself is failing (closed, schema missing, disk full)
      // far more likely than every item being bad (values are validated before they get here).
      this.logger?.error('store write failed', { store: this.store.kind, what, items: total, error: o.firstReason });
      return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `store write failed: ${o.firstReason}` };
    }
    this.logger?.warn('store refused some items for good; stored the others', { store: this.store.kind, what, rejected: o.rejected, stored: o.stored, error: o.firstReason });
    return { kind: 'partial', rejected: o.rejected, reason: `the store refuses ${o.rejected} of ${total} ${what}: ${o.firstReason}` };
  }

  /**
   * Inserts `items`; on a permanent failure splits them in halves (the stores
   * treat a repeated span or event as one, so re-inserting a half that was
   * partly written is harmless) until the refused items are isolated or the
   * insert budget is spent.
   */
  private async insert<T>(items: readonly T[], insert: (batch: readonly T[]) => Promise<void>): Promise<Outcome> {
    let budget = this.maxIsolationInserts;
    let firstReason = '';
    let rejected = 0;
    let stored = 0;
    const attempt = async (batch: readonly T[]): Promise<{ ok: true } | { ok: false; retryable: boolean; reason: string }> => {
      try {
        await insert(batch);
        stored += batch.length;
        return { ok: true };
      } catch (err) {
        const retryable = isRetryableStoreFailure(err);
        if (retryable) this.logger?.error('store write failed', { store: this.store.kind, items: batch.length, error: errorMessage(err) });
        return { ok: false, retryable, reason: describe(err) };
      }
    };
    const work: (readonly T[])[] = [items];
    while (work.length > 0) {
      const batch = work.pop() as readonly T[];
      const r = await attempt(batch);
      if (r.ok) continue;
      if (r.retryable) return { retryable: r.reason };
      if (firstReason === '') firstReason = r.reason;
      if (batch.length === 1 || budget < 2) {
        rejected += batch.length;
        continue;
      }
      budget -= 2;
      const half = Math.ceil(batch.length / 2);
      work.push(batch.slice(half), batch.slice(0, half));
    }
    return { stored, rejected, firstReason };
  }
}

/** The error and its causes in one line (the store's own reason is usually in the cause). */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    parts.push(errorMessage(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ').slice(0, 500);
}
