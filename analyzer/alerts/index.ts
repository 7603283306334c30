/** SLO alert delivery: alert state, webhook payloads, signatures, the durable outbox and retries. */
export { runAlertCycle, toOutboxEntries, statePaths, DEFAULT_STATE_DIR } from './cycle.js';
export type { AlertCycleOptions, AlertCycleResult } from './cycle.js';
export { planNotifications, alertFingerprint, loadAlertState, saveAlertState, emptyAlertState, ALERT_NAME } from './state.js';
export type { AlertNotification, AlertState, FiringAlert, PlanOptions } from './state.js';
export { renderPayload, alertmanagerPayload, slackPayload, jsonPayload, slackEscape } from './payload.js';
export type { PayloadContext } from './payload.js';
export { signPayload, verifySignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sign.js';
export { classifyResponse, classifyNetworkError, parseRetryAfterMillis, retryDelayMillis, RETRYABLE_STATUSES } from './retry.js';
export type { DeliveryOutcome } from './retry.js';
export { FileOutbox } from './outbox.js';
export type { OutboxEntry, StoredEntry, FileOutboxOptions } from './outbox.js';
export { drainOutbox, sendWebhook } from './deliver.js';
export type { DeliveryOptions, DrainResult } from './deliver.js';
export { systemAlertClock } from './clock.js';
export type { AlertClock } from './clock.js';
