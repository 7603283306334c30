/**
 * The collector's and ingest's own metrics, named after the OpenTelemetry
 * Collector's (`otelcol_receiver_accepted_spans`, `..._refused_spans`,
 * `otelcol_exporter_send_failed_spans`, queue size) with a `jobslo_` prefix.
 * Label names avoid `job` and `instance`, which Prometheus sets itself.
 */
import { BearerAuth, MetricsRegistry } from '../server/index.js';
import type { Counter, Gauge, Histogram } from '../server/index.js';
import type { LifecycleEventRecord, Logger, SpanRecord } from '../contracts/index.js';
import type { ExportOutcome, PipelineHooks, RequestInfo } from './pipeline.js';
import type { SinkResult, SpanSink } from './sink.js';

/**
 * Metrics of `jobslo collector`. Receiver metrics come from the ingest
 * pipeline's `onOutcome` hook (so every transport counts the same way), sink
 * metrics from {@link CollectorMetrics.instrument}.
 */
export class CollectorMetrics {
  readonly registry: MetricsRegistry;
  readonly acceptedSpans: Counter<'transport'>;
  readonly refusedSpans: Counter<'transport' | 'reason'>;
  readonly acceptedEvents: Counter<'transport'>;
  readonly refusedEvents: Counter<'transport' | 'reason'>;
  readonly requests: Counter<'transport' | 'signal' | 'outcome'>;
  readonly requestDuration: Histogram<'transport' | 'signal'>;
  readonly requestsInFlight: Gauge;
  readonly bytesInFlight: Gauge;
  readonly sentItems: Counter<'exporter' | 'signal'>;
  readonly sendFailedItems: Counter<'exporter' | 'signal' | 'outcome'>;
  readonly sendDuration: Histogram<'exporter' | 'signal' | 'outcome'>;

  constructor(registry = new MetricsRegistry()) {
    this.registry = registry;
    this.acceptedSpans = registry.counter('jobslo_receiver_accepted_spans_total', 'Spans stored or handed to the bus (the OpenTelemetry Collector: otelcol_receiver_accepted_spans).', ['transport']);
    this.refusedSpans = registry.counter(
      'jobslo_receiver_refused_spans_total',
      'Spans of decoded requests that were not stored, by reason: invalid (failed validation or refused by the store for good; reported in partial success, the rest of the request was stored).',
      ['transport', 'reason'],
    );
    this.acceptedEvents = registry.counter('jobslo_receiver_accepted_lifecycle_events_total', 'Live lifecycle events stored or handed to the bus.', ['transport']);
    this.refusedEvents = registry.counter('jobslo_receiver_refused_lifecycle_events_total', 'Live lifecycle events of decoded requests that were not stored, by reason.', ['transport', 'reason']);
    this.requests = registry.counter(
      'jobslo_receiver_requests_total',
      'Requests answered, by outcome: accepted, partial, invalid, unsupported, too_large, throttled (429), unavailable (503), permanent, unauthenticated (401), forbidden (403), internal.',
      ['transport', 'signal', 'outcome'],
    );
    this.requestDuration = registry.histogram('jobslo_receiver_request_duration_seconds', 'Time from admitting a request to its outcome (reading, decoding, validating, storing or publishing).', ['transport', 'signal']);
    this.requestsInFlight = registry.gauge('jobslo_receiver_requests_in_flight', 'Requests being read, decoded or stored now.');
    this.bytesInFlight = registry.gauge('jobslo_receiver_request_bytes_in_flight', 'Body bytes (as received plus decompressed) held by the requests in flight.');
    this.sentItems = registry.counter('jobslo_exporter_sent_items_total', 'Spans or lifecycle events the sink took: published to Kafka with acks from all in-sync replicas (exporter="kafka"), or inserted (exporter="store").', ['exporter', 'signal']);
    this.sendFailedItems = registry.counter(
      'jobslo_exporter_send_failed_items_total',
      'Spans or lifecycle events the sink did not take, by outcome: retryable (the client was told to retry: Kafka or the store slow, down or full), failed or partial (refused for good).',
      ['exporter', 'signal', 'outcome'],
    );
    this.sendDuration = registry.histogram('jobslo_exporter_send_duration_seconds', 'Time of one sink write: Kafka produce latency until acknowledged, or the store insert.', ['exporter', 'signal', 'outcome']);
  }

  /** Records one request's outcome (the pipeline's `onOutcome`). */
  observe(req: RequestInfo, outcome: ExportOutcome, durationMillis: number): void {
    const { transport, signal } = req;
    this.requests.inc({ transport, signal, outcome: outcome.kind });
    this.requestDuration.observe({ transport, signal }, durationMillis / 1000);
    const accepted = signal === 'traces' ? this.acceptedSpans : this.acceptedEvents;
    const refused = signal === 'traces' ? this.refusedSpans : this.refusedEvents;
    if (outcome.kind === 'accepted' || outcome.kind === 'partial') {
      if (outcome.accepted > 0) accepted.inc({ transport }, outcome.accepted);
      if (outcome.kind === 'partial' && outcome.rejected > 0) refused.inc({ transport, reason: 'invalid' }, outcome.rejected);
    }
  }

  /** Sets the in-flight gauges (call before rendering). */
  inFlight(now: { requests: number; bytes: number }): void {
    this.requestsInFlight.set(undefined, now.requests);
    this.bytesInFlight.set(undefined, now.bytes);
  }

  /** Wraps a sink so each write is timed and what it took or refused is counted under `exporter`. */
  instrument(sink: SpanSink, exporter: 'kafka' | 'store'): SpanSink {
    const observe = async (signal: 'spans' | 'lifecycle', n: number, write: () => Promise<SinkResult>): Promise<SinkResult> => {
      const start = process.hrtime.bigint();
      const result = await write();
      this.sendDuration.observe({ exporter, signal, outcome: result.kind }, Number(process.hrtime.bigint() - start) / 1e9);
      const refused = result.kind === 'accepted' ? 0 : result.kind === 'partial' ? result.rejected : n;
      if (n - refused > 0) this.sentItems.inc({ exporter, signal }, n - refused);
      if (refused > 0) this.sendFailedItems.inc({ exporter, signal, outcome: result.kind }, refused);
      return result;
    };
    return {
      write: (spans: readonly SpanRecord[], raw?: Uint8Array) => observe('spans', spans.length, () => sink.write(spans, raw)),
      writeLifecycle: (events: readonly LifecycleEventRecord[]) => observe('lifecycle', events.length, () => sink.writeLifecycle(events)),
      close: () => sink.close(),
    };
  }
}

/**
 * Pipeline hooks of a collector: bearer-token authorization of telemetry
 * (scope `ingest`; 401/UNAUTHENTICATED, 403/PERMISSION_DENIED) before any
 * body byte is read, and metrics of every outcome. Shared by every transport.
 */
export function collectorHooks(options: { auth?: BearerAuth; metrics?: CollectorMetrics; logger?: Logger }): PipelineHooks {
  const auth = options.auth ?? BearerAuth.none;
  const metrics = options.metrics;
  const logger = options.logger;
  let refusedSinceLog = 0;
  return {
    ...(auth.enabled
      ? {
          authorize(req: RequestInfo): ExportOutcome | undefined {
            const outcome = auth.check(req.header('authorization'), 'ingest');
            if (outcome.ok) return undefined;
            // Logged with a count, never the presented value.
            refusedSinceLog++;
            if (refusedSinceLog === 1 || refusedSinceLog % 1000 === 0) logger?.warn('refused telemetry without a valid ingest token', { reason: outcome.message, refused: refusedSinceLog, remote: req.remoteAddress });
            return { kind: outcome.kind, message: outcome.message };
          },
        }
      : {}),
    ...(metrics ? { onOutcome: (req: RequestInfo, outcome: ExportOutcome, ms: number) => metrics.observe(req, outcome, ms) } : {}),
  };
}

/** Metrics of `jobslo ingest`. */
export class IngestMetrics {
  readonly registry: MetricsRegistry;
  readonly messages: Counter<'topic'>;
  readonly storedSpans: Counter;
  readonly storedEvents: Counter;
  readonly rejectedSpans: Counter;
  readonly deadLettered: Counter<'topic' | 'reason'>;
  readonly insertBatches: Counter<'signal'>;
  readonly insertDuration: Histogram<'signal' | 'outcome'>;
  readonly insertErrors: Counter<'signal' | 'kind'>;
  readonly commits: Counter;
  readonly bufferedSpans: Gauge;
  readonly lag: Gauge<'topic' | 'partition'>;

  constructor(registry = new MetricsRegistry()) {
    this.registry = registry;
    this.messages = registry.counter('jobslo_ingest_messages_total', 'Kafka messages read (redeliveries included).', ['topic']);
    this.storedSpans = registry.counter('jobslo_ingest_stored_spans_total', 'Spans stored by successful inserts.');
    this.storedEvents = registry.counter('jobslo_ingest_stored_lifecycle_events_total', 'Lifecycle events stored by successful inserts.');
    this.rejectedSpans = registry.counter('jobslo_ingest_rejected_spans_total', 'Spans left out of their message because they failed validation.');
    this.deadLettered = registry.counter(
      'jobslo_ingest_dead_lettered_messages_total',
      'Messages sent to the dead-letter topic (or dropped without one), by source topic and reason: decode (cannot be decoded), invalid (failed validation) or rejected (the store refused them).',
      ['topic', 'reason'],
    );
    this.insertBatches = registry.counter('jobslo_ingest_insert_batches_total', 'Successful store inserts.', ['signal']);
    this.insertDuration = registry.histogram('jobslo_ingest_insert_duration_seconds', 'Time of each store insert attempt.', ['signal', 'outcome']);
    this.insertErrors = registry.counter('jobslo_ingest_insert_errors_total', 'Failed insert attempts: unreachable (retried until the store is back) or rejected.', ['signal', 'kind']);
    this.commits = registry.counter('jobslo_ingest_offset_commits_total', 'Successful offset commits.');
    this.bufferedSpans = registry.gauge('jobslo_ingest_buffered_spans', 'Decoded spans waiting to be stored.');
    this.lag = registry.gauge(
      'jobslo_ingest_lag_messages',
      'Messages of an assigned partition not yet stored and committed: the high watermark at the last fetch minus the next offset to commit.',
      ['topic', 'partition'],
    );
  }
}
