import { alertFingerprint } from '../analyzer/alerts/index.js';
import type { AlertState } from '../analyzer/alerts/index.js';
import type { SloEvaluation } from '../analyzer/slo/index.js';
import { reportSloFromEvaluation } from '../reports/index.js';
import type { ReportSloInput } from '../reports/index.js';

/** The report's SLO input from the latest evaluations, with fire times from the alert state. */
export function reportSlos(evaluations: readonly SloEvaluation[], state: AlertState): ReportSloInput[] {
  return evaluations.map((e) =>
    reportSloFromEvaluation(
      e,
      e.tiers
        .filter((t) => t.firing)
        .map((t) => ({
          severity: t.tier.severity,
          longWindowMillis: t.tier.longWindowMillis,
          state: 'firing' as const,
          firedAtMillis: state.firing[alertFingerprint(e.slo.name, t.tier)]?.startsAtMillis ?? null,
          resolvedAtMillis: null,
        })),
    ),
  );
}

