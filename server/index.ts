/**
 * What every jobslo listener shares (the collector, `ingest`'s metrics
 * listener, `serve`): bearer-token authentication with scopes, TLS, and the
 * self-metrics registry.
 */
export { BearerAuth, MIN_TOKEN_LENGTH, SCOPES, readTokenRefs } from './auth.js';
export type { AuthOutcome, Scope, SecretSources } from './auth.js';
export { authGrpcCode, authStatus, authorizeRequest, isLoopback, listen, loadTls, wwwAuthenticate } from './listen.js';
export type { ListenOptions, Listener, TlsMaterial } from './listen.js';
export { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
export type { MetricsSnapshot } from './metrics.js';
