/** Number and time formatting shared by the pages and the charts. Pure; `–` stands for "no value". */

export const NONE = '–';

const formats = new Map<string, Intl.NumberFormat>();

/**
 * `n.toLocaleString('en-US', options)` with the formatter made once per
 * options (toLocaleString builds a new one every call: most of a 1,000-job
 * report's render time was spent there).
 */
export function localeNumber(n: number, minimumFractionDigits = 0, maximumFractionDigits = 3): string {
  const key = `${minimumFractionDigits}:${maximumFractionDigits}`;
  let f = formats.get(key);
  if (!f) formats.set(key, (f = new Intl.NumberFormat('en-US', { minimumFractionDigits, maximumFractionDigits })));
  return f.format(n);
}

/** 0..1 as a percentage: `99.12%`; more digits near 100% so 99.95% does not read as 100.00%. */
export function formatPercent(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return NONE;
  const pct = v * 100;
  // An overspent error budget reaches thousands of percent: whole numbers with separators.
  if (Math.abs(pct) >= 1000) return `${pct < 0 ? '\u2212' : ''}${localeNumber(Math.round(Math.abs(pct)))}%`;
  const d = pct > 99.9 && pct < 100 && digits < 3 ? 3 : digits;
  const text = pct.toFixed(d);
  return `${text.startsWith('-') ? `\u2212${text.slice(1)}` : text}%`;
}

/** An SLO objective such as 0.999 as `99.9%` (no trailing zeros). */
export function formatObjective(v: number): string {
  return `${Number((v * 100).toFixed(4)).toString()}%`;
}

/** Milliseconds as a short duration: `850 ms`, `1.25 s`, `4.2 min`, `3.1 h`, `2.0 d`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NONE;
  const a = Math.abs(ms);
  if (a >= 86_400_000) return `${(ms / 86_400_000).toFixed(1)} d`;
  if (a >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (a >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (a >= 1_000) return `${(ms / 1_000).toFixed(2)} s`;
  if (a >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** A window length for headings: `24h`, `7d`, `30 min`, `90 s` (hours up to two days). */
export function formatWindow(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 172_800_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

/** A duration for axis ticks: the short form without trailing zeros (`1 s`, `1.5 s`, `200 ms`). */
export function formatDurationTick(ms: number): string {
  return formatDuration(ms).replace(/\.0+ /, ' ').replace(/(\.\d*?)0+ /, '$1 ');
}

/** An integer count with thousands separators: `12,345`. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NONE;
  return localeNumber(Math.round(n));
}

/** A plain number with `digits` decimals and separators. */
export function formatNumber(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NONE;
  return localeNumber(n, digits, digits);
}

/** A cost in the user's currency unit (jobslo does not know which): more decimals for small amounts. */
export function formatCost(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NONE;
  const a = Math.abs(n);
  return formatNumber(n, a === 0 || a >= 1 ? 2 : a >= 0.01 ? 4 : 6);
}

/** Bytes in binary units: `512 KiB`, `1.5 GiB`. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NONE;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 || v >= 100 ? 0 : 1)} ${units[i] as string}`;
}

/** A burn rate: `14.4×`. */
export function formatRate(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NONE;
  return `${n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)}×`;
}

const pad = (n: number): string => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Unix ms as `2026-11-29 14:05 UTC` (seconds added when `seconds`). */
export function formatTime(ms: number | null | undefined, seconds = false): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NONE;
  const d = new Date(ms);
  const s = seconds ? `:${pad(d.getUTCSeconds())}` : '';
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${s} UTC`;
}

/** Unix ms as an axis tick label at the precision of `stepMillis`. */
export function formatTick(ms: number, stepMillis: number): string {
  const d = new Date(ms);
  const day = `${MONTHS[d.getUTCMonth()] as string} ${d.getUTCDate()}`;
  if (stepMillis >= 86_400_000) return day;
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (stepMillis < 60_000) return `${hm}:${pad(d.getUTCSeconds())}`;
  return d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && stepMillis >= 3_600_000 ? day : hm;
}

/** How long before `nowMillis` a time was: `5 min ago`, `in 2.0 h`. */
export function formatAgo(ms: number | null | undefined, nowMillis: number): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NONE;
  const d = nowMillis - ms;
  if (Math.abs(d) < 1_000) return 'just now';
  return d >= 0 ? `${formatDuration(d)} ago` : `in ${formatDuration(-d)}`;
}

/** Direction of a change and whether it is good news, for colouring. */
export interface Delta {
  /** `+0.52 pp`, `−12 (−8.0%)`, `new`, or `–`. */
  text: string;
  /** `up`, `down` or `flat`; `none` when there is nothing to compare with. */
  direction: 'up' | 'down' | 'flat' | 'none';
  /** `good`, `bad` or `neutral`, given whether higher is better. */
  tone: 'good' | 'bad' | 'neutral';
}

const MINUS = '\u2212';
const signed = (n: number, text: string): string => (n > 0 ? `+${text}` : n < 0 ? `${MINUS}${text.replace(/^-/, '')}` : text);

function tone(direction: Delta['direction'], higherIsBetter: boolean | null): Delta['tone'] {
  if (higherIsBetter === null || direction === 'flat' || direction === 'none') return 'neutral';
  return (direction === 'up') === higherIsBetter ? 'good' : 'bad';
}

/**
 * Change of a 0..1 rate in percentage points. Changes under 0.005 pp read as flat.
 * @param higherIsBetter null when neither direction is good news
 */
export function deltaRate(current: number | null, previous: number | null, higherIsBetter: boolean | null = true): Delta {
  if (current === null || previous === null) return { text: previous === null && current !== null ? 'new' : NONE, direction: 'none', tone: 'neutral' };
  const pp = (current - previous) * 100;
  const direction = Math.abs(pp) < 0.005 ? 'flat' : pp > 0 ? 'up' : 'down';
  return { text: direction === 'flat' ? '±0 pp' : `${signed(pp, Math.abs(pp).toFixed(2))} pp`, direction, tone: tone(direction, higherIsBetter) };
}

/** Relative change of an amount: `+8.0%`. Changes under 0.05% read as flat. */
export function deltaRelative(current: number | null, previous: number | null, higherIsBetter: boolean | null): Delta {
  if (current === null || previous === null) return { text: previous === null && current !== null ? 'new' : NONE, direction: 'none', tone: 'neutral' };
  if (previous === 0) {
    if (current === 0) return { text: '±0%', direction: 'flat', tone: 'neutral' };
    return { text: 'new', direction: 'up', tone: tone('up', higherIsBetter) };
  }
  const rel = ((current - previous) / Math.abs(previous)) * 100;
  const direction = Math.abs(rel) < 0.05 ? 'flat' : rel > 0 ? 'up' : 'down';
  return { text: direction === 'flat' ? '±0%' : `${signed(rel, Math.abs(rel).toFixed(1))}%`, direction, tone: tone(direction, higherIsBetter) };
}

/** Change of a count: `+12 (+8.0%)`. */
export function deltaCount(current: number, previous: number | null, higherIsBetter: boolean | null): Delta {
  if (previous === null) return { text: 'new', direction: 'none', tone: 'neutral' };
  const diff = current - previous;
  const direction = diff === 0 ? 'flat' : diff > 0 ? 'up' : 'down';
  if (direction === 'flat') return { text: '±0', direction, tone: 'neutral' };
  const rel = previous === 0 ? '' : ` (${signed(diff, ((Math.abs(diff) / previous) * 100).toFixed(1))}%)`;
  return { text: `${signed(diff, formatCount(Math.abs(diff)))}${rel}`, direction, tone: tone(direction, higherIsBetter) };
}
