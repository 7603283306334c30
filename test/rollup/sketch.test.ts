import { describe, expect, it } from 'vitest';
import { SKETCH_RELATIVE_ACCURACY, SKETCH_ZERO_KEY, sketchAdd, sketchKey, sketchQuantiles, sketchValue } from '../../store/rollup/sketch.js';
import type { Sketch } from '../../store/rollup/sketch.js';

/** SQL quantile_cont: linear interpolation between order statistics. */
function exactQuantile(sorted: number[], q: number): number {
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const a = sorted[lo] as number;
  return lo + 1 < sorted.length ? a + ((sorted[lo + 1] as number) - a) * (rank - lo) : a;
}

describe('latency sketch', () => {
  it.each([0.001, 0.5, 1, 7, 999.9, 1e3, 123_456, 8.64e7])('a bucket stands for %s within 1 %%', (v) => {
    expect(Math.abs(sketchValue(sketchKey(v)) - v) / v).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY + 1e-12);
  });

  it.each([0, -1, Number.NaN, 1e-9])('%s goes to the zero bucket', (v) => {
    expect(sketchKey(v)).toBe(SKETCH_ZERO_KEY);
    expect(sketchValue(SKETCH_ZERO_KEY)).toBe(0);
  });

  it('an empty sketch has no quantiles', () => {
    expect(sketchQuantiles(new Map(), [0.5])).toEqual([null]);
  });

  it('merged sketches give interpolated percentiles within 1 % of the exact ones', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 20; trial++) {
      const values = Array.from({ length: 1 + Math.floor(rnd() * 2000) }, () => Math.exp(rnd() * 14));
      // Split into "hour" sketches and merge them, as the rollup does.
      const merged: Sketch = new Map();
      for (const v of values) sketchAdd(merged, sketchKey(v));
      const sorted = [...values].sort((a, b) => a - b);
      const qs = [0, 0.5, 0.95, 0.99, 1];
      sketchQuantiles(merged, qs).forEach((got, i) => {
        const want = exactQuantile(sorted, qs[i] as number);
        expect(Math.abs((got as number) - want) / want).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY + 1e-9);
      });
    }
  });

  it('removing what was added leaves no bucket', () => {
    const s: Sketch = new Map();
    sketchAdd(s, 3, 2);
    sketchAdd(s, 3, -2);
    expect(s.size).toBe(0);
  });
});
