import { describe, expect, it } from 'vitest';
import { barListChart, describeSeries, histogramChart, meter, niceTicks, timeChart, timeTicks } from '../../reports/_charts.js';
import type { TimeChartOptions } from '../../reports/_charts.js';
import { attrs, decode, tagBalanceProblem } from './_html.js';

const EVIL = '<script>alert("x")</script> & \'q\' `t` =';
const T0 = Date.UTC(2026, 10, 29, 0, 0, 0);
const H = 3_600_000;

const base = (over: Partial<TimeChartOptions> = {}): TimeChartOptions => ({
  id: 'c1',
  title: 'Success rate',
  desc: 'Success rate per hour.',
  fromMillis: T0,
  toMillis: T0 + 24 * H,
  series: [{ label: 'rate', points: Array.from({ length: 24 }, (_, i) => ({ x: T0 + i * H + H / 2, y: 0.9 + i / 240 })) }],
  yLabel: 'Success rate (%)',
  formatY: (v) => `${(v * 100).toFixed(0)}%`,
  ...over,
});

/** The root element's attributes and its title/desc texts. */
function a11y(svg: string): { root: Record<string, string>; title: string; desc: string; titleId: string; descId: string } {
  const root = attrs(/^<svg\b[^>]*>/.exec(svg)?.[0] ?? '');
  const t = /<title id="([^"]+)">([^<]*)<\/title>/.exec(svg);
  const d = /<desc id="([^"]+)">([^<]*)<\/desc>/.exec(svg);
  return { root, titleId: t?.[1] ?? '', title: decode(t?.[2] ?? ''), descId: d?.[1] ?? '', desc: decode(d?.[2] ?? '') };
}

describe('charts: accessibility and structure', () => {
  const charts: [string, string][] = [
    ['timeChart', timeChart(base())],
    ['histogramChart', histogramChart({ id: 'h1', title: 'Latency', desc: 'Histogram.', bins: [{ from: 0, to: 10, count: 3 }, { from: 10, to: 20, count: 5 }], formatX: (v) => `${v} ms`, xLabel: 'Run latency', yLabel: 'Runs' })],
    ['barListChart', barListChart({ id: 'b1', title: 'Modes', desc: 'Failure modes.', bars: [{ label: 'exit code 1', value: 4 }], formatValue: String, valueLabel: 'Failed runs' })],
  ];

  it.each(charts)('%s is role=img, labelled by its own <title> and <desc>', (_name, svg) => {
    const { root, title, desc, titleId, descId } = a11y(svg);
    expect(root['role']).toBe('img');
    expect(root['aria-labelledby']).toBe(`${titleId} ${descId}`);
    expect(root['viewBox']).toMatch(/^0 0 \d+ \d+$/);
    expect(title.length).toBeGreaterThan(0);
    expect(desc.length).toBeGreaterThan(0);
    expect(tagBalanceProblem(svg)).toBeNull();
  });

  it.each(charts)('%s has labelled axes and uses classes, never inline styles or colours', (_name, svg) => {
    expect(svg).toMatch(/class="axis-label"[^>]*>[^<]+</);
    expect(svg).not.toMatch(/\sstyle=/);
    expect(svg).not.toMatch(/\s(fill|stroke)="#/);
  });

  it('refuses an id that could break out of the attribute', () => {
    expect(() => timeChart(base({ id: 'x" onload="alert(1)' }))).toThrow(RangeError);
    expect(() => timeChart(base({ id: '1abc' }))).toThrow(RangeError);
  });
});

describe('charts: untrusted text is escaped everywhere', () => {
  it('escapes title, desc, axis label, series label, rule label and formatted values', () => {
    const svg = timeChart(
      base({
        title: EVIL,
        desc: EVIL,
        yLabel: EVIL,
        series: [
          { label: EVIL, points: [{ x: T0 + H, y: 1 }, { x: T0 + 2 * H, y: 2 }] },
          { label: 'second', points: [{ x: T0 + H, y: 2 }] },
        ],
        rules: [{ value: 1.5, label: EVIL, tone: 'bad' }],
        formatY: () => EVIL,
      }),
    );
    const bars = barListChart({ id: 'b', title: EVIL, desc: EVIL, bars: [{ label: EVIL, value: 2 }], formatValue: () => EVIL, valueLabel: EVIL });
    const hist = histogramChart({ id: 'h', title: EVIL, desc: EVIL, bins: [{ from: 0, to: 1, count: 1 }], formatX: () => EVIL, xLabel: EVIL, yLabel: EVIL });
    for (const out of [svg, bars, hist]) {
      expect(out).not.toContain('<script');
      expect(out).not.toContain('"x"');
      expect(out).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27; &#x60;t&#x60; &#x3D;');
      expect(tagBalanceProblem(out)).toBeNull();
    }
  });

  it('replaces characters XML does not allow instead of emitting them', () => {
    const svg = timeChart(base({ title: 'bad\u0000byte\u0007 and lone \uD800 surrogate' }));
    expect(svg).not.toContain('\u0000');
    expect(svg).not.toContain('\u0007');
    expect(svg).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(a11y(svg).title).toBe('bad\uFFFDbyte\uFFFD and lone \uFFFD surrogate');
  });
});

describe('timeChart lines', () => {
  const paths = (svg: string): string[] => [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1] as string);

  it('joins consecutive points into one line', () => {
    const [d] = paths(timeChart(base()));
    expect(d?.match(/M/g)).toHaveLength(1);
    expect(d?.match(/L/g)).toHaveLength(23);
  });

  it('breaks the line at null values and at gaps longer than gapMillis', () => {
    const pts = [0, 1, 2, 5, 6, 8].map((h) => ({ x: T0 + h * H, y: h === 8 ? null : 0.5 }));
    const svg = timeChart(base({ series: [{ label: 'r', points: pts }], gapMillis: 1.5 * H }));
    const [d] = paths(svg);
    expect(d?.match(/M/g)).toHaveLength(2); // 0-1-2 and 5-6; 8 is null
    expect(svg.match(/<circle/g)).toHaveLength(5); // few points: each gets a marker
  });

  it('marks lone points when there are too many points to mark them all', () => {
    const pts = Array.from({ length: 100 }, (_, i) => ({ x: T0 + i * 600_000, y: i === 50 ? null : i === 52 ? null : 1 }));
    const svg = timeChart(base({ series: [{ label: 'r', points: pts }] }));
    expect(svg.match(/<circle/g)).toHaveLength(1); // point 51 sits between two nulls
  });

  it('says so when there is nothing to draw', () => {
    const svg = timeChart(base({ series: [{ label: 'r', points: [] }] }));
    expect(svg).toContain('No runs in this window');
  });

  it('draws a legend only for more than one series, with each series class', () => {
    expect(timeChart(base())).not.toContain('class="legend"');
    const svg = timeChart(base({ series: [{ label: 'p50', points: [] }, { label: 'p95', points: [], tone: 3 }] }));
    expect(svg).toContain('<line class="s1"');
    expect(svg).toContain('<line class="s3"');
    expect(svg).toContain('>p95</text>');
  });

  it('keeps rule labels apart when their lines are close together', () => {
    const svg = timeChart(
      base({
        yMin: 0,
        rules: [
          { value: 14.4, label: 'page', tone: 'bad' },
          { value: 6, label: 'ticket', tone: 'warn' },
          { value: 5.9, label: 'close', tone: 'muted' },
        ],
        series: [{ label: 'r', points: [{ x: T0, y: 100 }] }],
      }),
    );
    const ys = [...svg.matchAll(/<g class="rule[^"]*">.*?<text [^>]*y="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(ys).toHaveLength(3);
    for (let i = 1; i < ys.length; i++) expect((ys[i] as number) - (ys[i - 1] as number)).toBeGreaterThanOrEqual(12.8);
  });

  it('keeps fixed axis ends and labels ticks with the formatter', () => {
    const svg = timeChart(base({ yMax: 1 }));
    expect(svg).toContain('>100%</text>');
    expect(svg).not.toContain('>110%</text>');
  });
});

describe('histogram and bar list', () => {
  it('draws one bar per bin with its range and count in the bar title', () => {
    const bins = [
      { from: 0, to: 100, count: 7 },
      { from: 100, to: 200, count: 0 },
      { from: 200, to: 300, count: 2, muted: true },
    ];
    const svg = histogramChart({ id: 'h', title: 't', desc: 'd', bins, formatX: (v) => `${v} ms`, xLabel: 'Run latency', yLabel: 'Runs' });
    expect(svg.match(/<rect class="bar/g)).toHaveLength(3);
    expect(svg).toContain('<title>0 ms to 100 ms: 7</title>');
    expect(svg).toContain('class="bar muted"');
  });

  it('shortens long bar labels but keeps the full label in the row title', () => {
    const long = 'com.example.verylong.package.UpstreamUnavailableException';
    const svg = barListChart({ id: 'b', title: 't', desc: 'd', bars: [{ label: long, value: 3, tone: 'bad' }], formatValue: (v) => `${v} runs`, valueLabel: 'Runs' });
    expect(svg).toContain(`<title>${long}: 3 runs</title>`);
    expect(svg).toContain('com.example.verylong.packag…');
    expect(svg).toContain('tone-bad');
  });

  it('meter clamps to 0..1 and is hidden from screen readers', () => {
    expect(meter(-2, 'bad')).toContain('width="0"');
    expect(meter(0.25, 'warn')).toContain('width="25"');
    expect(meter(7, 'good')).toContain('width="100"');
    expect(meter(null, 'muted')).toContain('aria-hidden="true"');
  });
});

describe('ticks and summaries', () => {
  it.each([
    [0, 1, 5, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [0, 100, 5, [0, 20, 40, 60, 80, 100]],
    [0.83, 1, 5, [0.8, 0.85, 0.9, 0.95, 1]],
    [0, 7, 4, [0, 2, 4, 6, 8]],
    [5, 5, 5, [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]],
  ])('niceTicks(%d, %d, %d)', (min, max, count, want) => {
    expect(niceTicks(min, max, count)).toEqual(want);
  });

  it.each([
    [24 * H, 4 * H],
    [60_000, 10_000],
    [30 * 24 * H, 7 * 24 * H],
    [7 * 24 * H, 2 * 24 * H],
  ])('timeTicks over %d ms steps by %d ms, UTC-aligned', (span, step) => {
    const { ticks, stepMillis } = timeTicks(T0 + 1, T0 + 1 + span);
    expect(stepMillis).toBe(step);
    expect(ticks.length).toBeLessThanOrEqual(7);
    for (const t of ticks) expect(t % step).toBe(0);
  });

  it('describeSeries names the lowest, highest and latest values', () => {
    const text = describeSeries('p95', [{ x: 1, y: 5 }, { x: 2, y: null }, { x: 3, y: 9 }, { x: 4, y: 7 }], (v) => `${v} ms`, (x) => `t${x}`);
    expect(text).toBe('p95: 3 points, lowest 5 ms at t1, highest 9 ms at t3, latest 7 ms.');
    expect(describeSeries('p95', [], String, String)).toBe('p95: no data.');
  });
});
