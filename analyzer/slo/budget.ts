/**
 * Error-budget arithmetic. Pure functions; ratios are in [0, 1].
 *
 * - error ratio over a window = 1 − good / total
 * - burn rate = error ratio / (1 − objective): 1 spends exactly the budget
 *   over the SLO window, 14.4 spends a 30-day budget in 50 hours
 * - budget consumed over the SLO window = its burn rate; remaining = 1 − consumed
 */

/** Burn rate of a window: `(1 - good/total) / (1 - objective)`; null without events. */
export function burnRate(good: number, total: number, objective: number): number | null {
  if (total <= 0) return null;
  return (1 - good / total) / (1 - objective);
}

/**
 * Fraction of the error budget left over the SLO window: `1 − burn rate of
 * the whole window`. 1 without events; negative when overspent.
 */
export function budgetRemaining(good: number, total: number, objective: number): number {
  return 1 - (burnRate(good, total, objective) ?? 0);
}

/**
 * When the remaining budget runs out if the budget keeps burning at
 * `burnRateNow`: a burn rate of 1 spends a whole budget in one SLO window,
 * so the remaining fraction lasts `remaining × window / burn`. Returns
 * `atMillis` when the budget is already spent, null when it burns slower
 * than 1x (or the rate is unknown): a steady burn below 1 never spends a
 * rolling window's budget, and one of 1x or more spends what is left within
 * one window, so the projection never reaches past the window. A projection,
 * not a promise.
 */
export function budgetExhaustedAtMillis(remaining: number, burnRateNow: number | null, windowMillis: number, atMillis: number): number | null {
  if (remaining <= 0) return atMillis;
  // Below 1x the rolling window lets old events go faster than new ones use
  // the budget: at a steady burn under 1 it never runs out.
  if (burnRateNow === null || burnRateNow < 1) return null;
  return atMillis + (remaining * windowMillis) / burnRateNow;
}

/**
 * Time a multiwindow alert takes to fire after a constant error ratio `e`
 * starts (with no errors before), for a long window `L` and threshold `factor`:
 * `factor × (1 − objective) / e × L` (SRE Workbook, "detection time").
 * Infinity when `e` never exceeds the threshold.
 */
export function detectionTimeMillis(errorRatio: number, objective: number, factor: number, longWindowMillis: number): number {
  const threshold = factor * (1 - objective);
  if (errorRatio <= threshold) return Infinity;
  return (threshold / errorRatio) * longWindowMillis;
}
