/**
 * Freshness SLIs (a dead-man switch): each scheduled tick is one event,
 * good when a succeeded run started within `[tick, tick + grace]`.
 */
import { Cron } from 'croner';
import type { WindowCount } from '../../store/index.js';
import type { FreshnessSpec } from './config.js';

/** Upper bound on ticks enumerated for one evaluation (a `* * * * * *` schedule over 30 days would be 2.6M). */
export const MAX_TICKS = 200_000;

/**
 * Scheduled ticks of a cron expression in `[fromMillis, toMillis]`, in the
 * schedule's time zone, ascending. DST follows croner: a wall-clock time that
 * does not exist (spring forward) runs at the first valid time after it, a
 * time that occurs twice (fall back) runs once, at its first occurrence.
 * @throws {RangeError} when more than `maxTicks` ticks fall in the range
 */
export function scheduleTicks(spec: Pick<FreshnessSpec, 'cron' | 'timezone'>, fromMillis: number, toMillis: number, maxTicks = MAX_TICKS): number[] {
  const cron = new Cron(spec.cron, { timezone: spec.timezone, paused: true });
  const ticks: number[] = [];
  try {
    // nextRun is exclusive of its argument: start 1 ms before the range.
    let next = cron.nextRun(new Date(fromMillis - 1));
    while (next !== null && next.getTime() <= toMillis) {
      if (ticks.length >= maxTicks) throw new RangeError(`schedule "${spec.cron}" has more than ${maxTicks} ticks in the range`);
      ticks.push(next.getTime());
      // Enumerating costs ~50 µs a tick: after 1,000, project the total and refuse early.
      if (ticks.length === 1_000) {
        const spanMillis = next.getTime() - fromMillis + 1;
        const projected = Math.round((1_000 * (toMillis - fromMillis)) / spanMillis);
        if (projected > maxTicks) throw new RangeError(`schedule "${spec.cron}" has more than ${maxTicks} ticks in the range (about ${projected})`);
      }
      next = cron.nextRun(next);
    }
  } finally {
    cron.stop();
  }
  return ticks;
}

/** Most schedules whose ticks {@link cachedScheduleTicks} keeps; the least recently used is evicted. */
const TICK_CACHE_ENTRIES = 256;
const tickCache = new Map<string, { fromMillis: number; toMillis: number; ticks: number[] }>();

/** Index of the first element >= `value` in an ascending array. */
function lowerBound(xs: readonly number[], value: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * {@link scheduleTicks} with a small process-wide cache per (cron, time zone):
 * a rolling window that moves forward reuses the ticks it already has and
 * enumerates only the new ones, so evaluating every minute does not redo 30
 * days of cron arithmetic. Same result as `scheduleTicks`.
 */
export function cachedScheduleTicks(spec: Pick<FreshnessSpec, 'cron' | 'timezone'>, fromMillis: number, toMillis: number, maxTicks = MAX_TICKS): number[] {
  const key = `${spec.cron}\0${spec.timezone}`;
  const hit = tickCache.get(key);
  let ticks: number[];
  if (hit && fromMillis >= hit.fromMillis && fromMillis <= hit.toMillis + 1) {
    const kept = hit.ticks.slice(lowerBound(hit.ticks, fromMillis), lowerBound(hit.ticks, Math.min(toMillis, hit.toMillis) + 1));
    ticks = toMillis > hit.toMillis ? kept.concat(scheduleTicks(spec, hit.toMillis + 1, toMillis, maxTicks)) : kept;
    if (ticks.length > maxTicks) throw new RangeError(`schedule "${spec.cron}" has more than ${maxTicks} ticks in the range`);
  } else {
    ticks = scheduleTicks(spec, fromMillis, toMillis, maxTicks);
  }
  tickCache.delete(key);
  tickCache.set(key, { fromMillis, toMillis: Math.max(toMillis, fromMillis - 1), ticks });
  if (tickCache.size > TICK_CACHE_ENTRIES) tickCache.delete(tickCache.keys().next().value as string);
  return ticks.slice();
}

/** One judged tick. */
export interface TickVerdict {
  tickMillis: number;
  /** When the tick is judged and counted: `tick + grace`. */
  eventMillis: number;
  good: boolean;
}

/**
 * Judges every tick whose grace has passed by `atMillis` (`tick + grace <= at`):
 * good when some start in `startsMillis` (ascending) is in `[tick, tick + grace]`,
 * bad when none is (missed, late, or never ran). Ticks still inside their
 * grace are not judged. Pure.
 */
export function judgeTicks(ticksMillis: readonly number[], startsMillis: readonly number[], graceMillis: number, atMillis: number): TickVerdict[] {
  const out: TickVerdict[] = [];
  let j = 0;
  for (const tick of ticksMillis) {
    const eventMillis = tick + graceMillis;
    if (eventMillis > atMillis) break;
    while (j < startsMillis.length && (startsMillis[j] as number) < tick) j++;
    const s = startsMillis[j];
    out.push({ tickMillis: tick, eventMillis, good: s !== undefined && s <= eventMillis });
  }
  return out;
}

/**
 * Good/total ticks per window ending at (and including) `atMillis`: a tick
 * is in a window when its judgement time `tick + grace` is in `(at - w, at]`. Pure.
 */
export function countTicks(verdicts: readonly TickVerdict[], atMillis: number, windowsMillis: readonly number[]): WindowCount[] {
  return windowsMillis.map((w) => {
    let good = 0;
    let total = 0;
    for (const v of verdicts) {
      if (v.eventMillis > atMillis - w && v.eventMillis <= atMillis) {
        total++;
        if (v.good) good++;
      }
    }
    return { windowMillis: w, good, total };
  });
}
