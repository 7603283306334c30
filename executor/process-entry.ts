/**
 * The part of the executor that `jobslo run` needs, as one import: it keeps
 * the scheduler's dependencies (YAML, zod, croner) off the start-up path of
 * every `jobslo run`. Library users import `executor/index.ts`.
 */
export { runProcessJob, exitCodeForRun } from './process-job.js';
export { DEFAULT_BACKOFF, parseBackoffKind, parseJitterKind, validateBackoff } from './backoff.js';
export { resolveTracesEndpoint, resolveTraceHeaders } from './endpoint.js';
export { parseRate } from './cost.js';
export { resolveStateDir } from './state.js';
export { contextFromEnv } from './traceparent.js';
export { startTelemetry } from './telemetry.js';
export { LifecycleReporter, lifecycleUrlFor } from './lifecycle-reporter.js';
