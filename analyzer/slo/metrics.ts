/**
 * Prometheus text exposition (format 0.0.4) of SLO evaluations, for
 * `jobslo serve`'s `GET /metrics`.
 */
import { formatDurationMillis } from '../../contracts/index.js';
import type { SloEvaluation } from './evaluate.js';

/** Content-Type of {@link formatPrometheus}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes `# HELP` text: backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value to 12 significant digits; `NaN`, `+Inf`, `-Inf` spelled as Prometheus wants. */
export function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  // 12 significant digits: 1 / (1 - 0.99) prints as 100, not 99.99999999999991.
  return String(Number(v.toPrecision(12)));
}

type Labels = Record<string, string>;

/** Collects samples per metric family and renders them with one HELP/TYPE each. */
export class MetricsWriter {
  private readonly families = new Map<string, { help: string; type: 'gauge' | 'counter' | 'histogram'; samples: string[] }>();

  /**
   * Adds one sample. For a histogram, `name` is the family name and `sample`
   * the series suffix (`_bucket`, `_sum`, `_count`).
   */
  add(name: string, type: 'gauge' | 'counter' | 'histogram', help: string, labels: Labels, value: number, sample = ''): void {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, samples: [] };
      this.families.set(name, f);
    }
    const keys = Object.keys(labels);
    const l = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k] ?? '')}"`).join(',')}}`;
    f.samples.push(`${name}${sample}${l} ${formatSampleValue(value)}`);
  }

  toString(): string {
    let out = '';
    for (const [name, f] of this.families) {
      out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n`;
      for (const s of f.samples) out += `${s}\n`;
    }
    return out;
  }
}

/** Process-level numbers exported next to the SLOs. */
export interface ServeStats {
  /** Completed evaluation cycles. */
  evaluations: number;
  /** Cycles that failed. */
  evaluationErrors: number;
  /** Notifications waiting in the outbox after the last cycle. */
  outboxPending: number;
  /** Notifications delivered since start. */
  delivered: number;
  /** Unix ms of the last successful evaluation, or null. */
  lastEvaluationMillis: number | null;
}

/**
 * Renders SLO evaluations as Prometheus metrics. Per SLO (labels `slo`,
 * `jobslo_job` (the job selector; not `job`, which Prometheus sets to the
 * scrape job), `sli`): SLI, objective, error budget remaining, window events, burn
 * rate per window (`window` label), budget exhaustion time, and per alert tier
 * (`severity`, `long_window`, `short_window`) whether it fires. Pure.
 */
export function formatPrometheus(evals: readonly SloEvaluation[], stats?: ServeStats, writer?: MetricsWriter): string {
  const w = writer ?? new MetricsWriter();
  for (const e of evals) {
    const base = { slo: e.slo.name, jobslo_job: e.slo.job, sli: e.slo.sli };
    w.add('jobslo_slo_sli_ratio', 'gauge', 'Good events / total events over the SLO window (NaN without events).', base, e.sli ?? NaN);
    w.add('jobslo_slo_objective_ratio', 'gauge', 'Target ratio of good events.', base, e.slo.objective);
    w.add('jobslo_slo_window_seconds', 'gauge', 'Length of the rolling SLO window.', base, e.slo.windowMillis / 1000);
    w.add('jobslo_slo_error_budget_remaining_ratio', 'gauge', 'Fraction of the error budget left over the SLO window (1 untouched, negative overspent).', base, e.budgetRemaining);
    w.add('jobslo_slo_window_good_events', 'gauge', 'Good events (runs, or schedule ticks for freshness) in the SLO window.', base, e.good);
    w.add('jobslo_slo_window_events', 'gauge', 'Events (runs, or schedule ticks for freshness) in the SLO window.', base, e.total);
    for (const [win, v] of [...e.burnRates].sort((a, b) => a[0] - b[0])) {
      w.add('jobslo_slo_burn_rate', 'gauge', 'Error ratio / (1 - objective) over a window (NaN without events).', { ...base, window: formatDurationMillis(win) }, v ?? NaN);
    }
    if (e.budgetExhaustedAtMillis !== null) {
      w.add('jobslo_slo_error_budget_exhausted_timestamp_seconds', 'gauge', 'When the error budget runs out at the current burn rate.', base, Math.round(e.budgetExhaustedAtMillis / 1000));
    }
    for (const t of e.tiers) {
      const labels = { ...base, severity: t.tier.severity, long_window: formatDurationMillis(t.tier.longWindowMillis), short_window: formatDurationMillis(t.tier.shortWindowMillis) };
      w.add('jobslo_slo_alert_firing', 'gauge', '1 when the multiwindow burn-rate alert fires, else 0.', labels, t.firing ? 1 : 0);
      w.add('jobslo_slo_alert_burn_rate_threshold', 'gauge', 'Burn-rate factor both windows must exceed for the alert to fire.', labels, t.tier.factor);
    }
  }
  if (stats) {
    w.add('jobslo_slo_evaluations_total', 'counter', 'Completed SLO evaluation cycles.', {}, stats.evaluations);
    w.add('jobslo_slo_evaluation_errors_total', 'counter', 'SLO evaluation cycles that failed.', {}, stats.evaluationErrors);
    if (stats.lastEvaluationMillis !== null) {
      w.add('jobslo_slo_last_evaluation_timestamp_seconds', 'gauge', 'When SLOs were last evaluated.', {}, Math.round(stats.lastEvaluationMillis / 1000));
    }
    w.add('jobslo_alert_outbox_pending', 'gauge', 'Notifications waiting in the outbox for delivery.', {}, stats.outboxPending);
    w.add('jobslo_alert_notifications_delivered_total', 'counter', 'Webhook notifications delivered.', {}, stats.delivered);
  }
  return w.toString();
}
