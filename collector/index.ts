/** The OTLP/HTTP receiver and where it hands telemetry over. */
export { startCollector } from './http.js';
export type { CollectorOptions, RunningCollector } from './http.js';
export { StoreSink } from './sink.js';
export type { SinkResult, SpanSink, StoreSinkOptions } from './sink.js';
