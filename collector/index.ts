/** The OTLP receivers (HTTP, gRPC), their shared ingest pipeline, and where they hand telemetry over. */
export { startCollector } from './http.js';
export type { CollectorOptions, HttpConnectionLimits, RunningCollector } from './http.js';
export { startGrpcReceiver, TRACE_EXPORT_PATH } from './grpc.js';
export type { GrpcReceiverOptions, RunningGrpcReceiver } from './grpc.js';
export { IngestPipeline, OUTCOME_STATUS, GrpcCode, outcomeMessage, retryAfterSeconds } from './pipeline.js';
export type { AdmissionLimits, Admitted, ExportOutcome, Lease, OutcomeKind, PipelineHooks, PipelineOptions, RequestInfo, TelemetryExporter } from './pipeline.js';
export { TelemetryValidator, RejectionTally } from './validate.js';
export type { Rejection, ValidationOptions } from './validate.js';
export type { ReadApiLimits, ReadStore } from './read-api.js';
export { startStoreThread } from './store-thread.js';
export type { StoreThread, StoreThreadOptions } from './store-thread.js';
export { StoreSink, isRetryableStoreFailure } from './sink.js';
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
