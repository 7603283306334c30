/**
 * Server-side SVG charts: pure functions from numbers to an SVG string.
 *
 * Every chart is `role="img"` with a `<title>` and a `<desc>` (referenced by
 * `aria-labelledby`) for screen readers, labelled axes with units, and no
 * colours of its own: elements carry classes (`s1`..`s4`, `ref-bad`, ...)
 * that the page stylesheet colours with CSS variables, so the same SVG reads
 * in light mode, dark mode and on paper (where series differ by dash
 * pattern too). All text is escaped here; callers pass plain strings.
 * No inline `style` attributes: the page's CSP allows only its own stylesheet.
 */
import { escapeXml, stripControl } from './_escape.js';
import { formatTick, localeNumber } from './_format.js';

/** One point of a series; `y: null` is a gap. */
export interface ChartPoint {
  x: number;
  y: number | null;
}

/** A line of a time chart. `tone` picks the colour and dash pattern (1..4). */
export interface ChartSeries {
  label: string;
  points: readonly ChartPoint[];
  tone?: 1 | 2 | 3 | 4;
}

/** A horizontal reference line (objective, alert threshold, zero budget). */
export interface ChartRule {
  value: number;
  label: string;
  tone: 'bad' | 'warn' | 'good' | 'muted';
}

/** Options of {@link timeChart}. */
export interface TimeChartOptions {
  /** Element id prefix, unique in the page: `[A-Za-z][A-Za-z0-9_-]*`. */
  id: string;
  title: string;
  desc: string;
  fromMillis: number;
  toMillis: number;
  series: readonly ChartSeries[];
  /** Y axis label with its unit, e.g. `Latency (ms)`. */
  yLabel: string;
  formatY(v: number): string;
  /** Fixed ends of the y axis; unfixed ends follow the data, rounded to ticks. */
  yMin?: number;
  yMax?: number;
  rules?: readonly ChartRule[];
  /** Points further apart than this are not joined by a line. @default no gap detection */
  gapMillis?: number;
  /** @default 'Time (UTC)' */
  xLabel?: string;
}

/** One bar of a histogram: `[from, to)` and how many values fell in it. */
export interface HistogramBin {
  from: number;
  to: number;
  count: number;
  /** Drawn muted (e.g. "runs not read individually"). */
  muted?: boolean;
}

/** Options of {@link histogramChart}. */
export interface HistogramOptions {
  id: string;
  title: string;
  desc: string;
  bins: readonly HistogramBin[];
  formatX(v: number): string;
  xLabel: string;
  yLabel: string;
}

/** One bar of a {@link barListChart}. */
export interface BarItem {
  label: string;
  value: number;
  tone?: 'bad' | 'warn' | 'good' | 'muted' | 'neutral';
}

/** Options of {@link barListChart}. */
export interface BarListOptions {
  id: string;
  title: string;
  desc: string;
  bars: readonly BarItem[];
  formatValue(v: number): string;
  /** Label of the value axis with its unit, e.g. `Runs`. */
  valueLabel: string;
}

const W = 720;
const n1 = (v: number): string => (Math.round(v * 10) / 10).toString();
const text = (s: string): string => escapeXml(stripControl(s));

function checkId(id: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(id)) throw new RangeError(`chart id "${id}" must match [A-Za-z][A-Za-z0-9_-]*`);
}

function open(id: string, height: number, title: string, desc: string, cls: string): string {
  checkId(id);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart ${cls}" viewBox="0 0 ${W} ${height}" role="img" aria-labelledby="${id}-t ${id}-d" focusable="false">` +
    `<title id="${id}-t">${text(title)}</title><desc id="${id}-d">${text(desc)}</desc>`
  );
}

/**
 * About `count` round tick values covering `[min, max]` (steps of 1, 2 or 5
 * times a power of ten). Returns at least two ticks.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  const start = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v < max + step - 1e-9 * step; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks.length < 2) ticks.push(Number((start + step).toPrecision(12)));
  return ticks;
}

const TIME_STEPS = [
  1_000, 5_000, 10_000, 15_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 14_400_000, 21_600_000,
  43_200_000, 86_400_000, 172_800_000, 604_800_000, 1_209_600_000, 2_592_000_000,
];

/** Round time ticks (UTC-aligned) inside `[from, to]`, at most `max` of them, and their step. */
export function timeTicks(fromMillis: number, toMillis: number, max = 7): { ticks: number[]; stepMillis: number } {
  const span = Math.max(1, toMillis - fromMillis);
  const step = TIME_STEPS.find((s) => span / s <= max - 1) ?? Math.ceil(span / (max - 1));
  const ticks: number[] = [];
  for (let t = Math.ceil(fromMillis / step) * step; t <= toMillis; t += step) ticks.push(t);
  return { ticks, stepMillis: step };
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

function yAxis(box: Box, ticks: number[], scale: (v: number) => number, format: (v: number) => string, label: string): string {
  let out = '<g class="axis y-axis">';
  for (const t of ticks) {
    const y = n1(scale(t));
    out += `<line class="grid" x1="${box.left}" x2="${box.left + box.width}" y1="${y}" y2="${y}"/>`;
    out += `<text x="${box.left - 6}" y="${y}" dy="0.32em" text-anchor="end">${text(format(t))}</text>`;
  }
  const cy = n1(box.top + box.height / 2);
  out += `<text class="axis-label" transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle">${text(label)}</text></g>`;
  return out;
}

function xAxisLabel(box: Box, height: number, label: string): string {
  return `<text class="axis-label" x="${n1(box.left + box.width / 2)}" y="${height - 6}" text-anchor="middle">${text(label)}</text>`;
}

function legend(items: { label: string; cls: string }[], left: number): string {
  let out = '<g class="legend">';
  let x = left;
  for (const item of items) {
    out += `<line class="${item.cls}" x1="${x}" x2="${x + 22}" y1="14" y2="14"/>`;
    out += `<text x="${x + 28}" y="14" dy="0.32em">${text(item.label)}</text>`;
    x += 40 + Math.min(item.label.length, 30) * 7;
  }
  return `${out}</g>`;
}

/**
 * A line chart over time: one line per series (gaps where `y` is null or
 * points are further apart than `gapMillis`), markers on lone points,
 * optional horizontal rules, a legend when there is more than one series.
 */
export function timeChart(o: TimeChartOptions): string {
  const height = 260;
  const box: Box = { left: 72, top: 32, width: W - 72 - 24, height: height - 32 - 50 };
  const values: number[] = [];
  for (const s of o.series) for (const p of s.points) if (p.y !== null && Number.isFinite(p.y)) values.push(p.y);
  for (const r of o.rules ?? []) values.push(r.value);
  const dataMin = values.length ? Math.min(...values) : 0;
  const dataMax = values.length ? Math.max(...values) : 1;
  let lo = o.yMin ?? dataMin;
  let hi = o.yMax ?? dataMax;
  if (hi <= lo) {
    if (o.yMax === undefined) hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
    else lo = hi - (hi === 0 ? 1 : Math.abs(hi) * 0.1);
  }
  const ticks = niceTicks(lo, hi, 5).filter((t) => (o.yMin === undefined || t >= o.yMin - 1e-12) && (o.yMax === undefined || t <= o.yMax + 1e-12));
  if (o.yMin === undefined) lo = Math.min(lo, ticks[0] ?? lo);
  if (o.yMax === undefined) hi = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  const span = o.toMillis - o.fromMillis || 1;
  const sx = (t: number): number => box.left + ((t - o.fromMillis) / span) * box.width;
  const sy = (v: number): number => box.top + box.height - ((Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * box.height;

  let out = open(o.id, height, o.title, o.desc, 'time-chart');
  out += yAxis(box, ticks, sy, o.formatY, o.yLabel);
  const { ticks: xt, stepMillis } = timeTicks(o.fromMillis, o.toMillis);
  out += '<g class="axis x-axis">';
  out += `<line class="baseline" x1="${box.left}" x2="${box.left + box.width}" y1="${box.top + box.height}" y2="${box.top + box.height}"/>`;
  for (const t of xt) {
    const x = n1(sx(t));
    out += `<line class="tick" x1="${x}" x2="${x}" y1="${box.top + box.height}" y2="${box.top + box.height + 5}"/>`;
    out += `<text x="${x}" y="${box.top + box.height + 18}" text-anchor="middle">${text(formatTick(t, stepMillis))}</text>`;
  }
  out += xAxisLabel(box, height, o.xLabel ?? 'Time (UTC)');
  out += '</g>';

  // Rule labels sit just above their line, right-aligned. Labels that would overlap are pushed
  // down, and when that runs past the plot's bottom, the bottom ones push the others back up.
  const rules = [...(o.rules ?? [])].sort((a, b) => b.value - a.value).map((r) => ({ r, y: sy(r.value), ty: 0 }));
  const GAP = 13;
  rules.forEach((p, k) => (p.ty = Math.max(p.y - 5, k === 0 ? -Infinity : (rules[k - 1] as { ty: number }).ty + GAP)));
  for (let k = rules.length - 1; k >= 0; k--) {
    const limit = k === rules.length - 1 ? box.top + box.height - 3 : (rules[k + 1] as { ty: number }).ty - GAP;
    const p = rules[k] as { ty: number };
    p.ty = Math.min(p.ty, limit);
  }
  for (const { r, y, ty } of rules) {
    out += `<g class="rule ref-${r.tone}"><line x1="${box.left}" x2="${box.left + box.width}" y1="${n1(y)}" y2="${n1(y)}"/>`;
    out += `<text x="${box.left + box.width - 4}" y="${n1(ty)}" text-anchor="end">${text(r.label)}</text></g>`;
  }

  o.series.forEach((s, i) => {
    const cls = `s${s.tone ?? ((i % 4) + 1)}`;
    const pts = [...s.points].filter((p) => Number.isFinite(p.x)).sort((a, b) => a.x - b.x);
    let d = '';
    const lone: ChartPoint[] = [];
    let run: ChartPoint[] = [];
    const flush = (): void => {
      if (run.length === 1) lone.push(run[0] as ChartPoint);
      else if (run.length > 1) d += run.map((p, k) => `${k === 0 ? 'M' : 'L'}${n1(sx(p.x))} ${n1(sy(p.y as number))}`).join('');
      run = [];
    };
    let prev: ChartPoint | undefined;
    for (const p of pts) {
      if (p.y === null || !Number.isFinite(p.y)) {
        flush();
        prev = undefined;
        continue;
      }
      if (prev && o.gapMillis !== undefined && p.x - prev.x > o.gapMillis) flush();
      run.push(p);
      prev = p;
    }
    flush();
    out += `<g class="series ${cls}">`;
    if (d) out += `<path d="${d}"/>`;
    const markers = pts.length <= 48 ? pts.filter((p) => p.y !== null && Number.isFinite(p.y)) : lone;
    for (const p of markers) out += `<circle cx="${n1(sx(p.x))}" cy="${n1(sy(p.y as number))}" r="2.5"/>`;
    out += '</g>';
  });
  if (values.length === 0 || o.series.every((s) => s.points.length === 0)) {
    out += `<text class="no-data" x="${n1(box.left + box.width / 2)}" y="${n1(box.top + box.height / 2)}" text-anchor="middle">No runs in this window</text>`;
  }
  if (o.series.length > 1) out += legend(o.series.map((s, i) => ({ label: s.label, cls: `s${s.tone ?? ((i % 4) + 1)}` })), box.left);
  return `${out}</svg>`;
}

/** A histogram: bins as equal-width bars (so log-spaced bins read well), labelled at their edges. */
export function histogramChart(o: HistogramOptions): string {
  const height = 260;
  const box: Box = { left: 72, top: 20, width: W - 72 - 24, height: height - 20 - 56 };
  const maxCount = Math.max(1, ...o.bins.map((b) => b.count));
  const ticks = niceTicks(0, maxCount, 4).filter((t) => Number.isInteger(t) && t >= 0);
  const top = Math.max(maxCount, ticks[ticks.length - 1] ?? maxCount);
  const sy = (v: number): number => box.top + box.height - (v / top) * box.height;
  let out = open(o.id, height, o.title, o.desc, 'histogram');
  out += yAxis(box, ticks, sy, (v) => localeNumber(v), o.yLabel);
  const n = Math.max(1, o.bins.length);
  const bw = box.width / n;
  out += '<g class="bars">';
  o.bins.forEach((b, i) => {
    const x = box.left + i * bw;
    const y = sy(b.count);
    const label = `${o.formatX(b.from)} to ${o.formatX(b.to)}: ${localeNumber(b.count)}`;
    out += `<rect class="bar${b.muted ? ' muted' : ''}" x="${n1(x + 1)}" y="${n1(y)}" width="${n1(Math.max(1, bw - 2))}" height="${n1(box.top + box.height - y)}"><title>${text(label)}</title></rect>`;
  });
  out += '</g><g class="axis x-axis">';
  out += `<line class="baseline" x1="${box.left}" x2="${box.left + box.width}" y1="${box.top + box.height}" y2="${box.top + box.height}"/>`;
  const every = Math.max(1, Math.ceil((n + 1) / 8));
  for (let i = 0; i <= o.bins.length; i += every) {
    const edge = i < o.bins.length ? (o.bins[i] as HistogramBin).from : (o.bins[o.bins.length - 1] as HistogramBin).to;
    const x = n1(box.left + i * bw);
    out += `<line class="tick" x1="${x}" x2="${x}" y1="${box.top + box.height}" y2="${box.top + box.height + 5}"/>`;
    out += `<text x="${x}" y="${box.top + box.height + 18}" text-anchor="middle">${text(o.formatX(edge))}</text>`;
  }
  if (o.bins.length === 0) {
    out += `<text class="no-data" x="${n1(box.left + box.width / 2)}" y="${n1(box.top + box.height / 2)}" text-anchor="middle">No runs in this window</text>`;
  }
  out += xAxisLabel(box, height, o.xLabel);
  return `${out}</g></svg>`;
}

/** Horizontal bars with their labels on the left and values on the right (failure modes, attempts). */
export function barListChart(o: BarListOptions): string {
  const row = 26;
  const height = 28 + Math.max(1, o.bars.length) * row + 34;
  const box: Box = { left: 210, top: 20, width: W - 210 - 90, height: Math.max(1, o.bars.length) * row };
  const max = Math.max(0, ...o.bars.map((b) => b.value));
  const sx = (v: number): number => (max > 0 ? (v / max) * box.width : 0);
  let out = open(o.id, height, o.title, o.desc, 'bar-list');
  o.bars.forEach((b, i) => {
    const y = box.top + i * row;
    const chars = Array.from(stripControl(b.label));
    const short = chars.length > 28 ? `${chars.slice(0, 27).join('')}…` : chars.join('');
    out += `<g class="bar-row tone-${b.tone ?? 'neutral'}"><title>${text(`${b.label}: ${o.formatValue(b.value)}`)}</title>`;
    out += `<text class="bar-label" x="${box.left - 8}" y="${n1(y + row / 2)}" dy="0.32em" text-anchor="end">${text(short)}</text>`;
    out += `<rect class="bar" x="${box.left}" y="${n1(y + 4)}" width="${n1(Math.max(b.value > 0 ? 2 : 0, sx(b.value)))}" height="${row - 8}"/>`;
    out += `<text class="bar-value" x="${n1(box.left + sx(b.value) + 6)}" y="${n1(y + row / 2)}" dy="0.32em">${text(o.formatValue(b.value))}</text></g>`;
  });
  if (o.bars.length === 0) {
    out += `<text class="no-data" x="${n1(box.left + box.width / 2)}" y="${n1(box.top + row / 2)}" dy="0.32em" text-anchor="middle">Nothing to show</text>`;
  }
  const base = box.top + box.height;
  out += `<line class="baseline" x1="${box.left}" x2="${box.left}" y1="${box.top}" y2="${base}"/>`;
  out += `<text class="axis-label" x="${n1(box.left + box.width / 2)}" y="${height - 8}" text-anchor="middle">${text(o.valueLabel)}</text>`;
  return `${out}</svg>`;
}

/** A small decorative bar for a 0..1 fraction in a table cell (the number is printed beside it). */
export function meter(fraction: number | null, tone: 'bad' | 'warn' | 'good' | 'muted'): string {
  const f = fraction === null || !Number.isFinite(fraction) ? 0 : Math.min(1, Math.max(0, fraction));
  return `<svg xmlns="http://www.w3.org/2000/svg" class="meter" viewBox="0 0 100 8" aria-hidden="true" focusable="false"><rect class="meter-bg" x="0" y="0" width="100" height="8" rx="2"/><rect class="meter-fg ref-${tone}" x="0" y="0" width="${n1(f * 100)}" height="8" rx="2"/></svg>`;
}

/**
 * A one-sentence summary of a series for a chart's `<desc>`: how many points,
 * the lowest and highest with their times, and the latest value.
 */
export function describeSeries(label: string, points: readonly ChartPoint[], formatY: (v: number) => string, formatX: (x: number) => string): string {
  const ok = points.filter((p): p is { x: number; y: number } => p.y !== null && Number.isFinite(p.y));
  if (ok.length === 0) return `${label}: no data.`;
  let lo = ok[0] as { x: number; y: number };
  let hi = lo;
  for (const p of ok) {
    if (p.y < lo.y) lo = p;
    if (p.y > hi.y) hi = p;
  }
  const last = ok[ok.length - 1] as { x: number; y: number };
  return `${label}: ${ok.length} points, lowest ${formatY(lo.y)} at ${formatX(lo.x)}, highest ${formatY(hi.y)} at ${formatX(hi.x)}, latest ${formatY(last.y)}.`;
}
