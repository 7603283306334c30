import { ConfigError } from '../contracts/index.js';

/** Prices used to compute a run's cost when the job does not report one. */
export interface CostRates {
  /** Price of one CPU hour (user + system). @default 0 */
  cpuHour: number;
  /** Price of one GiB (2^30 bytes) of peak RSS held for one hour of attempt time. @default 0 */
  gbHour: number;
  /** Flat price of every run. @default 0 */
  perRun: number;
}

export const ZERO_RATES: Readonly<CostRates> = Object.freeze({ cpuHour: 0, gbHour: 0, perRun: 0 });

/** What was measured of a run. */
export interface RunUsage {
  /** Sum of the costs the job reported for its attempts, if any attempt reported one. */
  reportedCost?: number | undefined;
  cpuSeconds?: number | undefined;
  maxRssBytes?: number | undefined;
  /** Sum of attempt durations (backoff waits excluded). */
  busyMillis: number;
}

/**
 * Cost of a run: the job's own report when there is one (it knows best),
 * else `perRun + cpuHour * cpu_h + gbHour * peak_GiB * busy_h`. `undefined`
 * when nothing was reported and every rate is zero (no cost configured).
 */
export function computeRunCost(usage: RunUsage, rates: CostRates): number | undefined {
  if (usage.reportedCost !== undefined) return usage.reportedCost;
  if (rates.cpuHour === 0 && rates.gbHour === 0 && rates.perRun === 0) return undefined;
  const cpuHours = (usage.cpuSeconds ?? 0) / 3600;
  const gib = (usage.maxRssBytes ?? 0) / 2 ** 30;
  return rates.perRun + rates.cpuHour * cpuHours + rates.gbHour * gib * (usage.busyMillis / 3_600_000);
}

const COST_LINE = /^jobslo:cost=([+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$/gm;

/**
 * The cost a job wrote to its `JOBSLO_COST_FILE`: the last `jobslo:cost=<n>`
 * line wins (a job may update a running total); other lines are ignored.
 */
export function parseReportedCost(text: string): number | undefined {
  let last: number | undefined;
  for (const m of text.matchAll(COST_LINE)) {
    const v = Number(m[1]);
    if (Number.isFinite(v)) last = v;
  }
  return last;
}

/**
 * Parses a rate from a flag or environment variable.
 *
 * @throws {ConfigError} naming `name` when not a finite number >= 0
 */
export function parseRate(value: string, name: string): number {
  const v = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(v) || v < 0) {
    throw new ConfigError(name, `"${value}" is not a price; use a number >= 0`);
  }
  return v;
}
