import { describe, expect, it } from 'vitest';
import { deltaCount, deltaRate, deltaRelative, formatBytes, formatCost, formatDuration, formatDurationTick, formatObjective, formatPercent, formatRate, formatTime, formatWindow } from '../../reports/_format.js';
import { excerpt } from '../../reports/_escape.js';
import { LATENCY_EDGES_MILLIS, binCounts, chooseBucketMillis, histogramFromCounts, latencyHistogram } from '../../reports/index.js';

const M = '\u2212';

describe('formatting', () => {
  it.each([
    [0.9583, '95.83%'],
    [1, '100.00%'],
    [0.9995, '99.950%'],
    [-0.5, `${M}50.00%`],
    [-36.5, `${M}3,650%`],
    [null, '–'],
    [Number.NaN, '–'],
  ])('formatPercent(%s) = %s', (v, want) => expect(formatPercent(v)).toBe(want));

  it.each([
    [0.4, '0.4 ms'],
    [708.2, '708 ms'],
    [6_220, '6.22 s'],
    [90_000, '1.5 min'],
    [2 * 3_600_000, '2.0 h'],
    [3 * 86_400_000, '3.0 d'],
    [null, '–'],
  ])('formatDuration(%s) = %s', (v, want) => expect(formatDuration(v)).toBe(want));

  it.each([
    [1_000, '1 s'],
    [1_500, '1.5 s'],
    [200, '200 ms'],
    [20_000, '20 s'],
  ])('formatDurationTick(%s) = %s', (v, want) => expect(formatDurationTick(v)).toBe(want));

  it.each([
    [86_400_000, '24h'],
    [2 * 86_400_000, '48h'],
    [7 * 86_400_000, '7d'],
    [300_000, '5 min'],
    [90_000, '90 s'],
  ])('formatWindow(%s) = %s', (v, want) => expect(formatWindow(v)).toBe(want));

  it('formats objectives, rates, costs, bytes and times', () => {
    expect(formatObjective(0.999)).toBe('99.9%');
    expect(formatObjective(0.95)).toBe('95%');
    expect(formatRate(14.4)).toBe('14.4×');
    expect(formatRate(0.5)).toBe('0.50×');
    expect(formatCost(32.69)).toBe('32.69');
    expect(formatCost(0.002)).toBe('0.002000');
    expect(formatBytes(2_147_483_648)).toBe('2.0 GiB');
    expect(formatTime(Date.UTC(2026, 10, 29, 14, 5, 9), true)).toBe('2026-11-29 14:05:09 UTC');
  });
});

describe('changes against the previous period', () => {
  it.each([
    [deltaRate(0.95, 0.9), { text: '+5.00 pp', direction: 'up', tone: 'good' }],
    [deltaRate(0.9, 0.95), { text: `${M}5.00 pp`, direction: 'down', tone: 'bad' }],
    [deltaRate(0.9, 0.9), { text: '±0 pp', direction: 'flat', tone: 'neutral' }],
    [deltaRate(0.9, null), { text: 'new', direction: 'none', tone: 'neutral' }],
    [deltaRelative(110, 100, false), { text: '+10.0%', direction: 'up', tone: 'bad' }],
    [deltaRelative(5, 0, false), { text: 'new', direction: 'up', tone: 'bad' }],
    [deltaCount(40, 12, false), { text: '+28 (+233.3%)', direction: 'up', tone: 'bad' }],
    [deltaCount(3, 5, false), { text: `${M}2 (${M}40.0%)`, direction: 'down', tone: 'good' }],
    [deltaCount(5, 5, null), { text: '±0', direction: 'flat', tone: 'neutral' }],
  ])('%#: %o', (got, want) => expect(got).toEqual(want));
});

describe('excerpt', () => {
  it('collapses whitespace and cuts at a code point boundary with an ellipsis', () => {
    expect(excerpt('a\n\n  b\tc', 10)).toBe('a b c');
    expect(excerpt('x'.repeat(300), 200)).toHaveLength(200);
    expect(excerpt('😀'.repeat(5), 3)).toBe('😀😀…');
  });
});

describe('latency histogram', () => {
  const check = (values: number[], total = values.length): ReturnType<typeof latencyHistogram> => {
    const h = latencyHistogram(values, total);
    expect(h.bins.reduce((s, b) => s + b.count, 0)).toBe(values.length);
    expect(h.bins.length).toBeLessThanOrEqual(24);
    for (let i = 1; i < h.bins.length; i++) expect(h.bins[i]?.fromMillis).toBe(h.bins[i - 1]?.toMillis);
    // The last bin is open-ended when values pass the last edge.
    for (const v of values) expect(h.bins.find((b, i) => v >= b.fromMillis && (v < b.toMillis || i === h.bins.length - 1)), `bin of ${v}`).toBeDefined();
    return h;
  };

  it('bins by round edges (about eleven per decade) and drops empty bins at both ends', () => {
    const h = check([120, 150, 180, 210, 260, 299]);
    expect(h.bins).toEqual([
      { fromMillis: 120, toMillis: 150, count: 1 },
      { fromMillis: 150, toMillis: 200, count: 2 },
      { fromMillis: 200, toMillis: 250, count: 1 },
      { fromMillis: 250, toMillis: 300, count: 2 },
    ]);
  });

  it('merges neighbouring bins in pairs while there are more than 24', () => {
    const h = check([0.5, 3, 40, 700, 9_000, 120_000, 2_000_000]);
    expect(h.bins[0]?.fromMillis).toBe(0.5);
    expect(h.bins.length).toBeGreaterThan(12);
  });

  it('counts a value on an edge in the bin above it, like Store.runDistributions', () => {
    expect(binCounts([50, 100, 99.9, 1_000, 5], [50, 100, 1_000])).toEqual([1, 2, 1, 1]);
    expect(LATENCY_EDGES_MILLIS.slice(0, 12)).toEqual([0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1]);
  });

  it('handles zero latencies, one value and values past the last edge', () => {
    check([0, 0, 0]);
    check([500]);
    const h = check([9e8, 1e9]);
    expect(h.bins[h.bins.length - 1]?.toMillis).toBe(8e8 * 1.25);
  });

  it('bounds the runs it did not read by the fastest one it read', () => {
    const h = check([900, 1_000, 1_200], 10);
    expect(h).toMatchObject({ sampledRuns: 3, totalRuns: 10, unreadAtMostMillis: 900 });
    expect(latencyHistogram([], 0)).toEqual({ bins: [], sampledRuns: 0, totalRuns: 0, unreadAtMostMillis: null });
    expect(histogramFromCounts([0, 2, 1], 3, [10, 20])).toEqual({ bins: [{ fromMillis: 10, toMillis: 20, count: 2 }, { fromMillis: 20, toMillis: 25, count: 1 }], sampledRuns: 3, totalRuns: 3, unreadAtMostMillis: null });
  });
});

describe('chooseBucketMillis', () => {
  it.each([
    [86_400_000, 24, 7_200_000],
    [86_400_000, 144, 3_600_000],
    [86_400_000, 10_000, 900_000],
    [30 * 86_400_000, 720, 43_200_000],
    [61_000, 300, 1_000],
  ])('window %d ms with %d runs -> %d ms buckets', (span, runs, want) => {
    expect(chooseBucketMillis(span, runs)).toBe(want);
  });
});
