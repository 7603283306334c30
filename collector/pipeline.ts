/**
 * The one ingest pipeline every transport calls (like the OpenTelemetry
 * Collector's otlpreceiver, whose gRPC server and HTTP handler share one
 * `Export`):
 *
 *   admit (auth hook, then the sink's backlog check, then the in-flight
 *   request and byte budget; before any body byte is read) → transport reads the body within the lease → decode →
 *   validate per span → hand to the sink → outcome → status via {@link OUTCOME_STATUS}.
 *
 * Extension points, for transports and for cross-cutting concerns:
 * - {@link PipelineHooks.authorize}: runs first for every request with its
 *   headers (lowercase names) and transport; return an `unauthenticated` or
 *   `forbidden` outcome to refuse it before any body byte is read.
 * - {@link PipelineHooks.onOutcome}: called exactly once per request with
 *   its final outcome, item counts and duration (metrics, access logs).
 * - {@link IngestPipeline.inFlight}: current requests and bytes in flight
 *   (gauges).
 * - A transport only has to: build a {@link RequestInfo}, call
 *   {@link IngestPipeline.admit}, read the body reserving bytes on the
 *   {@link Lease}, call {@link IngestPipeline.exportTraces} or
 *   {@link IngestPipeline.exportLifecycle}, answer through
 *   {@link OUTCOME_STATUS}, then {@link IngestPipeline.finish}.
 */
import { DecodeError, errorMessage, noopLogger } from '../contracts/index.js';
import type { LifecycleEventRecord, Logger, SpanRecord } from '../contracts/index.js';
import { lifecycleFromJson } from '../contracts/index.js';
import { decodeTraceRequestJson, decodeTraceRequestProto, quoteLongIntegers } from './otlp/index.js';
import { derivationWarnings } from '../store/derive/index.js';
import type { SinkResult, SpanSink } from './sink.js';
import { RejectionTally, TelemetryValidator } from './validate.js';
import type { ValidationOptions } from './validate.js';

/** gRPC status codes used by the receivers (google.rpc.Code). */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * What the pipeline concluded about one request. Every transport answers
 * from this value through {@link OUTCOME_STATUS}, never with its own codes.
 */
export type ExportOutcome =
  /** Everything stored. */
  | { kind: 'accepted'; accepted: number }
  /** `rejected` items can never be stored (the message names the first reasons); the rest are stored. OTLP partial success. */
  | { kind: 'partial'; accepted: number; rejected: number; message: string }
  /** The request cannot be decoded (or is empty, or of the wrong shape); sending it again fails the same way. */
  | { kind: 'invalid'; message: string }
  /** Content type or encoding not supported. */
  | { kind: 'unsupported'; message: string }
  /** Body larger than the per-request limit; sending it again fails the same way. */
  | { kind: 'too_large'; message: string }
  /** The collector is at its in-flight bound; try again after `retryAfterMillis`. */
  | { kind: 'throttled'; message: string; retryAfterMillis: number }
  /** The sink (store or bus) cannot take it now; try again after `retryAfterMillis`. */
  | { kind: 'unavailable'; message: string; retryAfterMillis: number }
  /** The sink can never store this request as it is. */
  | { kind: 'permanent'; message: string }
  /** No or unknown credentials (for the auth hook). */
  | { kind: 'unauthenticated'; message: string }
  /** Credentials without the needed scope (for the auth hook). */
  | { kind: 'forbidden'; message: string }
  /** A bug: an error nobody expected. */
  | { kind: 'internal'; message: string };

export type OutcomeKind = ExportOutcome['kind'];

/**
 * The one table from outcome to HTTP status and gRPC code, per the OTLP
 * spec: 429/503 (and RESOURCE_EXHAUSTED/UNAVAILABLE, both with RetryInfo) are
 * the retryable answers and carry Retry-After; every other failure is
 * permanent for the client. RESOURCE_EXHAUSTED without RetryInfo (a request
 * over the size limit) is not retried by OTLP clients.
 */
export const OUTCOME_STATUS: Readonly<Record<OutcomeKind, { http: number; grpc: number; retry: boolean }>> = {
  accepted: { http: 200, grpc: GrpcCode.OK, retry: false },
  partial: { http: 200, grpc: GrpcCode.OK, retry: false },
  invalid: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT, retry: false },
  unsupported: { http: 415, grpc: GrpcCode.UNIMPLEMENTED, retry: false },
  too_large: { http: 413, grpc: GrpcCode.RESOURCE_EXHAUSTED, retry: false },
  throttled: { http: 429, grpc: GrpcCode.RESOURCE_EXHAUSTED, retry: true },
  unavailable: { http: 503, grpc: GrpcCode.UNAVAILABLE, retry: true },
  permanent: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT, retry: false },
  unauthenticated: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, retry: false },
  forbidden: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, retry: false },
  internal: { http: 500, grpc: GrpcCode.INTERNAL, retry: false },
};

/** The outcome's message for logs and status bodies (`''` when accepted). */
export function outcomeMessage(outcome: ExportOutcome): string {
  return outcome.kind === 'accepted' ? '' : outcome.message;
}

/** Whole seconds for a Retry-After header (at least 1). */
export function retryAfterSeconds(millis: number): number {
  return Math.max(1, Math.ceil(millis / 1000));
}

/** What a transport knows about a request before reading its body. */
export interface RequestInfo {
  transport: 'http' | 'grpc';
  signal: 'traces' | 'lifecycle';
  /** Request header (HTTP) or metadata (gRPC) value by lowercase name. */
  header(name: string): string | undefined;
  /** Declared body size (Content-Length), when known. */
  declaredBytes?: number;
  /** Peer address, for logs. */
  remoteAddress?: string;
}

/** Hooks for concerns that cut across transports (auth, metrics). */
export interface PipelineHooks {
  /**
   * Runs first for every request, before admission and before any body byte
   * is read. Resolve to an `unauthenticated` / `forbidden` (or any other)
   * outcome to refuse the request; undefined lets it through.
   */
  authorize?(req: RequestInfo): ExportOutcome | undefined | Promise<ExportOutcome | undefined>;
  /** Called once per admitted-or-refused request with its final outcome. Must not throw. */
  onOutcome?(req: RequestInfo, outcome: ExportOutcome, durationMillis: number): void;
}

/** Bounds of what the pipeline holds at once; see docs/collector.md for the memory bound they give. */
export interface AdmissionLimits {
  /** Requests being read, decoded or stored at once; more get 429 at once. @default 64 */
  maxInFlightRequests?: number;
  /**
   * Body bytes (as received plus decompressed) held at once by all requests;
   * a request that would pass it gets 429 at once, before its body is read
   * when it declares its length, else as soon as its bytes pass the budget.
   * @default 67_108_864 (64 MiB)
   */
  maxInFlightBytes?: number;
  /** Retry-After sent with 429, ms. @default 1_000 */
  retryAfterMillis?: number;
}

/** A request's share of the in-flight budget. */
export interface Lease {
  /** Reserves `bytes` more; false (and nothing reserved) when the budget has no room for them. */
  reserve(bytes: number): boolean;
  /** Bytes this lease holds. */
  readonly bytes: number;
}

class LeaseImpl implements Lease {
  bytes = 0;
  released = false;
  constructor(private readonly admission: Admission) {}
  reserve(n: number): boolean {
    if (this.released) return false;
    if (!this.admission.take(n, this.bytes)) return false;
    this.bytes += n;
    return true;
  }
}

/** Counts requests and bytes in flight against {@link AdmissionLimits}. */
class Admission {
  requests = 0;
  bytes = 0;
  readonly maxRequests: number;
  readonly maxBytes: number;

  constructor(limits: AdmissionLimits) {
    this.maxRequests = limits.maxInFlightRequests ?? 64;
    this.maxBytes = limits.maxInFlightBytes ?? 64 * 1024 * 1024;
  }

  /** `held` is what the asking lease already holds: a request alone is never refused, so one large request can always pass. */
  take(n: number, held: number): boolean {
    if (this.bytes + n > this.maxBytes && this.bytes - held > 0) return false;
    this.bytes += n;
    return true;
  }
}

/**
 * Does the pipeline's work after admission (decode, validate, hand over)
 * somewhere else, e.g. on the thread that holds the store, so the thread
 * that answers stays free to refuse. Takes ownership of `body`. Never throws.
 */
export interface TelemetryExporter {
  exportTraces(format: 'proto' | 'json', body: Uint8Array): Promise<ExportOutcome>;
  exportLifecycle(body: Uint8Array): Promise<ExportOutcome>;
}

/** Options of {@link IngestPipeline}. */
export interface PipelineOptions {
  /** Where telemetry goes; its `backlog` check runs at admission. */
  sink: SpanSink;
  /**
   * Runs decode, validation and hand-over instead of this pipeline (which
   * then only admits, and answers from the exporter's outcome).
   * @default this pipeline decodes and writes to `sink` itself
   */
  exporter?: TelemetryExporter;
  validation?: ValidationOptions;
  admission?: AdmissionLimits;
  hooks?: PipelineHooks;
  logger?: Logger;
}

/** A request admitted into the pipeline; hand it back to {@link IngestPipeline.finish}. */
export interface Admitted {
  readonly lease: Lease;
  readonly startedAt: number;
}

/** See the module comment. */
export class IngestPipeline {
  readonly sink: SpanSink;
  private readonly exporter: TelemetryExporter | undefined;
  private readonly validator: TelemetryValidator;
  private readonly admission: Admission;
  private readonly retryAfterMillis: number;
  private readonly hooks: PipelineHooks;
  private readonly logger: Logger;
  private rejectedTotal = 0;
  private throttledSinceLog = 0;

  constructor(options: PipelineOptions) {
    this.sink = options.sink;
    this.exporter = options.exporter;
    this.validator = new TelemetryValidator(options.validation);
    this.admission = new Admission(options.admission ?? {});
    this.retryAfterMillis = options.admission?.retryAfterMillis ?? 1_000;
    this.hooks = options.hooks ?? {};
    this.logger = options.logger ?? noopLogger;
  }

  /** Requests and body bytes in flight now, and their bounds. */
  inFlight(): { requests: number; bytes: number; maxRequests: number; maxBytes: number } {
    const a = this.admission;
    return { requests: a.requests, bytes: a.bytes, maxRequests: a.maxRequests, maxBytes: a.maxBytes };
  }

  /** The shared validator (for the Kafka ingest and tests). */
  get validation(): TelemetryValidator {
    return this.validator;
  }

  /**
   * Auth hook, then admission. Call before reading the body. On refusal the
   * outcome is already reported to `onOutcome`; answer it and stop.
   */
  async admit(req: RequestInfo): Promise<{ admitted: Admitted } | { refused: ExportOutcome }> {
    const startedAt = performance.now();
    if (this.hooks.authorize) {
      let denied: ExportOutcome | undefined;
      try {
        denied = await this.hooks.authorize(req);
      } catch (err) {
        denied = { kind: 'internal', message: `authorization failed: ${errorMessage(err)}` };
      }
      if (denied !== undefined) {
        this.report(req, denied, startedAt);
        return { refused: denied };
      }
    }
    const a = this.admission;
    if (a.requests >= a.maxRequests) return { refused: this.throttle(req, startedAt, `${a.requests} requests in flight (limit ${a.maxRequests})`) };
    // Traces only: lifecycle events are few and small, and must not be starved by a trace backlog.
    // A request alone is always admitted, so one large request can pass (the sink checks again when writing).
    const busy = req.signal === 'traces' && a.requests > 0 ? this.sink.backlog?.(a.bytes + (req.declaredBytes ?? 0)) : undefined;
    if (busy !== undefined && busy.kind === 'retryable') {
      const outcome: ExportOutcome = { kind: 'unavailable', message: `not stored, try again: ${busy.reason}`, retryAfterMillis: busy.retryAfterMillis };
      this.report(req, outcome, startedAt);
      return { refused: outcome };
    }
    a.requests++;
    const lease = new LeaseImpl(a);
    if (req.declaredBytes !== undefined && req.declaredBytes > 0 && !lease.reserve(req.declaredBytes)) {
      a.requests--;
      lease.released = true;
      return { refused: this.throttle(req, startedAt, `${a.bytes} body bytes in flight (limit ${a.maxBytes})`) };
    }
    return { admitted: { lease, startedAt } };
  }

  /** The outcome for a request whose body passed the byte budget while being read. */
  overBudget(): ExportOutcome {
    return this.throttledOutcome(`${this.admission.bytes} body bytes in flight (limit ${this.admission.maxBytes})`);
  }

  /** Releases the request's lease and reports its outcome to `onOutcome`. Call exactly once per admitted request. */
  finish(req: RequestInfo, admitted: Admitted, outcome: ExportOutcome): void {
    const lease = admitted.lease as LeaseImpl;
    if (!lease.released) {
      lease.released = true;
      this.admission.bytes -= lease.bytes;
      this.admission.requests--;
    }
    this.report(req, outcome, admitted.startedAt);
  }

  /**
   * Decodes an OTLP `ExportTraceServiceRequest` (protobuf or JSON, already
   * decompressed), validates each span, hands the valid ones to the sink and
   * returns the outcome. Never throws.
   */
  async exportTraces(format: 'proto' | 'json', body: Uint8Array): Promise<ExportOutcome> {
    if (this.exporter) return this.exporter.exportTraces(format, body);
    try {
      let decoded;
      try {
        decoded = format === 'proto' ? decodeTraceRequestProto(body) : decodeTraceRequestJson(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
      } catch (err) {
        if (err instanceof DecodeError) return { kind: 'invalid', message: `cannot decode ${format === 'proto' ? 'protobuf' : 'JSON'} ExportTraceServiceRequest: ${err.message}` };
        throw err;
      }
      const { spans, rejected } = this.validator.filterSpans(decoded.spans);
      const rejectedCount = decoded.rejectedSpans + rejected.count;
      const reasons = [decoded.rejectionReason, rejected.summary()].filter((r) => r !== '').join('; ');
      if (rejectedCount > 0) {
        this.rejectedTotal += rejectedCount;
        this.logger.warn('rejected spans', { count: rejectedCount, total: this.rejectedTotal, reason: reasons.slice(0, 500) });
      }
      // The bus may forward the received bytes only when they hold exactly the spans to store.
      const raw = format === 'proto' && rejectedCount === 0 ? body : undefined;
      const result: SinkResult = spans.length > 0 ? await this.sink.write(spans, raw) : { kind: 'accepted' };
      return withWarnings(this.combine(result, spans.length, rejectedCount, reasons), spans);
    } catch (err) {
      this.logger.error('unexpected collector error', { error: errorMessage(err) });
      return { kind: 'internal', message: `internal error: ${errorMessage(err)}` };
    }
  }

  /**
   * Decodes a lifecycle batch (`{"events": [...]}`, schema jobslo.lifecycle/v1),
   * rejects the events that are malformed or outside the accepted ranges one
   * by one, hands the rest to the sink. A body that is not such an object is
   * `invalid`. Never throws.
   */
  async exportLifecycle(body: Uint8Array): Promise<ExportOutcome> {
    if (this.exporter) return this.exporter.exportLifecycle(body);
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(quoteLongIntegers(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8')));
      } catch (err) {
        return { kind: 'invalid', message: `cannot decode lifecycle events: body is not JSON: ${errorMessage(err)}` };
      }
      const list = (parsed as { events?: unknown } | null)?.events;
      if (typeof parsed !== 'object' || parsed === null || !Array.isArray(list)) return { kind: 'invalid', message: 'cannot decode lifecycle events: expected {"events": [...]}' };
      const tally = new RejectionTally();
      const decoded: LifecycleEventRecord[] = [];
      for (let i = 0; i < list.length; i++) {
        try {
          decoded.push(lifecycleFromJson(list[i], `events[${i}]`));
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          tally.add({ reason: 'malformed event', detail: err.message });
        }
      }
      const { events, rejected } = this.validator.filterLifecycle(decoded);
      const reasons = [tally.summary('event'), rejected.summary('event')].filter((r) => r !== '').join('; ');
      const rejectedCount = tally.count + rejected.count;
      const result: SinkResult = events.length > 0 ? await this.sink.writeLifecycle(events) : { kind: 'accepted' };
      return this.combine(result, events.length, rejectedCount, reasons);
    } catch (err) {
      this.logger.error('unexpected collector error', { error: errorMessage(err) });
      return { kind: 'internal', message: `internal error: ${errorMessage(err)}` };
    }
  }

  /** Merges what validation rejected with what the sink did. */
  private combine(result: SinkResult, handed: number, rejectedBefore: number, reasons: string): ExportOutcome {
    switch (result.kind) {
      case 'retryable':
        return { kind: 'unavailable', message: `not stored, try again: ${result.reason}`, retryAfterMillis: result.retryAfterMillis };
      case 'failed':
        if (rejectedBefore === 0) return { kind: 'permanent', message: `cannot be stored: ${result.reason}` };
        return { kind: 'partial', accepted: 0, rejected: rejectedBefore + handed, message: [reasons, result.reason].join('; ') };
      case 'partial':
        return {
          kind: 'partial',
          accepted: handed - result.rejected,
          rejected: rejectedBefore + result.rejected,
          message: [reasons, result.reason].filter((r) => r !== '').join('; '),
        };
      case 'accepted':
        if (rejectedBefore === 0) return { kind: 'accepted', accepted: handed };
        return { kind: 'partial', accepted: handed, rejected: rejectedBefore, message: reasons };
    }
  }

  private throttledOutcome(why: string): ExportOutcome {
    return { kind: 'throttled', message: `collector at capacity (${why}); retry later`, retryAfterMillis: this.retryAfterMillis };
  }

  private throttle(req: RequestInfo, startedAt: number, why: string): ExportOutcome {
    const outcome = this.throttledOutcome(why);
    this.throttledSinceLog++;
    if (this.throttledSinceLog === 1 || this.throttledSinceLog % 1000 === 0) {
      this.logger.warn('collector at capacity; answering 429 + Retry-After', { reason: why, throttled: this.throttledSinceLog });
    }
    this.report(req, outcome, startedAt);
    return outcome;
  }

  private report(req: RequestInfo, outcome: ExportOutcome, startedAt: number): void {
    try {
      this.hooks.onOutcome?.(req, outcome, performance.now() - startedAt);
    } catch (err) {
      this.logger.warn('onOutcome hook failed', { error: errorMessage(err) });
    }
  }
}

/**
 * Tells the sender about stored spans that look like job telemetry but form
 * no run (a job name without a run id, say): OTLP partial success with the
 * warning, `rejected_spans` unchanged (0 when nothing was rejected), as the
 * OTLP spec allows. Only spans that were stored are checked.
 */
function withWarnings(outcome: ExportOutcome, stored: readonly SpanRecord[]): ExportOutcome {
  if (outcome.kind !== 'accepted' && outcome.kind !== 'partial') return outcome;
  if (outcome.kind === 'partial' && outcome.accepted === 0) return outcome;
  const w = derivationWarnings(stored);
  if (w.spans === 0) return outcome;
  if (outcome.kind === 'accepted') return { kind: 'partial', accepted: outcome.accepted, rejected: 0, message: w.message };
  return { ...outcome, message: [outcome.message, w.message].filter((m) => m !== '').join('; ') };
}
