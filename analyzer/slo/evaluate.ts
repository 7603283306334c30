/**
 * Evaluates SLOs against a store: SLI, error budget, burn rates and the
 * multiwindow burn-rate alert tiers. Uses only the {@link Store} interface,
 * so it gives the same answers on every store.
 */
import { ConfigError, formatDurationMillis } from '../../contracts/index.js';
import type { DimensionFilter, GoodRunCriterion, RunReader, RunStartsQuery, WindowCount } from '../../store/index.js';
import { budgetExhaustedAtMillis, budgetRemaining, burnRate } from './budget.js';
import type { FreshnessSpec, SloDefinition } from './config.js';
import { cachedScheduleTicks, countTicks, judgeTicks } from './freshness.js';
import type { BurnRateTier } from './tiers.js';

/** One tier's verdict. */
export interface TierEvaluation {
  tier: BurnRateTier;
  burnRateLong: number | null;
  burnRateShort: number | null;
  /** Events in the long window (for the `min_events` guard). */
  longEvents: number;
  firing: boolean;
}

/** Everything known about one SLO at one instant. */
export interface SloEvaluation {
  slo: SloDefinition;
  /** Evaluation time, Unix ms; every window ends at (and includes) it. */
  atMillis: number;
  /** Good and total events over the SLO window (runs, or ticks for freshness). */
  good: number;
  total: number;
  /** good / total; null without events. */
  sli: number | null;
  budgetRemaining: number;
  /** Burn rate per window length, ms; null for a window without events. */
  burnRates: Map<number, number | null>;
  /** The burn rate used for the exhaustion projection and the window it came from. */
  currentBurnRate: { windowMillis: number; value: number } | null;
  budgetExhaustedAtMillis: number | null;
  /** Enabled tiers only, in config order. */
  tiers: TierEvaluation[];
}

/** The `slos[]` element of `jobslo analyze --format json`. Field names are a stable contract. */
export interface SloJson {
  name: string;
  job: string;
  sli: string;
  objective: number;
  /** SLO window, e.g. `30d`. */
  window: string;
  /** good / total over the window; null without events. */
  sli_value: number | null;
  good: number;
  total: number;
  /** Fraction of the error budget left, 1 = untouched, negative = overspent. */
  error_budget_remaining: number;
  /** Burn rate per window (`5m`, `1h`, ...); null for a window without events. */
  burn_rates: Record<string, number | null>;
  /** ISO time the budget runs out at the current burn rate; null when not burning. */
  budget_exhausted_at: string | null;
  alerts: { severity: string; long_window: string; short_window: string; factor: number; firing: boolean }[];
}

/** Window lengths the SLO needs counted: its window and every enabled tier's two windows, ascending. */
export function sloWindows(slo: SloDefinition): number[] {
  const set = new Set<number>([slo.windowMillis]);
  for (const t of slo.alerting.tiers) {
    if (!t.enabled) continue;
    set.add(t.longWindowMillis);
    set.add(t.shortWindowMillis);
  }
  return [...set].sort((a, b) => a - b);
}

/**
 * Good/total events of an SLO in each window ending at (and including)
 * `atMillis`. Runs are counted by the store (`windowCounts`); freshness ticks
 * are judged here from the succeeded run starts (see {@link countFreshness}).
 */
export async function countSloWindows(store: RunReader, slo: SloDefinition, atMillis: number, windowsMillis: readonly number[]): Promise<WindowCount[]> {
  if (slo.sli === 'freshness') return (await countFreshness(store, [{ slo, windowsMillis }], atMillis))[0] ?? [];
  const criterion: GoodRunCriterion =
    slo.sli === 'latency' ? { kind: 'latency', thresholdMillis: slo.latencyThresholdMillis ?? 0 } : { kind: 'success' };
  // Windows are (at - w, at]: a run that ended at `at` counts.
  return store.windowCounts({ jobs: slo.job, ...(slo.where ? { where: slo.where } : {}), criterion, endMillis: atMillis, windowsMillis });
}

/** A freshness SLO's ticks to judge, before the first run seen is known. */
interface TickPlan {
  slo: SloDefinition;
  f: FreshnessSpec;
  windowsMillis: readonly number[];
  ticks: number[];
}

/**
 * Good/total ticks of freshness SLOs in each of their windows ending at
 * `atMillis`, one result per item. A tick is good when a succeeded run
 * started within `[tick, tick + grace]`. Accounting starts at `start:`, else
 * at the first run seen (the earliest start of a run of any outcome but
 * skipped, up to `atMillis`): ticks whose grace ended before it are not
 * missed. The store reads every SLO's run starts in one `runStartsMany` call,
 * coalesced per grace period (which judges every tick as all starts would):
 * the succeeded starts from the SLO's first tick, and the earliest start only.
 */
export async function countFreshness(store: RunReader, items: readonly { slo: SloDefinition; windowsMillis: readonly number[] }[], atMillis: number): Promise<WindowCount[][]> {
  const empty = (windowsMillis: readonly number[]): WindowCount[] => windowsMillis.map((w) => ({ windowMillis: w, good: 0, total: 0 }));
  const plans: (TickPlan | null)[] = items.map(({ slo, windowsMillis }) => {
    const f = slo.freshness;
    if (!f) throw new TypeError(`SLO ${slo.name} has sli freshness without freshness settings`);
    const longest = Math.max(...windowsMillis);
    // Ticks judged in (at - longest, at]: those in (at - longest - grace, at - grace].
    let ticks: number[];
    try {
      ticks = cachedScheduleTicks(f, atMillis - longest - f.graceMillis + 1, atMillis - f.graceMillis);
    } catch (err) {
      if (err instanceof RangeError) throw new ConfigError(`slo ${slo.name} freshness.cron`, `${err.message}; use a coarser schedule or a shorter window`, { cause: err });
      throw err;
    }
    if (f.startMillis !== undefined) {
      const start = f.startMillis;
      ticks = ticks.filter((t) => t >= start);
    }
    return ticks.length === 0 ? null : { slo, f, windowsMillis, ticks };
  });
  // One read of run starts for all SLOs: the succeeded starts from the minute of the first tick, and
  // for an SLO without start: the first start of any outcome. The succeeded starts are read from
  // there even where ticks before the first run seen are dropped below: a start before a judged
  // tick never decides it (nor, coalesced, hides one that does), so the answer for the kept ticks
  // is the same. A range from a whole minute lets rollups read hour buckets.
  const queries: RunStartsQuery[] = [];
  const firstQuery = new Map<number, number>();
  const succeededQuery = new Map<number, number>();
  plans.forEach((p, i) => {
    if (!p) return;
    if (p.f.startMillis === undefined) {
      firstQuery.set(i, queries.length);
      queries.push({ jobs: p.slo.job, fromMillis: 0, toMillis: atMillis + 1, which: 'any', earliestOnly: true, ...dims(p.slo) });
    }
    succeededQuery.set(i, queries.length);
    const fromMillis = Math.floor((p.ticks[0] as number) / 60_000) * 60_000;
    queries.push({ jobs: p.slo.job, fromMillis, toMillis: atMillis + 1, which: 'succeeded', coalesceMillis: p.f.graceMillis, ...dims(p.slo) });
  });
  const starts = queries.length > 0 ? await store.runStartsMany(queries) : [];
  return plans.map((p, i) => {
    const windowsMillis = items[i]?.windowsMillis ?? [];
    if (!p) return empty(windowsMillis);
    let ticks = p.ticks;
    const fq = firstQuery.get(i);
    if (fq !== undefined) {
      const first = starts[fq]?.[0];
      if (first === undefined) return empty(windowsMillis);
      // A tick whose grace ends before the first run started is not missed.
      ticks = ticks.filter((t) => t >= first - p.f.graceMillis);
      if (ticks.length === 0) return empty(windowsMillis);
    }
    return countTicks(judgeTicks(ticks, starts[succeededQuery.get(i) as number] ?? [], p.f.graceMillis, atMillis), atMillis, windowsMillis);
  });
}

const dims = (slo: SloDefinition): { where?: DimensionFilter } => (slo.where ? { where: slo.where } : {});

/** Evaluates one SLO at `atMillis` from its window counts. Pure. */
export function evaluateFromCounts(slo: SloDefinition, atMillis: number, counts: readonly WindowCount[]): SloEvaluation {
  const byWindow = new Map(counts.map((c) => [c.windowMillis, c]));
  const get = (w: number): WindowCount => byWindow.get(w) ?? { windowMillis: w, good: 0, total: 0 };
  const whole = get(slo.windowMillis);
  const burnRates = new Map<number, number | null>();
  for (const c of counts) burnRates.set(c.windowMillis, burnRate(c.good, c.total, slo.objective));
  const tiers: TierEvaluation[] = slo.alerting.tiers
    .filter((t) => t.enabled)
    .map((tier) => {
      const long = get(tier.longWindowMillis);
      const burnRateLong = burnRate(long.good, long.total, slo.objective);
      const burnRateShort = burnRate(get(tier.shortWindowMillis).good, get(tier.shortWindowMillis).total, slo.objective);
      const firing =
        long.total >= slo.alerting.minEvents &&
        burnRateLong !== null &&
        burnRateShort !== null &&
        burnRateLong > tier.factor &&
        burnRateShort > tier.factor;
      return { tier, burnRateLong, burnRateShort, longEvents: long.total, firing };
    });
  // "Current" burn: the shortest tier long window that has events (1h by default), else the SLO window.
  const candidates = [...new Set(tiers.map((t) => t.tier.longWindowMillis))].sort((a, b) => a - b);
  candidates.push(slo.windowMillis);
  let currentBurnRate: SloEvaluation['currentBurnRate'] = null;
  for (const w of candidates) {
    const v = burnRates.get(w);
    if (v !== null && v !== undefined) {
      currentBurnRate = { windowMillis: w, value: v };
      break;
    }
  }
  const remaining = budgetRemaining(whole.good, whole.total, slo.objective);
  return {
    slo,
    atMillis,
    good: whole.good,
    total: whole.total,
    sli: whole.total > 0 ? whole.good / whole.total : null,
    budgetRemaining: remaining,
    burnRates,
    currentBurnRate,
    budgetExhaustedAtMillis: budgetExhaustedAtMillis(remaining, currentBurnRate?.value ?? null, slo.windowMillis, atMillis),
    tiers,
  };
}

/** Evaluates one SLO at `atMillis`. */
export async function evaluateSlo(store: RunReader, slo: SloDefinition, atMillis: number): Promise<SloEvaluation> {
  const windows = sloWindows(slo);
  return evaluateFromCounts(slo, atMillis, await countSloWindows(store, slo, atMillis, windows));
}

/**
 * Evaluates every SLO at `atMillis`; results in config order. The run-based
 * SLOs (success, latency) are counted in one store query for all of them
 * (`windowCountsMany`), and one more for those with a `where:` filter;
 * the freshness SLOs' run starts in one `runStartsMany` query (see
 * {@link countFreshness}).
 */
export async function evaluateSlos(store: RunReader, slos: readonly SloDefinition[], atMillis: number): Promise<SloEvaluation[]> {
  const out: SloEvaluation[] = new Array<SloEvaluation>(slos.length);
  // SLOs with a dimension filter are counted in a pass of their own: rollups are per job and
  // answer a batch only when no query in it has a filter, so mixing them would send every
  // SLO to the raw runs.
  const runBased = slos.map((slo, i) => ({ slo, i })).filter(({ slo }) => slo.sli !== 'freshness');
  for (const batch of [runBased.filter(({ slo }) => slo.where === undefined), runBased.filter(({ slo }) => slo.where !== undefined)]) {
    if (batch.length === 0) continue;
    const counts = await store.windowCountsMany(
      batch.map(({ slo }) => ({
        jobs: slo.job,
        ...(slo.where ? { where: slo.where } : {}),
        criterion: slo.sli === 'latency' ? { kind: 'latency' as const, thresholdMillis: slo.latencyThresholdMillis ?? 0 } : { kind: 'success' as const },
        // Windows are (at - w, at]: a run that ended at `at` counts.
        endMillis: atMillis,
        windowsMillis: sloWindows(slo),
      })),
    );
    batch.forEach(({ slo, i }, j) => {
      out[i] = evaluateFromCounts(slo, atMillis, counts[j] ?? []);
    });
  }
  const freshness = slos.map((slo, i) => ({ slo, i })).filter(({ slo }) => slo.sli === 'freshness');
  if (freshness.length > 0) {
    const counts = await countFreshness(store, freshness.map(({ slo }) => ({ slo, windowsMillis: sloWindows(slo) })), atMillis);
    freshness.forEach(({ slo, i }, j) => {
      out[i] = evaluateFromCounts(slo, atMillis, counts[j] ?? []);
    });
  }
  return out;
}

const round = (n: number, digits = 6): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** Shapes an evaluation into the public JSON record. Pure. */
export function toSloJson(e: SloEvaluation): SloJson {
  const burn_rates: Record<string, number | null> = {};
  for (const [w, v] of [...e.burnRates].sort((a, b) => a[0] - b[0])) burn_rates[formatDurationMillis(w)] = v === null ? null : round(v);
  return {
    name: e.slo.name,
    job: e.slo.job,
    sli: e.slo.sli,
    objective: e.slo.objective,
    window: formatDurationMillis(e.slo.windowMillis),
    sli_value: e.sli === null ? null : round(e.sli),
    good: e.good,
    total: e.total,
    error_budget_remaining: round(e.budgetRemaining),
    burn_rates,
    budget_exhausted_at: e.budgetExhaustedAtMillis === null ? null : new Date(Math.round(e.budgetExhaustedAtMillis)).toISOString(),
    alerts: e.tiers.map((t) => ({
      severity: t.tier.severity,
      long_window: formatDurationMillis(t.tier.longWindowMillis),
      short_window: formatDurationMillis(t.tier.shortWindowMillis),
      factor: round(t.tier.factor, 4),
      firing: t.firing,
    })),
  };
}

/** A plain-text table of SLO evaluations, for `jobslo analyze` and `jobslo alerts`. */
export function formatSloTable(evals: readonly SloEvaluation[]): string {
  if (evals.length === 0) return 'No SLOs configured.\n';
  const rows = evals.map((e) => {
    const j = toSloJson(e);
    const firing = j.alerts.filter((a) => a.firing).map((a) => `${a.severity}(${a.long_window}/${a.short_window})`);
    return [
      j.name,
      j.job,
      j.sli,
      `${(j.objective * 100).toFixed(3).replace(/\.?0+$/, '')}%`,
      j.window,
      j.sli_value === null ? '-' : `${(j.sli_value * 100).toFixed(3)}%`,
      `${(j.error_budget_remaining * 100).toFixed(1)}%`,
      e.currentBurnRate === null ? '-' : `${e.currentBurnRate.value.toFixed(2)} (${formatDurationMillis(e.currentBurnRate.windowMillis)})`,
      firing.length === 0 ? '-' : firing.join(' '),
    ];
  });
  const header = ['SLO', 'JOB', 'SLI', 'OBJECTIVE', 'WINDOW', 'SLI VALUE', 'BUDGET LEFT', 'BURN', 'FIRING'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
