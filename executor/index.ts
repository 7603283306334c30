/**
 * The executor: runs jobs (in-process functions or commands) with retries,
 * timeouts, idempotency, concurrency limits and cost, and emits one `job.run`
 * span per run with a `job.attempt` child per attempt.
 */
export { runJob } from './run-job.js';
export type { JobContext, RunJobOptions, RunResult } from './run-job.js';
export { runProcessJob, exitCodeForRun, isRetryableExitCode } from './process-job.js';
export type { ProcessJobOptions, ProcessRunResult, ExitCodePolicy } from './process-job.js';
export { TRACER_NAME } from './options.js';
export type { RunOptions } from './options.js';
export { computeBackoffMillis, DEFAULT_BACKOFF, parseBackoffKind, parseJitterKind, validateBackoff } from './backoff.js';
export type { BackoffPolicy, BackoffKind, JitterKind } from './backoff.js';
export { resolveTracesEndpoint, resolveTraceHeaders, parseOtlpHeaders, DEFAULT_TRACES_URL } from './endpoint.js';
export type { EndpointSources, ResolvedEndpoint } from './endpoint.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { computeRunCost, parseReportedCost, parseRate, ZERO_RATES } from './cost.js';
export type { CostRates, RunUsage } from './cost.js';
export { resolveStateDir, DEFAULT_STATE_DIR } from './state.js';
export { contextFromEnv, envForSpanContext } from './traceparent.js';
export { startTelemetry, probeCollector, ObservedExporter } from './telemetry.js';
export { parseResourceAttributes, resourceFromEnv } from './resource.js';
export type { ParsedResourceAttributes, EnvResource } from './resource.js';
export type { Telemetry, TelemetryOptions, DeliveryReport } from './telemetry.js';
export { parseScheduleConfig, startScheduler, missedTicks, cronFor } from './schedule.js';
export type { ScheduleConfig, ScheduledJob, OverlapPolicy, Scheduler, SchedulerOptions, Tick } from './schedule.js';
export { LifecycleReporter, lifecycleUrlFor } from './lifecycle-reporter.js';
export type { LifecycleReporterOptions, LifecycleDelivery } from './lifecycle-reporter.js';
