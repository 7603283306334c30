/**
 * Maps the SLO evaluator's result onto {@link ReportSloInput}. The evaluator's
 * types are described structurally here (no import from `analyzer/slo`), so
 * any value shaped like its `SloEvaluation` fits, and a change of shape there
 * shows up as a type error at the call site.
 */
import type { ReportAlertInput, ReportSloInput } from './model.js';

/** The parts of the SLO evaluator's `SloEvaluation` the report reads. */
export interface SloEvaluationLike {
  slo: {
    name: string;
    /** Exact job name or glob. */
    job: string;
    /** Dimension filter (`where:`); absent: every run of the job. */
    where?: Readonly<Record<string, string>>;
    sli: string;
    objective: number;
    windowMillis: number;
    latencyThresholdMillis?: number;
  };
  atMillis: number;
  good: number;
  total: number;
  sli: number | null;
  budgetRemaining: number;
  burnRates: ReadonlyMap<number, number | null>;
  budgetExhaustedAtMillis: number | null;
  tiers: readonly {
    tier: { severity: string; longWindowMillis: number; shortWindowMillis: number; factor: number };
    burnRateLong: number | null;
    burnRateShort: number | null;
    firing: boolean;
  }[];
}

/** Alert history the evaluation itself does not carry (from the alert state store), keyed like the tiers. */
export interface AlertHistoryLike {
  severity: string;
  longWindowMillis: number;
  state: 'firing' | 'resolved';
  firedAtMillis: number | null;
  resolvedAtMillis: number | null;
  /** The alert's summary, as sent. */
  summary?: string;
}

const rate = (v: number | null): string => (v === null ? 'n/a' : `${Number(v.toPrecision(3))}x`);
const span = (ms: number): string => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/** What a firing tier does, when the alert state has no summary for it. */
function burnSummary(t: SloEvaluationLike['tiers'][number]): string {
  return `burning ${rate(t.burnRateLong)} over ${span(t.tier.longWindowMillis)} and ${rate(t.burnRateShort)} over ${span(t.tier.shortWindowMillis)}, above ${rate(t.tier.factor)}`;
}

/**
 * One evaluated SLO as report input. Firing tiers become firing alerts (with
 * their long and short burn rates); `history` adds resolved alerts and fire
 * times when the caller has them. Success and latency SLIs get run-based
 * charts; other SLIs (freshness) get `criterion: null`.
 */
export function reportSloFromEvaluation(e: SloEvaluationLike, history: readonly AlertHistoryLike[] = []): ReportSloInput {
  const criterion: ReportSloInput['criterion'] =
    e.slo.sli === 'success'
      ? { kind: 'success' }
      : e.slo.sli === 'latency' && e.slo.latencyThresholdMillis !== undefined
        ? { kind: 'latency', thresholdMillis: e.slo.latencyThresholdMillis }
        : null;
  const alerts: ReportAlertInput[] = [];
  for (const t of e.tiers) {
    const past = history.filter((h) => h.severity === t.tier.severity && h.longWindowMillis === t.tier.longWindowMillis);
    const rates = [
      { windowMillis: t.tier.longWindowMillis, rate: t.burnRateLong },
      { windowMillis: t.tier.shortWindowMillis, rate: t.burnRateShort },
    ];
    if (t.firing) {
      const state = past.find((h) => h.state === 'firing');
      alerts.push({
        tier: t.tier.severity,
        longWindowMillis: t.tier.longWindowMillis,
        state: 'firing',
        firedAtMillis: state?.firedAtMillis ?? null,
        resolvedAtMillis: null,
        burnRates: rates,
        summary: state?.summary ?? burnSummary(t),
      });
    }
    for (const h of past.filter((x) => x.state === 'resolved')) {
      alerts.push({
        tier: h.severity,
        longWindowMillis: h.longWindowMillis,
        state: 'resolved',
        firedAtMillis: h.firedAtMillis,
        resolvedAtMillis: h.resolvedAtMillis,
        burnRates: [],
        ...(h.summary !== undefined ? { summary: h.summary } : {}),
      });
    }
  }
  return {
    name: e.slo.name,
    jobs: e.slo.job,
    ...(e.slo.where ? { where: e.slo.where } : {}),
    objective: e.slo.objective,
    criterion,
    windowMillis: e.slo.windowMillis,
    evaluatedAtMillis: e.atMillis,
    sliValue: e.sli,
    good: e.good,
    total: e.total,
    errorBudgetRemaining: e.total === 0 ? null : e.budgetRemaining,
    burnRates: [...e.burnRates].map(([windowMillis, rate]) => ({ windowMillis, rate })),
    budgetExhaustedAtMillis: e.budgetExhaustedAtMillis,
    alertTiers: e.tiers.map((t) => ({ name: t.tier.severity, burnRateThreshold: t.tier.factor, longWindowMillis: t.tier.longWindowMillis, shortWindowMillis: t.tier.shortWindowMillis })),
    alerts,
    unit: e.slo.sli === 'freshness' ? 'ticks' : 'runs',
  };
}
