/**
 * Telemetry attribute and span names that jobslo writes and reads.
 *
 * This module is a contract: the analyzer's queries, the store schema and
 * every job runner that wants its spans understood depend on these names.
 * They are documented in `docs/conventions.md`; change both together, and
 * never rename a published name (add a new one instead).
 *
 * OpenTelemetry semantic conventions are reused where they exist
 * (`error.type`, `process.exit.code`, `cicd.pipeline.*`, `k8s.job.name`);
 * the `jobslo.*` namespace holds only what none covers.
 */

/** Name of the job (the unit users define SLOs on), e.g. `nightly-etl`. */
export const ATTR_JOB_NAME = 'jobslo.job.name';
/** Unique id of one run of a job: first attempt to final outcome. */
export const ATTR_RUN_ID = 'jobslo.run.id';
/** `run` on the span covering a whole run, `attempt` on each attempt span. */
export const ATTR_SPAN_TYPE = 'jobslo.span.type';
/** 1-based attempt number, on attempt spans. */
export const ATTR_ATTEMPT_NUMBER = 'jobslo.attempt.number';
/** Outcome of one attempt: see {@link AttemptOutcome}. */
export const ATTR_ATTEMPT_OUTCOME = 'jobslo.attempt.outcome';
/** Final outcome of a run, on run spans: see {@link RunOutcome}. */
export const ATTR_RUN_OUTCOME = 'jobslo.run.outcome';
/** Number of attempts the run made, on run spans. */
export const ATTR_RUN_ATTEMPTS = 'jobslo.run.attempts';
/** `true` when the run's last attempt failed and it was dead-lettered. */
export const ATTR_RUN_DEAD_LETTERED = 'jobslo.run.dead_lettered';
/** Why the run was dead-lettered (last error). */
export const ATTR_DEAD_LETTER_REASON = 'jobslo.dead_letter.reason';
/** Caller-supplied idempotency key of a run. */
export const ATTR_IDEMPOTENCY_KEY = 'jobslo.run.idempotency_key';
/** Queue (or schedule) the run came from. */
export const ATTR_QUEUE_NAME = 'jobslo.queue.name';
/** When the run was queued, Unix epoch nanoseconds (int or decimal string). */
export const ATTR_QUEUED_TIME_UNIX_NANO = 'jobslo.run.queued_time_unix_nano';
/** Cost of the run in the configured currency unit (double). */
export const ATTR_COST_AMOUNT = 'jobslo.cost.amount';
/** CPU seconds (user + system) the run's processes used (double). */
export const ATTR_CPU_SECONDS = 'jobslo.resource.cpu_seconds';
/** Peak resident set size of the run's processes in bytes (int). */
export const ATTR_MAX_RSS_BYTES = 'jobslo.resource.max_rss_bytes';

// Reused OpenTelemetry semantic conventions.
/** semconv `error.type`: class of error (exception type, `timeout`, exit code). */
export const ATTR_ERROR_TYPE = 'error.type';
/** semconv `process.exit.code`. */
export const ATTR_PROCESS_EXIT_CODE = 'process.exit.code';
/** semconv `process.command`. */
export const ATTR_PROCESS_COMMAND = 'process.command';
/** semconv `service.name` (resource). */
export const ATTR_SERVICE_NAME = 'service.name';
/** semconv `cicd.pipeline.name`: accepted as the job name when `jobslo.job.name` is absent. */
export const ATTR_CICD_PIPELINE_NAME = 'cicd.pipeline.name';
/** semconv `cicd.pipeline.run.id`: accepted as the run id when `jobslo.run.id` is absent. */
export const ATTR_CICD_PIPELINE_RUN_ID = 'cicd.pipeline.run.id';
/** semconv `k8s.job.name`: accepted as the job name after `cicd.pipeline.name`. */
export const ATTR_K8S_JOB_NAME = 'k8s.job.name';
/** semconv `k8s.job.uid`: accepted as the run id after `cicd.pipeline.run.id`. */
export const ATTR_K8S_JOB_UID = 'k8s.job.uid';

/** semconv `cicd.pipeline.result`: success, failure, error, timeout, cancellation, skip. */
export const ATTR_CICD_PIPELINE_RESULT = 'cicd.pipeline.result';
/** semconv `cicd.pipeline.task.name`: a task run is its own job, `<pipeline>/<task>`. */
export const ATTR_CICD_PIPELINE_TASK_NAME = 'cicd.pipeline.task.name';
/** semconv `cicd.pipeline.task.run.id`. */
export const ATTR_CICD_PIPELINE_TASK_RUN_ID = 'cicd.pipeline.task.run.id';
/** semconv `cicd.pipeline.task.run.result`: the same six values as {@link ATTR_CICD_PIPELINE_RESULT}. */
export const ATTR_CICD_PIPELINE_TASK_RUN_RESULT = 'cicd.pipeline.task.run.result';
/** semconv `k8s.cronjob.name`: the job name of a CronJob's runs (each run is a Job). */
export const ATTR_K8S_CRONJOB_NAME = 'k8s.cronjob.name';
/** semconv `messaging.operation.type` (and the older `messaging.operation`): `process` spans are attempts. */
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_OLD = 'messaging.operation';
/** semconv `messaging.destination.name` (and the older `messaging.destination`): the job name of a generic consumer. */
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_DESTINATION_OLD = 'messaging.destination';
/** semconv `messaging.message.id`: the run id of generic consumers and of Celery tasks. */
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
/** opentelemetry-instrumentation-celery: `run` (execution) or `apply_async` (enqueue). */
export const ATTR_CELERY_ACTION = 'celery.action';
/** opentelemetry-instrumentation-celery: the task name (the job name). */
export const ATTR_CELERY_TASK_NAME = 'celery.task_name';
/** opentelemetry-instrumentation-celery: SUCCESS, FAILURE, RETRY, ... after the execution. */
export const ATTR_CELERY_STATE = 'celery.state';
/** opentelemetry-instrumentation-celery: retries before this execution (absent when 0). */
export const ATTR_CELERY_RETRIES = 'celery.retries';
/** BullMQ telemetry (bullmq-otel): job id, unique within its queue. */
export const ATTR_BULLMQ_JOB_ID = 'bullmq.job.id';
/** BullMQ telemetry: job name. */
export const ATTR_BULLMQ_JOB_NAME = 'bullmq.job.name';
/** BullMQ telemetry: attempts made including this one (1-based), on `process` spans. */
export const ATTR_BULLMQ_ATTEMPTS_MADE = 'bullmq.job.attempts.made';
/** BullMQ telemetry: `add`, `process`, `complete`, `delay`, `fail`, ... */
export const ATTR_BULLMQ_QUEUE_OPERATION = 'bullmq.queue.operation';
/** BullMQ telemetry: queue name. */
export const ATTR_BULLMQ_QUEUE_NAME = 'bullmq.queue.name';

/** Span names the executor uses (runners in other languages may use any name). */
export const SPAN_NAME_RUN = 'job.run';
export const SPAN_NAME_ATTEMPT = 'job.attempt';

/** Values of {@link ATTR_SPAN_TYPE}. */
export const SpanType = { Run: 'run', Attempt: 'attempt' } as const;
export type SpanType = (typeof SpanType)[keyof typeof SpanType];

/**
 * Final outcome of a run. `succeeded`, `failed` and `timed_out` count toward
 * the success rate; `cancelled` (stopped by an operator or signal) and
 * `skipped` (idempotency key already succeeded) are reported but excluded.
 */
export const RunOutcome = {
  Succeeded: 'succeeded',
  Failed: 'failed',
  TimedOut: 'timed_out',
  Cancelled: 'cancelled',
  Skipped: 'skipped',
} as const;
export type RunOutcome = (typeof RunOutcome)[keyof typeof RunOutcome];

/** Outcome of one attempt. */
export const AttemptOutcome = {
  Succeeded: 'succeeded',
  Failed: 'failed',
  TimedOut: 'timed_out',
  Cancelled: 'cancelled',
} as const;
export type AttemptOutcome = (typeof AttemptOutcome)[keyof typeof AttemptOutcome];

/** Outcomes that count in the success-rate denominator. */
export const COUNTED_OUTCOMES: readonly RunOutcome[] = [RunOutcome.Succeeded, RunOutcome.Failed, RunOutcome.TimedOut];

/** Delay before the next attempt in milliseconds, on `job.retry_scheduled` events. */
export const ATTR_RETRY_DELAY_MILLIS = 'jobslo.retry.delay_ms';
/** Scheduled time of a missed tick, Unix epoch nanoseconds, on `job.missed` events. */
export const ATTR_SCHEDULED_TIME_UNIX_NANO = 'jobslo.schedule.scheduled_time_unix_nano';
/**
 * Last bytes (default 4 KiB) of a failed attempt's stdout, on attempt spans;
 * values of secret-looking environment variables are replaced by `[REDACTED]`.
 */
export const ATTR_ATTEMPT_STDOUT_TAIL = 'jobslo.attempt.stdout_tail';
/** Last bytes (default 4 KiB) of a failed attempt's stderr, redacted like {@link ATTR_ATTEMPT_STDOUT_TAIL}. */
export const ATTR_ATTEMPT_STDERR_TAIL = 'jobslo.attempt.stderr_tail';

/**
 * Lifecycle events. The executor records them as span events on the run span
 * (the event's time is the transition's time); `job.missed` and `job.skipped`
 * ride on a zero-length run span of their own. See `docs/conventions.md`.
 */
export const LifecycleEvent = {
  Queued: 'job.queued',
  Started: 'job.started',
  AttemptFailed: 'job.attempt_failed',
  RetryScheduled: 'job.retry_scheduled',
  Succeeded: 'job.succeeded',
  Failed: 'job.failed',
  TimedOut: 'job.timed_out',
  Cancelled: 'job.cancelled',
  DeadLettered: 'job.dead_lettered',
  Skipped: 'job.skipped',
  Missed: 'job.missed',
} as const;
export type LifecycleEvent = (typeof LifecycleEvent)[keyof typeof LifecycleEvent];
