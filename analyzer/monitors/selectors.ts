/**
 * Misconfiguration made loud: SLOs and monitors whose job selector matches
 * no job seen in their window (a typo, a renamed job), or whose `where:`
 * matches no run of that job (a misspelt environment), with the closest job
 * names or dimension values seen as suggestions.
 */
import { formatDurationMillis } from '../../contracts/index.js';
import type { DimensionFilter, RunReader } from '../../store/index.js';
import type { JobsloConfig } from '../slo/index.js';
import { DEFAULT_LOOKBACK_MILLIS } from './machine.js';

/** One selector that matched nothing. */
export interface UnmatchedSelector {
  kind: 'slo' | 'monitor';
  /** SLO or monitor name. */
  name: string;
  /** The job selector as configured. */
  job: string;
  /** The window searched, ms (the SLO window; the monitors' lookback). */
  windowMillis: number;
  /**
   * Set when the job matched but no run of it in the window has these
   * dimension values: the `where:` as configured.
   */
  where?: DimensionFilter;
  /**
   * The `where:` key whose value no run of the job has; absent when every
   * value is seen on its own but no run has them all.
   */
  dimension?: string;
  /** Values of `dimension` that runs of the job have, most runs first (at most 10; `''` = runs without it, shown as (unset)). */
  valuesSeen?: string[];
  /**
   * Closest first (at most 3): job names seen in the window close to the
   * selector or, with `dimension`, values seen close to the configured one.
   */
  suggestions: string[];
}

/** True when `job` is selected by `selector`: an exact name, or a glob (`*` any run of characters, `?` one). */
export function selectorMatches(selector: string, job: string): boolean {
  if (!/[*?]/.test(selector)) return selector === job;
  let re = '^';
  for (const ch of selector) {
    if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 'u').test(job);
}

/** Levenshtein distance, bounded work for short names. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** Up to three seen names within edit distance max(2, a third of the selector's length), case ignored. */
export function suggestJobs(selector: string, seen: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(selector.length / 3));
  const wanted = selector.replace(/[*?]/g, '').toLowerCase();
  return seen
    .slice(0, 10_000)
    .map((name) => ({ name, d: distance(wanted, name.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : 1))
    .slice(0, 3)
    .map((x) => x.name);
}

/** How many values of a dimension an unmatched `where:` lists. */
const VALUES_SEEN_MAX = 10;

interface Wanted {
  kind: 'slo' | 'monitor';
  name: string;
  job: string;
  where?: DimensionFilter;
  windowMillis: number;
}

/**
 * The SLOs and monitors of `config` whose selector matches no job with a run
 * in its window ending at `atMillis`, or whose `where:` matches no run of the
 * jobs it selects. One `jobNames` query per distinct window and, per distinct
 * (job, `where:`, window), one `listRuns` of at most one run; values seen are
 * looked up only for a `where:` that matched nothing.
 * @param lookbackMillis the monitors' window @default 35 days
 */
export async function findUnmatchedSelectors(store: RunReader, config: Pick<JobsloConfig, 'slos' | 'monitors'>, atMillis: number, lookbackMillis = DEFAULT_LOOKBACK_MILLIS): Promise<UnmatchedSelector[]> {
  const wanted: Wanted[] = [
    ...config.slos.map((s) => ({ kind: 'slo' as const, name: s.name, job: s.job, windowMillis: s.windowMillis, ...(s.where ? { where: s.where } : {}) })),
    ...config.monitors.map((m) => ({ kind: 'monitor' as const, name: m.name, job: m.job, windowMillis: lookbackMillis, ...(m.where ? { where: m.where } : {}) })),
  ];
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, f: () => Promise<T>): Promise<T> => {
    let p = memo.get(key) as Promise<T> | undefined;
    if (!p) memo.set(key, (p = f()));
    return p;
  };
  const range = (w: number) => ({ fromMillis: atMillis - w, toMillis: atMillis + 1 });
  const check = async (x: Wanted): Promise<UnmatchedSelector | undefined> => {
    const { where, ...plain } = x;
    const seen = await once(`jobs ${x.windowMillis}`, () => store.jobNames(range(x.windowMillis)));
    if (!seen.some((j) => selectorMatches(x.job, j))) return { ...plain, suggestions: suggestJobs(x.job, seen) };
    if (where === undefined) return undefined;
    const some = await once(`runs ${x.windowMillis} ${JSON.stringify([x.job, where])}`, () => store.listRuns({ ...range(x.windowMillis), jobs: x.job, where, limit: 1 }));
    if (some.length > 0) return undefined;
    for (const [key, value] of Object.entries(where)) {
      const values = await once(`values ${x.windowMillis} ${JSON.stringify([x.job, key])}`, () => valuesSeen(store, x.job, key, range(x.windowMillis)));
      if (values.includes(value)) continue;
      return { ...plain, where, dimension: key, valuesSeen: values.slice(0, VALUES_SEEN_MAX), suggestions: suggestJobs(value, values.filter((v) => v !== '')) };
    }
    return { ...plain, where, suggestions: [] };
  };
  const out: UnmatchedSelector[] = [];
  for (const x of wanted) {
    const u = await check(x);
    if (u) out.push(u);
  }
  return out;
}

/** The values of dimension `key` that runs of the jobs `job` selects have in `range`, most runs first. */
async function valuesSeen(store: RunReader, job: string, key: string, range: { fromMillis: number; toMillis: number }): Promise<string[]> {
  const runs = new Map<string, number>();
  for (const a of await store.jobAggregates({ ...range, groupBy: key })) {
    if (!selectorMatches(job, a.job)) continue;
    const v = a.group ?? '';
    runs.set(v, (runs.get(v) ?? 0) + a.runs + a.cancelled + a.skipped);
  }
  return [...runs].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v]) => v);
}

/** `key: "value"`, as in jobslo.yaml. */
function dimensionText(key: string, value: string): string {
  return `${key}: ${JSON.stringify(value)}`;
}

/** One line per unmatched selector, for stderr and the report: what is wrong and what to do. */
export function describeUnmatched(u: UnmatchedSelector): string {
  const what = u.kind === 'slo' ? `SLO "${u.name}"` : `monitor "${u.name}"`;
  const consequence = u.kind === 'slo' ? 'its SLI has no data' : 'it stays new (never pages) until one runs';
  const window = formatDurationMillis(u.windowMillis);
  if (u.where !== undefined) {
    const key = u.dimension;
    if (key === undefined) {
      const all = Object.entries(u.where).map(([k, v]) => dimensionText(k, v)).join(', ');
      return `${what}: no run of job ${JSON.stringify(u.job)} in the last ${window} has all of ${all} (each is seen on its own), so ${consequence}; check the where: combination`;
    }
    const seen = (u.valuesSeen ?? []).map((v) => (v === '' ? '(unset)' : JSON.stringify(v))).join(', ');
    const hint = u.suggestions.length > 0 ? `; did you mean ${u.suggestions.map((s) => dimensionText(key, s)).join(' or ')}?` : '';
    return `${what}: no run of job ${JSON.stringify(u.job)} in the last ${window} has ${dimensionText(key, u.where[key] ?? '')} (values seen: ${seen || 'none'}), so ${consequence}${hint}`;
  }
  const hint = u.suggestions.length > 0 ? `; did you mean ${u.suggestions.map((s) => JSON.stringify(s)).join(' or ')}?` : '; check the job name (jobslo analyze lists the jobs seen)';
  return `${what}: job ${JSON.stringify(u.job)} matches no job that ran in the last ${window}, so ${consequence}${hint}`;
}

/** An unmatched selector in the JSON output of `analyze` and `alerts`. */
export function unmatchedJson(u: UnmatchedSelector): Record<string, unknown> {
  return {
    kind: u.kind,
    name: u.name,
    job: u.job,
    ...(u.where !== undefined ? { where: u.where } : {}),
    ...(u.dimension !== undefined ? { dimension: u.dimension } : {}),
    ...(u.valuesSeen !== undefined ? { values_seen: u.valuesSeen } : {}),
    suggestions: u.suggestions,
  };
}
