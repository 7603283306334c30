/** Job monitors (check states): a state machine per scheduled job, its state file and its notifications. */
export { stepMonitor, nextCronTick, DEFAULT_LOOKBACK_MILLIS } from './machine.js';
export type { StepOptions } from './machine.js';
export { readMonitorFacts, factsFromMillis, FACTS_SETTLE_MILLIS, MAX_FACT_RUNS } from './facts.js';
export {
  planMonitorNotifications,
  loadMonitorState,
  loadMonitorStateFrom,
  monitorNotificationId,
  emptyMonitorState,
  monitorStatePath,
  monitorFingerprint,
  describeSchedule,
  MONITOR_DOWN_ALERT,
  MONITOR_RUNTIME_ALERT,
} from './state.js';
export type { MonitorState, MonitorPlanOptions } from './state.js';
export { evaluateMonitors, runMonitorCycle } from './cycle.js';
export type { EvaluateMonitorsOptions, MonitorCycleOptions, MonitorCycleResult } from './cycle.js';
export { MONITOR_STATUSES } from './types.js';
export type {
  MonitorStatus,
  MonitorSchedule,
  MonitorSource,
  MonitorDefinition,
  FinishedRunFact,
  OpenRunFact,
  MonitorFacts,
  MonitorRecord,
  MonitorAlertKind,
  MonitorEvaluation,
} from './types.js';
export { toMonitorJson, formatMonitorTable } from './format.js';
export type { MonitorJson } from './format.js';
export { findUnmatchedSelectors, describeUnmatched, selectorMatches, suggestJobs, unmatchedJson } from './selectors.js';
export type { UnmatchedSelector } from './selectors.js';
export { JobRunMetrics, writeMonitorMetrics, RUN_DURATION_BUCKETS_SECONDS, RUN_SETTLE_MILLIS } from './job-metrics.js';
