/** SLOs: config, error budgets, burn rates, freshness and burn-rate alert tiers. */
export { loadConfig, parseConfig, configuredStore, DEFAULT_CONFIG_FILE, RESERVED_ALERT_LABELS, COMPUTED_ANNOTATIONS } from './config.js';
export { TEMPLATE_VARIABLES, checkTemplate, renderTemplate } from './template.js';
export type { JobsloConfig, SloDefinition, SliKind, FreshnessSpec, WebhookConfig, WebhookFormat, AlertsConfig, AlertmanagerTarget, ParseConfigOptions } from './config.js';
export { WORKBOOK_TIERS, burnFactor, defaultTiers } from './tiers.js';
export type { BurnRateTier, BudgetTier } from './tiers.js';
export { burnRate, budgetRemaining, budgetExhaustedAtMillis, detectionTimeMillis } from './budget.js';
export { scheduleTicks, cachedScheduleTicks, judgeTicks, countTicks, MAX_TICKS } from './freshness.js';
export type { TickVerdict } from './freshness.js';
export { evaluateSlo, evaluateSlos, evaluateFromCounts, countFreshness, countSloWindows, sloWindows, toSloJson, formatSloTable } from './evaluate.js';
export type { SloEvaluation, TierEvaluation, SloJson } from './evaluate.js';
export { formatPrometheus, escapeLabelValue, formatSampleValue, MetricsWriter, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
export type { ServeStats } from './metrics.js';
