import { errorMessage } from '../contracts/index.js';
import type { LifecycleEventRecord, Logger, SpanRecord } from '../contracts/index.js';
import type { Store } from '../store/index.js';

/**
 * Outcome of handing spans over, returned as a value because the HTTP layer
 * must branch on it: 200 only for `accepted`, 503 + Retry-After for
 * `retryable`, 500 for `failed`.
 */
export type SinkResult =
  | { kind: 'accepted' }
  | { kind: 'retryable'; retryAfterMillis: number; reason: string }
  | { kind: 'failed'; reason: string };

/** Where the collector hands received telemetry: a store in-process, or a bus. */
export interface SpanSink {
  /**
   * Hands spans over. `raw` is the request's OTLP protobuf encoding when it
   * arrived as protobuf (a bus may forward it unchanged).
   */
  write(spans: readonly SpanRecord[], raw?: Uint8Array): Promise<SinkResult>;
  /** Hands live lifecycle events over (`POST /v1/lifecycle`). */
  writeLifecycle(events: readonly LifecycleEventRecord[]): Promise<SinkResult>;
  close(): Promise<void>;
}

/** Options of {@link StoreSink}. */
export interface StoreSinkOptions {
  /**
   * Spans that may be waiting to be written at once; past this, writes are
   * refused as retryable (HTTP 503) instead of queueing without bound.
   * @default 200_000
   */
  maxPendingSpans?: number;
  /** Retry-After sent when refusing. @default 1_000 */
  retryAfterMillis?: number;
  logger?: Logger;
}

/** The embedded path: spans go straight into a store in this process. */
export class StoreSink implements SpanSink {
  private pending = 0;
  private readonly maxPending: number;
  private readonly retryAfterMillis: number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly store: Store,
    options: StoreSinkOptions = {},
  ) {
    this.maxPending = options.maxPendingSpans ?? 200_000;
    this.retryAfterMillis = options.retryAfterMillis ?? 1_000;
    this.logger = options.logger;
  }

  async write(spans: readonly SpanRecord[]): Promise<SinkResult> {
    if (this.pending + spans.length > this.maxPending && this.pending > 0) {
      return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `store write queue full (${this.pending} spans pending)` };
    }
    this.pending += spans.length;
    try {
      await this.store.insertSpans(spans);
      return { kind: 'accepted' };
    } catch (err) {
      this.logger?.error('store write failed', { store: this.store.kind, spans: spans.length, error: errorMessage(err) });
      return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `store write failed: ${errorMessage(err)}` };
    } finally {
      this.pending -= spans.length;
    }
  }

  async writeLifecycle(events: readonly LifecycleEventRecord[]): Promise<SinkResult> {
    try {
      await this.store.insertLifecycleEvents(events);
      return { kind: 'accepted' };
    } catch (err) {
      this.logger?.error('lifecycle write failed', { store: this.store.kind, events: events.length, error: errorMessage(err) });
      return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `store write failed: ${errorMessage(err)}` };
    }
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
