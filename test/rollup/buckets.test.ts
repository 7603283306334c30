import { describe, expect, it } from 'vitest';
import { HOUR_NS, MINUTE_NS, bucketOf, ceilDiv, coverWindow, floorDiv } from '../../store/rollup/buckets.js';

const H = HOUR_NS;
const M = MINUTE_NS;
const T = 1_789_999_200_000_000_000n; // an hour-aligned instant (ns)

describe('floorDiv / ceilDiv / bucketOf', () => {
  it.each([
    [7n, 3n, 2n, 3n],
    [6n, 3n, 2n, 2n],
    [-7n, 3n, -3n, -2n],
    [0n, 3n, 0n, 0n],
  ])('floorDiv(%s, %s) = %s, ceilDiv = %s', (a, b, f, c) => {
    expect(floorDiv(a, b)).toBe(f);
    expect(ceilDiv(a, b)).toBe(c);
  });

  it.each([
    ['a run ending on a boundary belongs to the bucket that ends there', T, T - M],
    ['one ns after a boundary starts the next bucket', T + 1n, T],
    ['inside a bucket', T + 30n * 1_000_000_000n, T],
  ])('%s', (_name, end, start) => {
    expect(bucketOf(end, M)).toBe(start);
  });
});

/** Every end time in (lo, hi] lands in exactly one part of the cover, and nothing outside does. */
function checkCover(lo: bigint, hi: bigint): void {
  const c = coverWindow(lo, hi);
  const probes = new Set<bigint>([lo - 1n, lo, lo + 1n, hi - 1n, hi, hi + 1n]);
  for (const b of [c.hours?.fromNs, c.hours?.toNs, ...c.edges.flatMap((e) => [e.loNs, e.hiNs])]) {
    if (b === undefined) continue;
    for (const d of [-1n, 0n, 1n]) probes.add(b + d);
  }
  for (let i = 0n; i < 40n; i++) probes.add(lo + ((hi - lo) * i) / 40n);
  for (const t of probes) {
    let n = 0;
    if (c.hours && bucketOf(t, H) >= c.hours.fromNs && bucketOf(t, H) < c.hours.toNs) n++;
    for (const e of c.edges) {
      if (t > e.loNs && t <= e.hiNs) {
        // The minute bucket of t must be among those the edge reads.
        expect(bucketOf(t, M) >= e.minuteFromNs && bucketOf(t, M) < e.minuteToNs).toBe(true);
        n++;
      }
    }
    expect(n, `end ${t} in (${lo}, ${hi}]`).toBe(t > lo && t <= hi ? 1 : 0);
  }
  for (const e of c.edges) expect(e.hiNs - e.loNs).toBeLessThan(H + 1n);
  expect(c.edges.length).toBeLessThanOrEqual(2);
}

describe('coverWindow', () => {
  it.each([
    ['30 days ending mid-minute', T + 17n * M + 123_456_789n - 30n * 24n * H, T + 17n * M + 123_456_789n],
    ['hour-aligned on both ends', T - 24n * H, T],
    ['5 minutes inside one hour', T + 10n * M + 7n, T + 15n * M + 7n],
    ['shorter than a minute', T + 1n, T + 500n],
    ['across one hour boundary, under an hour', T - 10n * M, T + 10n * M],
    ['exactly one hour, unaligned', T + 1n, T + H + 1n],
    ['exactly one aligned hour', T, T + H],
    ['negative times', -5n * H - 3n, -H + 7n],
  ])('%s: every end time in exactly one part', (_name, lo, hi) => {
    checkCover(lo, hi);
  });

  it('reads whole hours from hour buckets', () => {
    const c = coverWindow(T - 30n * 24n * H + 5n, T + 5n);
    expect(c.hours).toEqual({ fromNs: T - 30n * 24n * H + H, toNs: T });
    expect(c.edges.map((e) => [e.loNs, e.hiNs])).toEqual([
      [T - 30n * 24n * H + 5n, T - 30n * 24n * H + H],
      [T, T + 5n],
    ]);
  });

  it('an empty window reads nothing and a reversed one throws', () => {
    expect(coverWindow(T, T)).toEqual({ hours: null, edges: [] });
    expect(() => coverWindow(T, T - 1n)).toThrow(RangeError);
  });

  it('random windows', () => {
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 200; i++) {
      const lo = T + BigInt(Math.floor(rnd() * 1e15));
      checkCover(lo, lo + BigInt(Math.floor(rnd() * 3e15)));
    }
  });
});
