/**
 * Burn-rate alert tiers (Google SRE Workbook, "Alerting on SLOs",
 * multiwindow, multi-burn-rate alerts).
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** One multiwindow burn-rate alert: fires when both windows burn faster than `factor`. */
export interface BurnRateTier {
  /** Routing severity, e.g. `page` or `ticket`. */
  severity: string;
  /** Long window, ms. */
  longWindowMillis: number;
  /** Short window, ms (the Workbook uses 1/12 of the long window). */
  shortWindowMillis: number;
  /** Burn-rate threshold both windows must exceed. */
  factor: number;
  /** Disabled tiers are neither evaluated nor reported. @default true */
  enabled: boolean;
}

/** A tier defined by the share of the error budget it spends in its long window. */
export interface BudgetTier {
  severity: string;
  longWindowMillis: number;
  shortWindowMillis: number;
  /** Fraction of the whole error budget consumed in the long window, (0, 1]. */
  budgetFraction: number;
}

/**
 * The Workbook's recommended tiers (its final multiwindow, multi-burn-rate
 * recommendation, also Sloth's defaults) for a 30-day SLO: page on 2% of the
 * budget in 1h (5m short window), page on 5% in 6h (30m), ticket on 10% in
 * 1d (2h), ticket on 10% in 3d (6h).
 */
export const WORKBOOK_TIERS: readonly BudgetTier[] = Object.freeze([
  { severity: 'page', longWindowMillis: HOUR, shortWindowMillis: 5 * 60_000, budgetFraction: 0.02 },
  { severity: 'page', longWindowMillis: 6 * HOUR, shortWindowMillis: 30 * 60_000, budgetFraction: 0.05 },
  { severity: 'ticket', longWindowMillis: DAY, shortWindowMillis: 2 * HOUR, budgetFraction: 0.1 },
  { severity: 'ticket', longWindowMillis: 3 * DAY, shortWindowMillis: 6 * HOUR, budgetFraction: 0.1 },
]);

/**
 * Burn-rate factor that spends `budgetFraction` of the budget of an SLO window
 * of `sloWindowMillis` in `longWindowMillis`:
 * `factor = budgetFraction × sloWindow / longWindow`.
 * For 30d: 2% in 1h gives 14.4, 5% in 6h gives 6, 10% in 1d gives 3, 10% in
 * 3d gives 1; for 28d: 13.44, 5.6, 2.8 and 0.933.
 */
export function burnFactor(budgetFraction: number, sloWindowMillis: number, longWindowMillis: number): number {
  return (budgetFraction * sloWindowMillis) / longWindowMillis;
}

/** The Workbook tiers with their factors scaled to an SLO window. */
export function defaultTiers(sloWindowMillis: number): BurnRateTier[] {
  return WORKBOOK_TIERS.map((t) => ({
    severity: t.severity,
    longWindowMillis: t.longWindowMillis,
    shortWindowMillis: t.shortWindowMillis,
    factor: burnFactor(t.budgetFraction, sloWindowMillis, t.longWindowMillis),
    enabled: true,
  }));
}
