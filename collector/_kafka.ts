/**
 * Kafka plumbing shared by the collector's Kafka sink and the ingest
 * consumer: broker list parsing, the kafkajs client with its logs routed
 * into our {@link Logger}, and the message value codec.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { LogEntry, logCreator } from 'kafkajs';
import { ConfigError, DecodeError } from '../contracts/index.js';
import type { Logger } from '../contracts/index.js';
import { decodeTraceRequestJson, decodeTraceRequestProto } from './otlp/index.js';
import type { DecodedTraces } from './otlp/index.js';

/** Topic the OpenTelemetry Collector's Kafka exporter writes traces to by default, and ours. */
export const DEFAULT_SPANS_TOPIC = 'otlp_spans';
/** Where the ingest puts messages it cannot decode or store. */
export const DEFAULT_DEAD_LETTER_TOPIC = 'otlp_spans_dlq';
/** Topic of live lifecycle events: one JSON event (schema `jobslo.lifecycle/v1`) per message, keyed by run id. */
export const DEFAULT_LIFECYCLE_TOPIC = 'jobslo_lifecycle';
/** Default consumer group of `jobslo ingest`. */
export const DEFAULT_INGEST_GROUP = 'jobslo-ingest';

/** Headers the ingest adds to dead-lettered messages. */
export const DLQ_HEADER_ERROR = 'jobslo-error';
export const DLQ_HEADER_SOURCE_TOPIC = 'jobslo-source-topic';
export const DLQ_HEADER_SOURCE_PARTITION = 'jobslo-source-partition';
export const DLQ_HEADER_SOURCE_OFFSET = 'jobslo-source-offset';

/**
 * Parses `HOST:PORT[,HOST:PORT...]`.
 * @throws {ConfigError} naming the flag and the bad entry
 */
export function parseBrokers(value: string, name = '--brokers'): string[] {
  const brokers = value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new ConfigError(name, 'needs at least one HOST:PORT, e.g. 127.0.0.1:9092');
  for (const b of brokers) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(b);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw new ConfigError(name, `"${b}" is not HOST:PORT, e.g. 127.0.0.1:9092`);
  }
  return brokers;
}

/**
 * Checks a topic name the way Kafka does (1-249 of `[A-Za-z0-9._-]`).
 * @throws {ConfigError} naming the flag
 */
export function validateTopic(topic: string, name: string): string {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic) || topic === '.' || topic === '..') {
    throw new ConfigError(name, `"${topic}" is not a Kafka topic name (1-249 of letters, digits, ".", "_", "-")`);
  }
  return topic;
}

/**
 * A kafkajs `logCreator` writing into `logger`: kafkajs ERROR and WARN as
 * warnings (connection errors while a broker is down are expected and
 * retried, and our code logs the outcome that matters), INFO and DEBUG as
 * debug. Stack traces and payloads are left out.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, error, broker, topic, groupId } = log as { message: string; error?: unknown; broker?: unknown; topic?: unknown; groupId?: unknown };
      const fields = {
        namespace,
        ...(error !== undefined ? { error: String(error) } : {}),
        ...(broker !== undefined ? { broker: String(broker) } : {}),
        ...(topic !== undefined ? { topic: String(topic) } : {}),
        ...(groupId !== undefined ? { group: String(groupId) } : {}),
      };
      // Error codes in responses (coordinator not ready yet, leader moved) are retried by kafkajs: not worth a warning.
      const retriedResponse = namespace === 'Connection' && message.startsWith('Response ');
      if ((level === logLevel.ERROR || level === logLevel.WARN) && !retriedResponse) logger.warn(`kafka: ${message}`, fields);
      else logger.debug(`kafka: ${message}`, fields);
    };
}

/** Options of {@link createKafka}. */
export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId: string;
  logger: Logger;
  /** TCP connect timeout, ms. @default 3_000 */
  connectionTimeoutMillis?: number;
  /** Timeout of one request to a broker, ms. @default 10_000 */
  requestTimeoutMillis?: number;
  /** kafkajs retries of one operation. @default 5 */
  retries?: number;
  /** Longest wait between retries, ms. @default 5_000 */
  maxRetryTimeMillis?: number;
}

/** A kafkajs client whose logs go to our logger. */
export function createKafka(options: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMillis ?? 3_000,
    requestTimeout: options.requestTimeoutMillis ?? 10_000,
    retry: { retries: options.retries ?? 5, initialRetryTime: 200, maxRetryTime: options.maxRetryTimeMillis ?? 5_000 },
    logLevel: logLevel.INFO,
    logCreator: kafkaLogCreator(options.logger),
  });
}

/**
 * Decodes one Kafka message value: an `ExportTraceServiceRequest` as
 * protobuf (`otlp_proto`, the OpenTelemetry Collector Kafka exporter's
 * default) or as OTLP JSON (`otlp_json`, first byte `{`). The two cannot be
 * confused: a protobuf request never starts with `{` (a group-start tag).
 *
 * @throws {DecodeError} when the value is empty or malformed
 */
export function decodeSpansMessage(value: Buffer | null): DecodedTraces {
  if (value === null || value.length === 0) throw new DecodeError('empty message value; expected an OTLP ExportTraceServiceRequest (otlp_proto or otlp_json)');
  // Only the first byte decides: 0x0a (a newline in ASCII) is the usual first protobuf byte.
  if (value[0] === 0x7b) return decodeTraceRequestJson(value.toString('utf8'));
  return decodeTraceRequestProto(value);
}
