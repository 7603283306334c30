/** The OTLP/HTTP receiver and where it hands telemetry over. */
export { startCollector } from './http.js';
export type { CollectorOptions, RunningCollector } from './http.js';
export { StoreSink } from './sink.js';
export type { SinkResult, SpanSink, StoreSinkOptions } from './sink.js';
export { KafkaSink } from './kafka-sink.js';
export type { KafkaSinkOptions } from './kafka-sink.js';
export { startIngest, backoffMillis } from './ingest.js';
export type { IngestOptions, IngestStats, RunningIngest } from './ingest.js';
export {
  parseBrokers,
  validateTopic,
  DEFAULT_SPANS_TOPIC,
  DEFAULT_DEAD_LETTER_TOPIC,
  DEFAULT_INGEST_GROUP,
  DEFAULT_LIFECYCLE_TOPIC,
  DLQ_HEADER_ERROR,
  DLQ_HEADER_SOURCE_TOPIC,
  DLQ_HEADER_SOURCE_PARTITION,
  DLQ_HEADER_SOURCE_OFFSET,
} from './_kafka.js';
