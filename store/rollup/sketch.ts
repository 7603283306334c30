/**
 * A mergeable latency sketch with log-spaced buckets (the DDSketch scheme):
 * a value v > 0 goes to bucket `ceil(log_gamma(v))` with
 * `gamma = (1 + a) / (1 - a)`, and a bucket stands for `2 gamma^i / (gamma + 1)`,
 * which is within relative error `a` of every value in it. Counts of the same
 * bucket add up, so sketches of hours merge into a sketch of a month exactly
 * as if it had been built from all the runs at once.
 */

/** Relative accuracy of {@link sketchKey}/{@link sketchValue}: 1 %. */
export const SKETCH_RELATIVE_ACCURACY = 0.01;

const GAMMA = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
/** Values at or below this (ms) share one bucket that stands for 0. */
const MIN_MILLIS = 1e-6;
/** The key of the bucket of values at or below {@link MIN_MILLIS}. */
export const SKETCH_ZERO_KEY = -1_000_000;

/** The bucket key of a latency in ms (non-finite and negative values count as 0). */
export function sketchKey(millis: number): number {
  if (!(millis > MIN_MILLIS) || !Number.isFinite(millis)) return SKETCH_ZERO_KEY;
  return Math.ceil(Math.log(millis) / LOG_GAMMA);
}

/** The value (ms) a bucket key stands for. */
export function sketchValue(key: number): number {
  if (key === SKETCH_ZERO_KEY) return 0;
  return (2 * GAMMA ** key) / (GAMMA + 1);
}

/** Bucket counts by key. */
export type Sketch = Map<number, number>;

/** Adds `count` values of bucket `key`. */
export function sketchAdd(sketch: Sketch, key: number, count = 1): void {
  const n = (sketch.get(key) ?? 0) + count;
  if (n === 0) sketch.delete(key);
  else sketch.set(key, n);
}

/**
 * Interpolated quantiles (`q` in [0, 1], as SQL `quantile_cont`): the value at
 * rank `q (n - 1)`, linear between the two order statistics around it, each
 * read from its bucket. Since every order statistic is within the sketch's
 * relative accuracy, so is their interpolation: the answer is within 1 % of
 * the exact interpolated percentile. Null for an empty sketch.
 */
export function sketchQuantiles(sketch: Sketch, qs: readonly number[]): (number | null)[] {
  const entries = [...sketch].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return qs.map(() => null);
  // The value of the order statistic of rank r (0-based).
  const at = (r: number): number => {
    let seen = 0;
    for (const [key, n] of entries) {
      seen += n;
      if (r < seen) return sketchValue(key);
    }
    return sketchValue((entries[entries.length - 1] as [number, number])[0]);
  };
  return qs.map((q) => {
    const rank = Math.min(1, Math.max(0, q)) * (total - 1);
    const lo = Math.floor(rank);
    const frac = rank - lo;
    const a = at(lo);
    return frac === 0 ? a : a + (at(lo + 1) - a) * frac;
  });
}
