import { COUNTED_OUTCOMES } from '../contracts/index.js';
import type { DimensionFilter, JobAggregate, JobSelector, RunStartsOptions, RunStartsQuery } from './types.js';
import type { StartsQuery } from './rollup/read.js';

/**
 * How far before a range's start the run queries read every job row (a
 * partition-pruned range scan). Rows of runs that end in the range but ended
 * before this are found by a second, keyed read of just those runs (runs
 * longer than this), so no attempt is lost; the constant only sizes the
 * cheap first read.
 */
export const RUN_LOOKBACK_NANOS = 86_400_000_000_000n;

/** Roles of rows that bound a run's start and hold its own columns (run spans). */
export const RUN_ROLES_SQL = "('run', 'run_attempt')";
/** Roles of rows that are part of the run's execution (run span or attempts). */
export const EXEC_ROLES_SQL = "('run', 'run_attempt', 'attempt')";

/** `'succeeded', 'failed', 'timed_out'`: the outcomes in the success-rate denominator. */
export const COUNTED_SQL_LIST = COUNTED_OUTCOMES.map((o) => `'${o}'`).join(', ');

/** Lifecycle event types that end a run, as a SQL list (for open runs). */
export const TERMINAL_EVENTS_SQL_LIST = ['job.succeeded', 'job.failed', 'job.timed_out', 'job.cancelled', 'job.dead_lettered', 'job.skipped'].map((t) => `'${t}'`).join(', ');

/** Most rows {@link Store.openRuns} returns. */
export const MAX_OPEN_RUNS = 10_000;

/**
 * Milliseconds as an integer nanosecond literal for SQL. Only finite numbers
 * reach SQL this way, so nothing a user typed can.
 * @throws {RangeError} for a non-finite value
 */
export function nanosLiteral(millis: number): string {
  if (!Number.isFinite(millis)) throw new RangeError(`not a finite time: ${millis}`);
  return (BigInt(Math.trunc(millis)) * 1_000_000n).toString();
}

/**
 * The interval width of {@link RunStartsOptions.coalesceMillis} as an integer
 * of at least 1 ms (a width below 1 coalesces only equal starts), undefined
 * when not asked for.
 * @throws {RangeError} for a non-finite or negative value
 */
export function coalesceWidth(options: RunStartsOptions): number | undefined {
  const w = options.coalesceMillis;
  if (w === undefined) return undefined;
  if (!Number.isFinite(w) || w < 0) throw new RangeError(`coalesceMillis must be a finite number of ms >= 0, got ${w}`);
  return Math.max(1, Math.floor(w));
}

/**
 * A query for the earliest start only as a coalesced one: one interval as
 * wide as the range's end (every start in the range, all before its end,
 * falls in the first), whose earliest start is the answer.
 */
function asCoalesced(q: RunStartsQuery): RunStartsQuery {
  return q.earliestOnly === true ? { ...q, coalesceMillis: Math.max(1, q.toMillis) } : q;
}

/** A run starts query in the rollups' terms (ns, a validated coalesce width). */
export function startsQuery(query: RunStartsQuery): StartsQuery {
  const q = asCoalesced(query);
  return {
    jobs: q.jobs,
    fromNs: BigInt(nanosLiteral(q.fromMillis)),
    toNs: BigInt(nanosLiteral(q.toMillis)),
    which: q.which,
    coalesceMillis: coalesceWidth(q),
    where: q.where,
    ...(q.earliestOnly === true ? { earliestOnly: true } : {}),
  };
}

/**
 * `runStartsMany` of a store: the queries its rollups answer
 * from them (one call for all), the others one `raw` read each, in order.
 * A query for the earliest start only gets a list of at most one.
 */
export async function runStartsFrom(rollups: { runStartsMany(queries: readonly StartsQuery[]): Promise<(number[] | null)[]> } | null, queries: readonly RunStartsQuery[], raw: (query: RunStartsQuery) => Promise<number[]>): Promise<number[][]> {
  const rolled = (await rollups?.runStartsMany(queries.map(startsQuery))) ?? [];
  const out: number[][] = [];
  for (const [i, q] of queries.entries()) {
    const starts = rolled[i] ?? (await raw(asCoalesced(q)));
    out.push(q.earliestOnly === true ? starts.slice(0, 1) : starts);
  }
  return out;
}

/** A finite number as a SQL literal. @throws {RangeError} otherwise */
export function numberLiteral(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`);
  return String(n);
}

/** True when the selector has glob characters. */
export function isGlob(selector: JobSelector): boolean {
  return /[*?]/.test(selector);
}

/**
 * A glob as a SQL LIKE pattern with `\` as the escape character: `*` -> `%`,
 * `?` -> `_`, and literal `%`, `_` and `\` escaped.
 */
export function globToLike(selector: JobSelector): string {
  let out = '';
  for (const ch of selector) {
    if (ch === '*') out += '%';
    else if (ch === '?') out += '_';
    else if (ch === '%' || ch === '_' || ch === '\\') out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** Queries grouped by their end time, with each query's index in the input. */
export function groupByEnd<Q extends { endMillis: number }>(queries: readonly Q[]): Map<number, { index: number; query: Q }[]> {
  const groups = new Map<number, { index: number; query: Q }[]>();
  queries.forEach((query, index) => {
    const g = groups.get(query.endMillis) ?? [];
    g.push({ index, query });
    groups.set(query.endMillis, g);
  });
  return groups;
}

/** Latency threshold of a criterion in nanoseconds, or undefined for `success`. */
export function thresholdNanos(criterion: { kind: string; thresholdMillis?: number }): bigint | undefined {
  if (criterion.kind !== 'latency') return undefined;
  const ms = criterion.thresholdMillis ?? 0;
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite threshold: ${ms}`);
  return BigInt(Math.trunc(ms * 1e6));
}

function numOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * A `jobAggregates` result row as both stores name its columns (`runs`,
 * `succeeded`, ..., `latency_p50`, `queue_p95`, `rss_p95`), with the failure
 * modes already counted.
 */
export function jobAggregateFromRow(r: Record<string, unknown>, failureModes: Record<string, number>): JobAggregate {
  return {
    job: String(r['job']),
    runs: Number(r['runs']),
    succeeded: Number(r['succeeded']),
    failed: Number(r['failed']),
    timedOut: Number(r['timed_out']),
    cancelled: Number(r['cancelled']),
    skipped: Number(r['skipped']),
    deadLettered: Number(r['n_dead_lettered']),
    latencyP50Millis: numOrNull(r['latency_p50']),
    latencyP95Millis: numOrNull(r['latency_p95']),
    latencyP99Millis: numOrNull(r['latency_p99']),
    retries: Number(r['retries']),
    queueDelayP50Millis: numOrNull(r['queue_p50']),
    queueDelayP95Millis: numOrNull(r['queue_p95']),
    queuedRuns: Number(r['queued_runs']),
    costTotal: numOrNull(r['cost_total']),
    costedRuns: Number(r['costed_runs']),
    cpuSecondsTotal: numOrNull(r['cpu_total']),
    cpuRuns: Number(r['cpu_runs']),
    maxRssP95Bytes: numOrNull(r['rss_p95']),
    failureModes,
  };
}

/** Failure modes counted, keys in byte order (so every store and path gives them in one order). */
export function modeCounts(modes: readonly string[] | null | undefined): Record<string, number> {
  const counts = new Map<string, number>();
  for (const m of modes ?? []) counts.set(m, (counts.get(m) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** A stable text key of a dimension filter (keys sorted), to group queries that share one. */
export function whereKey(where: DimensionFilter | undefined): string {
  if (!where) return '';
  return JSON.stringify(Object.keys(where).sort().map((k) => [k, where[k]]));
}
