/** Shared contracts every area imports: telemetry names, data model, errors, logging, durations. */
export {
  ATTR_JOB_NAME,
  ATTR_RUN_ID,
  ATTR_SPAN_TYPE,
  ATTR_ATTEMPT_NUMBER,
  ATTR_ATTEMPT_OUTCOME,
  ATTR_RUN_OUTCOME,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_DEAD_LETTERED,
  ATTR_DEAD_LETTER_REASON,
  ATTR_IDEMPOTENCY_KEY,
  ATTR_QUEUE_NAME,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_COST_AMOUNT,
  ATTR_CPU_SECONDS,
  ATTR_MAX_RSS_BYTES,
  ATTR_ERROR_TYPE,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_PROCESS_COMMAND,
  ATTR_SERVICE_NAME,
  ATTR_CICD_PIPELINE_NAME,
  ATTR_CICD_PIPELINE_RUN_ID,
  ATTR_K8S_JOB_NAME,
  ATTR_K8S_JOB_UID,
  ATTR_CICD_PIPELINE_RESULT,
  ATTR_CICD_PIPELINE_TASK_NAME,
  ATTR_CICD_PIPELINE_TASK_RUN_ID,
  ATTR_CICD_PIPELINE_TASK_RUN_RESULT,
  ATTR_K8S_CRONJOB_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_OPERATION_OLD,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_OLD,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_CELERY_ACTION,
  ATTR_CELERY_TASK_NAME,
  ATTR_CELERY_STATE,
  ATTR_CELERY_RETRIES,
  ATTR_BULLMQ_JOB_ID,
  ATTR_BULLMQ_JOB_NAME,
  ATTR_BULLMQ_ATTEMPTS_MADE,
  ATTR_BULLMQ_QUEUE_NAME,
  ATTR_BULLMQ_QUEUE_OPERATION,
  SPAN_NAME_RUN,
  SPAN_NAME_ATTEMPT,
  SpanType,
  RunOutcome,
  AttemptOutcome,
  COUNTED_OUTCOMES,
  ATTR_RETRY_DELAY_MILLIS,
  ATTR_SCHEDULED_TIME_UNIX_NANO,
  ATTR_ATTEMPT_STDOUT_TAIL,
  ATTR_ATTEMPT_STDERR_TAIL,
  LifecycleEvent,
} from './attributes.js';
export { StatusCode } from './model.js';
export type { AttributeValue, Attributes, SpanEventRecord, SpanRecord } from './model.js';
export { JobsloError, ConfigError, DecodeError, StoreError, UnrecoverableError, errorMessage } from './errors.js';
export type { JobsloErrorCode } from './errors.js';
export { noopLogger, createLineLogger, parseLogLevel } from './logger.js';
export type { Logger, LogLevel, LogFields } from './logger.js';
export { parseDurationMillis, formatDurationMillis } from './duration.js';
export { JOBSLO_VERSION } from './version.js';
export { LIFECYCLE_SCHEMA, lifecycleEventId, lifecycleFromJson, lifecycleToJson, parseLifecycleBatch } from './lifecycle.js';
export type { LifecycleEventRecord } from './lifecycle.js';
export { YamlFieldReader, formatYamlPath, describeYamlValue } from './config-reader.js';
export type { YamlPathSegment } from './config-reader.js';
export { cronProblem, isTimeZone, CRON_FIELDS_HELP } from './cron.js';
