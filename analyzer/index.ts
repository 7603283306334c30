/** Per-job SLIs computed from a store. */
export { analyze, toJobSlis } from './slis.js';
export type { Analysis, AnalyzeOptions, JobSlis } from './slis.js';
export { formatTable } from './table.js';
export { loadConfig, parseConfig, evaluateSlo, evaluateSlos, toSloJson, formatSloTable, formatPrometheus, defaultTiers, burnFactor } from './slo/index.js';
export type { JobsloConfig, SloDefinition, SloEvaluation, SloJson, BurnRateTier } from './slo/index.js';
export { runAlertCycle, FileOutbox, drainOutbox, verifySignature, signPayload } from './alerts/index.js';
export type { AlertCycleResult, AlertNotification, OutboxEntry } from './alerts/index.js';
