import { Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer } from 'kafkajs';
import { errorMessage, lifecycleToJson, noopLogger } from '../contracts/index.js';
import type { LifecycleEventRecord, Logger, SpanRecord } from '../contracts/index.js';
import { encodeTraceRequestProto } from './otlp/index.js';
import type { SinkResult, SpanSink } from './sink.js';
import { DEFAULT_LIFECYCLE_TOPIC, DEFAULT_SPANS_TOPIC, createKafka } from './_kafka.js';

/** Options of {@link KafkaSink}. */
export interface KafkaSinkOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[];
  /** Topic to publish to. @default 'otlp_spans' */
  topic?: string;
  /** Topic for live lifecycle events. @default 'jobslo_lifecycle' */
  lifecycleTopic?: string;
  /**
   * Deadline for handing one request over (written and acknowledged by all
   * in-sync replicas), ms. Past it the request is answered retryable (HTTP
   * 503). @default 5_000
   */
  timeoutMillis?: number;
  /** Retry-After sent with retryable answers, ms. @default 2_000 */
  retryAfterMillis?: number;
  /**
   * Message bytes that may be on their way to Kafka at once, counting sends
   * that outlived their deadline until kafkajs gives up on them; past this,
   * writes are refused as retryable without queueing. @default 67_108_864 (64 MiB)
   */
  maxPendingBytes?: number;
  /**
   * Largest message value; a bigger request is split into several messages
   * of whole spans. Keep it under the topic's `max.message.bytes` (Kafka's
   * default is 1 MiB including overhead). @default 1_000_000
   */
  maxMessageBytes?: number;
  /** @default 'jobslo-collector' */
  clientId?: string;
  logger?: Logger;
}

class DeadlineError extends Error {}

/**
 * Publishes each OTLP request to Kafka as one message holding a serialized
 * `ExportTraceServiceRequest` (`otlp_proto`, what the OpenTelemetry
 * Collector's Kafka exporter writes by default): the received protobuf bytes
 * unchanged, or our protobuf encoding of a JSON request. The key is the trace
 * id of the request's first span, so a run's requests tend to share a
 * partition (order is not needed for correctness: the stores' run aggregates
 * are order-independent).
 *
 * Sends use `acks: -1` (all in-sync replicas). The producer is not
 * idempotent: kafkajs marks its idempotent producer experimental and it
 * breaks with concurrent sends (tulios/kafkajs#598), which a collector always
 * has. A retry after a timeout may therefore publish a request twice, as may
 * the OTLP client retrying after a 503; both are harmless because every
 * store treats repeated spans as one.
 */
export class KafkaSink implements SpanSink {
  private readonly kafka: Kafka;
  private readonly brokers: string;
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly lifecycleTopic: string;
  private readonly timeoutMillis: number;
  private readonly retryAfterMillis: number;
  private readonly maxPendingBytes: number;
  private readonly maxMessageBytes: number;
  private readonly logger: Logger;
  private connected = false;
  private connecting: Promise<void> | undefined;
  private pendingBytes = 0;
  private closed = false;
  private refusedSinceLog = 0;

  constructor(options: KafkaSinkOptions) {
    this.topic = options.topic ?? DEFAULT_SPANS_TOPIC;
    this.lifecycleTopic = options.lifecycleTopic ?? DEFAULT_LIFECYCLE_TOPIC;
    this.timeoutMillis = options.timeoutMillis ?? 5_000;
    this.retryAfterMillis = options.retryAfterMillis ?? 2_000;
    this.maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.maxMessageBytes = options.maxMessageBytes ?? 1_000_000;
    this.logger = options.logger ?? noopLogger;
    this.brokers = options.brokers.join(',');
    this.kafka = createKafka({
      brokers: options.brokers,
      clientId: options.clientId ?? 'jobslo-collector',
      logger: this.logger,
      connectionTimeoutMillis: Math.min(3_000, this.timeoutMillis),
      requestTimeoutMillis: this.timeoutMillis + 1_000,
      // kafkajs retries a failed send in the background past our deadline: keep that short too.
      retries: 3,
      maxRetryTimeMillis: Math.max(500, Math.floor(this.timeoutMillis / 2)),
    });
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: true,
      idempotent: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  /**
   * Connects within the deadline if possible. A failure is logged, not
   * thrown: the collector serves anyway (answering 503) and every write
   * tries to connect again.
   */
  async start(): Promise<void> {
    try {
      await this.withDeadline(this.ensureConnected());
    } catch (err) {
      this.logger.warn('Kafka not reachable yet; answering 503 until it is', { brokers: this.describeBrokers(), error: errorMessage(err) });
    }
  }

  async write(spans: readonly SpanRecord[], raw?: Uint8Array): Promise<SinkResult> {
    if (this.closed) return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: 'collector is shutting down' };
    const messages = this.toMessages(spans, raw);
    if (messages === undefined) return { kind: 'failed', reason: `a single span is larger than the ${this.maxMessageBytes}-byte Kafka message limit` };
    return this.publish(this.topic, messages);
  }

  /** Retryable while the bytes waiting for Kafka's acknowledgement are at their bound. */
  backlog(_inFlightBodyBytes = 0): SinkResult | undefined {
    if (this.closed) return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: 'collector is shutting down' };
    if (this.pendingBytes < this.maxPendingBytes) return undefined;
    this.refused();
    return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `Kafka hand-over queue full (${this.pendingBytes} bytes pending)` };
  }

  /** Publishes each event as one JSON message (wire format `jobslo.lifecycle/v1`) keyed by run id, on the lifecycle topic. */
  async writeLifecycle(events: readonly LifecycleEventRecord[]): Promise<SinkResult> {
    if (this.closed) return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: 'collector is shutting down' };
    const messages = events.map((e) => ({ key: e.runId, value: Buffer.from(JSON.stringify(lifecycleToJson(e))) }));
    return this.publish(this.lifecycleTopic, messages);
  }

  /** Sends with acks from all in-sync replicas within the deadline; the outcome is a value the HTTP layer branches on. */
  private async publish(topic: string, messages: Message[]): Promise<SinkResult> {
    const bytes = messages.reduce((n, m) => n + (m.value as Buffer).length, 0);
    if (this.pendingBytes > 0 && this.pendingBytes + bytes > this.maxPendingBytes) {
      this.refused();
      return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `Kafka hand-over queue full (${this.pendingBytes} bytes pending)` };
    }
    this.pendingBytes += bytes;
    const send = (async () => {
      await this.ensureConnected();
      await this.producer.send({ topic, acks: -1, timeout: this.timeoutMillis, messages });
    })();
    // The send may outlive the deadline; its bytes count as pending until it settles.
    void send.then(
      () => (this.pendingBytes -= bytes),
      () => (this.pendingBytes -= bytes),
    );
    try {
      await this.withDeadline(send);
      return { kind: 'accepted' };
    } catch (err) {
      if (err instanceof DeadlineError) {
        this.logger.warn('Kafka did not acknowledge in time; answered 503', { topic, timeoutMillis: this.timeoutMillis });
        return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `Kafka did not acknowledge within ${this.timeoutMillis} ms` };
      }
      const retriable = isRetriable(err);
      this.logger.warn('Kafka send failed', { topic, retryable: retriable, error: errorMessage(err) });
      if (!retriable) return { kind: 'failed', reason: `Kafka refused the message: ${errorMessage(err)}` };
      return { kind: 'retryable', retryAfterMillis: this.retryAfterMillis, reason: `Kafka unavailable: ${errorMessage(err)}` };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.producer.disconnect().catch(() => undefined);
  }

  /** One message normally; several of whole spans when the request exceeds the message limit. */
  private toMessages(spans: readonly SpanRecord[], raw: Uint8Array | undefined): Message[] | undefined {
    const key = spans[0]?.traceId ?? null;
    if (raw !== undefined && raw.length <= this.maxMessageBytes) return [{ key, value: Buffer.from(raw.buffer, raw.byteOffset, raw.length) }];
    const whole = encodeTraceRequestProto(spans);
    if (whole.length <= this.maxMessageBytes) return [{ key, value: Buffer.from(whole.buffer, whole.byteOffset, whole.length) }];
    if (spans.length === 1) return undefined;
    const parts = Math.min(spans.length, Math.ceil(whole.length / this.maxMessageBytes) + 1);
    const size = Math.ceil(spans.length / parts);
    const out: Message[] = [];
    for (let i = 0; i < spans.length; i += size) {
      const sub = this.toMessages(spans.slice(i, i + size), undefined);
      if (sub === undefined) return undefined;
      out.push(...sub);
    }
    return out;
  }

  private ensureConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    this.connecting ??= this.producer.connect().then(
      () => {
        this.connected = true;
        this.connecting = undefined;
        this.logger.info('connected to Kafka', { brokers: this.describeBrokers(), topic: this.topic });
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  private withDeadline<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError('deadline')), this.timeoutMillis);
    });
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
  }

  private refused(): void {
    this.refusedSinceLog++;
    if (this.refusedSinceLog === 1 || this.refusedSinceLog % 1000 === 0) {
      this.logger.warn('Kafka hand-over queue full; refusing requests with 503', { pendingBytes: this.pendingBytes, refused: this.refusedSinceLog });
    }
  }

  private describeBrokers(): string {
    return this.brokers;
  }
}

/** kafkajs errors that are worth retrying: connection trouble, timeouts, leader moves, retries exhausted on those. */
function isRetriable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const { name, retriable } = e as { name?: string; retriable?: boolean };
    if (retriable === true) return true;
    if (name === 'KafkaJSConnectionError' || name === 'KafkaJSConnectionClosedError' || name === 'KafkaJSRequestTimeoutError' || name === 'KafkaJSBrokerNotFound') return true;
    if (name === 'KafkaJSNumberOfRetriesExceeded' || name === 'KafkaJSNonRetriableError') {
      e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
      continue;
    }
    if (name === 'KafkaJSError' && /disconnected|not connected|closed/i.test(errorMessage(e))) return true;
    return false;
  }
  return true;
}
