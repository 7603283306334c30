import { errorMessage, lifecycleToJson, noopLogger } from '../contracts/index.js';
import type { LifecycleEventRecord, Logger } from '../contracts/index.js';

/** Options of {@link LifecycleReporter}. */
export interface LifecycleReporterOptions {
  /** Full URL of the collector's lifecycle endpoint (see {@link lifecycleUrlFor}). */
  url: string;
  /** Events held while a request is in flight; past this the oldest are dropped and counted. @default 1_000 */
  maxQueueSize?: number;
  /** Bound on each request. @default 2_000 */
  requestTimeoutMillis?: number;
  /** Extra request headers, e.g. `Authorization` from `OTEL_EXPORTER_OTLP_HEADERS` (see `resolveTraceHeaders`). Never logged. @default none */
  headers?: Readonly<Record<string, string>>;
  logger?: Logger;
}

/** How live delivery went. */
export interface LifecycleDelivery {
  sent: number;
  dropped: number;
  /** First reason events were dropped, if any. */
  reason?: string;
}

/**
 * The lifecycle endpoint next to a traces URL: `.../v1/traces` becomes
 * `.../v1/lifecycle`; any other traces URL uses its origin.
 */
export function lifecycleUrlFor(tracesUrl: string): string {
  if (tracesUrl.endsWith('/v1/traces')) return `${tracesUrl.slice(0, -'/v1/traces'.length)}/v1/lifecycle`;
  return new URL('/v1/lifecycle', tracesUrl).toString();
}

/**
 * Delivers lifecycle events live to `POST /v1/lifecycle` (JSON, schema
 * `jobslo.lifecycle/v1`), so a collector sees runs queue and start while
 * they happen (queue depth), not only when their run span arrives. Best
 * effort: one request in flight at a time, a bounded queue, events dropped
 * with a count when the collector is unreachable; a collector without the
 * endpoint (404, e.g. a stock OpenTelemetry Collector) turns it off.
 * Pass {@link LifecycleReporter.report} as `onLifecycle`.
 */
export class LifecycleReporter {
  private queue: LifecycleEventRecord[] = [];
  private inFlight: Promise<void> | undefined;
  private disabled = false;
  /** After a failed request, events are dropped (counted) until then: an absent collector costs one timeout, not one per event. */
  private pausedUntilMillis = 0;
  private readonly maxQueue: number;
  private readonly timeoutMillis: number;
  private readonly logger: Logger;
  private readonly delivery: LifecycleDelivery = { sent: 0, dropped: 0 };

  constructor(private readonly options: LifecycleReporterOptions) {
    this.maxQueue = options.maxQueueSize ?? 1_000;
    this.timeoutMillis = options.requestTimeoutMillis ?? 2_000;
    this.logger = options.logger ?? noopLogger;
  }

  /** Queues an event and starts sending; never throws, never blocks. */
  readonly report = (event: LifecycleEventRecord): void => {
    if (this.disabled || Date.now() < this.pausedUntilMillis) {
      this.delivery.dropped++;
      return;
    }
    this.queue.push(event);
    if (this.queue.length > this.maxQueue) this.drop(this.queue.length - this.maxQueue, 'queue full');
    this.pump();
  };

  private drop(n: number, reason: string): void {
    this.queue.splice(0, n);
    this.delivery.dropped += n;
    this.delivery.reason ??= reason;
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0 || this.disabled) return;
    const batch = this.queue;
    this.queue = [];
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = undefined;
      this.pump();
    });
  }

  private async send(batch: LifecycleEventRecord[]): Promise<void> {
    try {
      const res = await fetch(this.options.url, {
        method: 'POST',
        headers: { ...this.options.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ events: batch.map(lifecycleToJson) }),
        signal: AbortSignal.timeout(this.timeoutMillis),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.delivery.sent += batch.length;
        return;
      }
      if (res.status === 404 || res.status === 405) {
        this.disabled = true;
        this.logger.debug('collector has no lifecycle endpoint; live lifecycle events off', { url: this.options.url });
      }
      this.fail(batch.length, `collector answered ${res.status}`);
    } catch (err) {
      this.fail(batch.length, errorMessage(err));
    }
  }

  private fail(n: number, reason: string): void {
    this.delivery.dropped += n + this.queue.length;
    this.queue = [];
    this.delivery.reason ??= reason;
    this.pausedUntilMillis = Date.now() + 5_000;
  }

  /** Sends what is queued (bounded by the request timeout) and reports how delivery went. */
  async flush(): Promise<LifecycleDelivery> {
    while (this.inFlight || (this.queue.length > 0 && !this.disabled)) {
      this.pump();
      await this.inFlight;
    }
    if (this.disabled) this.delivery.dropped += this.queue.splice(0).length;
    return { ...this.delivery };
  }
}
