/** HTML SLO reports: executive, on-call and per-job debug pages, rendered server-side with handlebars and inline SVG. */
export { collectReportData, chooseBucketMillis, latencyHistogram, histogramFromCounts, binCounts, LATENCY_EDGES_MILLIS } from './collect.js';
export type { CollectReportOptions } from './collect.js';
export { renderReportSite, writeReportSite, renderIndex, writeReport } from './render.js';
export type { ReportContext } from './render.js';
export { reportSlug, assignSlugs } from './slug.js';
export { reportSloFromEvaluation } from './slo-input.js';
export type { SloEvaluationLike, AlertHistoryLike } from './slo-input.js';
export type {
  ReportData,
  ReportJobDetail,
  ReportSloData,
  ReportSloInput,
  ReportAlertTier,
  ReportAlertInput,
  ReportBurnRate,
  ReportFreshnessInput,
  ReportCheckInput,
  ReportCheckStatus,
  LatencyHistogram,
} from './model.js';
