/**
 * Misconfiguration made loud: SLOs and monitors whose job selector matches
 * no job seen in their window (a typo, a renamed job), with the closest job
 * names seen as suggestions.
 */
import { formatDurationMillis } from '../../contracts/index.js';
import type { RunReader } from '../../store/index.js';
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
  /** Job names seen in the window that are close to the selector, closest first (at most 3). */
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

/** Up to three seen names within edit distance max(2, a third of the selector's length). */
export function suggestJobs(selector: string, seen: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(selector.length / 3));
  return seen
    .slice(0, 10_000)
    .map((name) => ({ name, d: distance(selector.replace(/[*?]/g, ''), name) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : 1))
    .slice(0, 3)
    .map((x) => x.name);
}

/**
 * The SLOs and monitors of `config` whose selector matches no job with a run
 * in its window ending at `atMillis`. One `jobNames` query per distinct window.
 * @param lookbackMillis the monitors' window @default 35 days
 */
export async function findUnmatchedSelectors(store: RunReader, config: Pick<JobsloConfig, 'slos' | 'monitors'>, atMillis: number, lookbackMillis = DEFAULT_LOOKBACK_MILLIS): Promise<UnmatchedSelector[]> {
  const wanted: { kind: 'slo' | 'monitor'; name: string; job: string; windowMillis: number }[] = [
    ...config.slos.map((s) => ({ kind: 'slo' as const, name: s.name, job: s.job, windowMillis: s.windowMillis })),
    ...config.monitors.map((m) => ({ kind: 'monitor' as const, name: m.name, job: m.job, windowMillis: lookbackMillis })),
  ];
  const names = new Map<number, Promise<string[]>>();
  const seenIn = (w: number): Promise<string[]> => {
    let p = names.get(w);
    if (!p) names.set(w, (p = store.jobNames({ fromMillis: atMillis - w, toMillis: atMillis + 1 })));
    return p;
  };
  const out: UnmatchedSelector[] = [];
  for (const x of wanted) {
    const seen = await seenIn(x.windowMillis);
    if (seen.some((j) => selectorMatches(x.job, j))) continue;
    out.push({ ...x, suggestions: suggestJobs(x.job, seen) });
  }
  return out;
}

/** One line per unmatched selector, for stderr and the report: what is wrong and what to do. */
export function describeUnmatched(u: UnmatchedSelector): string {
  const what = u.kind === 'slo' ? `SLO "${u.name}"` : `monitor "${u.name}"`;
  const hint = u.suggestions.length > 0 ? `; did you mean ${u.suggestions.map((s) => JSON.stringify(s)).join(' or ')}?` : '; check the job name (jobslo analyze lists the jobs seen)';
  const consequence = u.kind === 'slo' ? 'its SLI has no data' : 'it stays new (never pages) until one runs';
  return `${what}: job ${JSON.stringify(u.job)} matches no job that ran in the last ${formatDurationMillis(u.windowMillis)}, so ${consequence}${hint}`;
}
