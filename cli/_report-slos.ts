import { alertFingerprint } from '../analyzer/alerts/index.js';
import type { AlertState } from '../analyzer/alerts/index.js';
import type { SloEvaluation } from '../analyzer/slo/index.js';
import { reportSloFromEvaluation } from '../reports/index.js';
import type { AlertHistoryLike, ReportCheckInput, ReportSloInput } from '../reports/index.js';
import { describeUnmatched } from '../analyzer/monitors/index.js';
import type { MonitorEvaluation, UnmatchedSelector } from '../analyzer/monitors/index.js';
import { formatDurationMillis } from '../contracts/index.js';

/** The report's SLO input from the latest evaluations, with fire times, resolves and summaries from the alert state. */
export function reportSlos(evaluations: readonly SloEvaluation[], state: AlertState): ReportSloInput[] {
  return evaluations.map((e) => {
    const history: AlertHistoryLike[] = [];
    for (const t of e.tiers) {
      const fp = alertFingerprint(e.slo.name, t.tier);
      const firing = state.firing[fp];
      if (t.firing) {
        history.push({
          severity: t.tier.severity,
          longWindowMillis: t.tier.longWindowMillis,
          state: 'firing',
          firedAtMillis: firing?.startsAtMillis ?? null,
          resolvedAtMillis: null,
          ...(firing?.annotations['summary'] !== undefined ? { summary: firing.annotations['summary'] } : {}),
        });
      }
      const resolved = state.resolved?.[fp];
      if (!t.firing && resolved) {
        history.push({
          severity: t.tier.severity,
          longWindowMillis: t.tier.longWindowMillis,
          state: 'resolved',
          firedAtMillis: resolved.startsAtMillis,
          resolvedAtMillis: resolved.endsAtMillis,
          ...(resolved.annotations['summary'] !== undefined ? { summary: resolved.annotations['summary'] } : {}),
        });
      }
    }
    return reportSloFromEvaluation(e, history);
  });
}

/** The report's job checks from monitor evaluations; a monitor whose job matched no job seen carries the warning. */
export function reportChecks(evaluations: readonly MonitorEvaluation[], unmatched: readonly UnmatchedSelector[] = []): ReportCheckInput[] {
  return evaluations.map((e) => {
    const u = unmatched.find((x) => x.kind === 'monitor' && x.name === e.monitor.name);
    const s = e.monitor.schedule;
    return {
      name: e.monitor.name,
      job: e.monitor.job,
      status: e.status,
      sinceMillis: e.sinceMillis,
      lastRun: e.lastRun === null ? null : { outcome: e.lastRun.outcome, endMillis: e.lastRun.endMillis },
      lastSuccessMillis: e.lastSuccessEndMillis,
      nextExpectedMillis: e.nextExpectedMillis,
      schedule: s.kind === 'cron' ? `${s.cron} (${s.timezone})` : `every ${formatDurationMillis(s.periodMillis)}`,
      graceMillis: e.monitor.graceMillis,
      ...(e.monitor.maxRuntimeMillis !== undefined ? { maxRuntimeMillis: e.monitor.maxRuntimeMillis } : {}),
      missedInARow: e.missedInARow,
      lateDeadlineMillis: e.lateDeadlineMillis,
      overdueStartsMillis: e.overdueStartsMillis,
      ...(u ? { warning: describeUnmatched(u) } : {}),
    };
  });
}

/** SLO inputs with the warning of each SLO whose job matched no job seen. */
export function withSloWarnings(slos: ReportSloInput[], unmatched: readonly UnmatchedSelector[]): ReportSloInput[] {
  return slos.map((s) => {
    const u = unmatched.find((x) => x.kind === 'slo' && x.name === s.name);
    return u ? { ...s, warning: describeUnmatched(u) } : s;
  });
}
