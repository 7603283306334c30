/**
 * Rollup maintenance, the same on every store: ingest writes a mark per job
 * row (job, run id, end time); a refresh turns the pending marks into the
 * minute and hour buckets they may change and recomputes those buckets
 * wholesale from the raw run derivation, so a bucket's content is always a
 * function of the stored job rows: redelivered rows, late attempts and
 * replays recompute the same buckets to the same contents.
 */
import { HOUR_NS, MINUTE_NS, bucketOf, floorDiv } from './buckets.js';
import type { NsRange } from './buckets.js';
import { hourContent, thresholdsFor } from './content.js';
import type { HourContent, RegisteredThreshold, RunFact } from './content.js';

/** What ingest records for every job row it stores. */
export interface RollupMark {
  job: string;
  runId: string;
  /** The row's end, Unix ns. */
  endNs: bigint;
  /** True when the row can give its run a final outcome. */
  terminal: boolean;
}

/** A minute bucket's runs. */
export interface MinuteContent {
  job: string;
  minuteNs: bigint;
  runs: RunFact[];
}

/** The store side of the rollups. */
export interface RollupBackend {
  /** Up to `limit` marks not yet acknowledged, and a token that acknowledges exactly them. */
  pendingMarks(limit: number): Promise<{ marks: RollupMark[]; token: bigint }>;
  /** Acknowledges the marks of a {@link pendingMarks} answer. */
  ackMarks(token: bigint): Promise<void>;
  /** Minute buckets of the stored terminal rows of these runs that end in the range. */
  terminalMinutes(runs: readonly { job: string; runId: string }[], range: NsRange): Promise<{ job: string; minuteNs: bigint }[]>;
  /** The derived runs of these jobs (null: every job) with a final outcome in the range (the raw run derivation). */
  runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]>;
  /** The range of final outcome times of the stored job rows, null when there are none. */
  storedRange(): Promise<NsRange | null>;
  /** The runs that the stored minute buckets of these jobs hold, for bucket starts in `[fromNs, toNs)`. */
  minuteRuns(jobs: readonly string[], fromNs: bigint, toNs: bigint): Promise<RunFact[]>;
  /** Replaces these buckets' contents (a newer version of each). */
  writeBuckets(minutes: readonly MinuteContent[], hours: readonly HourContent[], version: bigint): Promise<void>;
  /** The registered latency thresholds. */
  thresholds(): Promise<RegisteredThreshold[]>;
}

/** Marks read per refresh step. */
const MARKS_PER_STEP = 50_000;
/**
 * How far around a mark the run's earlier terminal rows are looked for (the
 * bucket the run was counted in before). The same look-back as the raw run
 * derivation's first read.
 */
export const PREVIOUS_ROW_LOOKBACK_NS = 86_400_000_000_000n;
/** Dirty hours further apart than this are recomputed in separate reads. */
const CLUSTER_GAP_NS = 6n * HOUR_NS;

const key = (job: string, ns: bigint): string => `${job}\u0000${ns}`;

/** Groups sorted bucket starts into ranges of starts no more than `gap` apart. */
export function clusterStarts(starts: readonly bigint[], gap: bigint): { fromNs: bigint; toNs: bigint }[] {
  const sorted = [...new Set(starts)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: { fromNs: bigint; toNs: bigint }[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s - last.toNs <= gap) last.toNs = s;
    else out.push({ fromNs: s, toNs: s });
  }
  return out;
}

/** What one refresh did. */
export interface RefreshResult {
  marks: number;
  minutes: number;
  hours: number;
}

/**
 * Applies every pending mark: finds the buckets the marked runs are counted
 * in now and were counted in before, and recomputes them. Safe to repeat and
 * to run in two processes at once (both write the same contents).
 * @param onStep called after each step with the totals so far (progress)
 */
export async function refreshRollups(backend: RollupBackend, onStep?: (r: RefreshResult) => void): Promise<RefreshResult> {
  const total: RefreshResult = { marks: 0, minutes: 0, hours: 0 };
  let registry: RegisteredThreshold[] | undefined;
  for (;;) {
    const { marks, token } = await backend.pendingMarks(MARKS_PER_STEP);
    if (marks.length === 0) return total;
    registry ??= await backend.thresholds();
    const r = await recompute(backend, marks, registry);
    await backend.ackMarks(token);
    total.marks += marks.length;
    total.minutes += r.minutes;
    total.hours += r.hours;
    onStep?.({ ...total });
    if (marks.length < MARKS_PER_STEP) return total;
  }
}

async function recompute(backend: RollupBackend, marks: readonly RollupMark[], registry: readonly RegisteredThreshold[]): Promise<{ minutes: number; hours: number }> {
  const dirtyMinutes = new Map<string, { job: string; minuteNs: bigint }>();
  const addMinute = (job: string, minuteNs: bigint): void => {
    dirtyMinutes.set(key(job, minuteNs), { job, minuteNs });
  };
  const runs = new Map<string, { job: string; runId: string }>();
  let lo = marks[0]?.endNs ?? 0n;
  let hi = lo;
  for (const m of marks) {
    if (m.terminal) addMinute(m.job, bucketOf(m.endNs, MINUTE_NS));
    runs.set(`${m.job}\u0000${m.runId}`, { job: m.job, runId: m.runId });
    if (m.endNs < lo) lo = m.endNs;
    if (m.endNs > hi) hi = m.endNs;
  }
  for (const m of await backend.terminalMinutes([...runs.values()], { loNs: lo - PREVIOUS_ROW_LOOKBACK_NS, hiNs: hi + PREVIOUS_ROW_LOOKBACK_NS })) {
    addMinute(m.job, m.minuteNs);
  }
  return recomputeMinutes(backend, [...dirtyMinutes.values()], registry);
}

/**
 * Recomputes the given minute buckets and their hours from the raw run
 * derivation, in reads of clustered hours.
 */
export async function recomputeMinutes(
  backend: RollupBackend,
  minutes: readonly { job: string; minuteNs: bigint }[],
  registry: readonly RegisteredThreshold[],
): Promise<{ minutes: number; hours: number }> {
  const version = BigInt(Date.now()) * 1_000_000n;
  const hourOf = (minuteNs: bigint): bigint => floorDiv(minuteNs, HOUR_NS) * HOUR_NS;
  const dirtyMinuteKeys = new Set(minutes.map((m) => key(m.job, m.minuteNs)));
  const hours = new Map<string, { job: string; hourNs: bigint }>();
  for (const m of minutes) hours.set(key(m.job, hourOf(m.minuteNs)), { job: m.job, hourNs: hourOf(m.minuteNs) });
  let nMinutes = 0;
  let nHours = 0;
  for (const c of clusterStarts([...hours.values()].map((h) => h.hourNs), CLUSTER_GAP_NS)) {
    const inCluster = [...hours.values()].filter((h) => h.hourNs >= c.fromNs && h.hourNs <= c.toNs);
    const jobs = [...new Set(inCluster.map((h) => h.job))].sort();
    const facts = await backend.runFacts(jobs, { loNs: c.fromNs, hiNs: c.toNs + HOUR_NS });
    const byMinute = new Map<string, RunFact[]>();
    const byHour = new Map<string, RunFact[]>();
    for (const f of facts) {
      const mk = key(f.job, bucketOf(f.runEndNs, MINUTE_NS));
      if (dirtyMinuteKeys.has(mk)) (byMinute.get(mk) ?? byMinute.set(mk, []).get(mk))?.push(f);
      const hk = key(f.job, bucketOf(f.runEndNs, HOUR_NS));
      (byHour.get(hk) ?? byHour.set(hk, []).get(hk))?.push(f);
    }
    const minuteContents: MinuteContent[] = minutes
      .filter((m) => hours.has(key(m.job, hourOf(m.minuteNs))) && hourOf(m.minuteNs) >= c.fromNs && hourOf(m.minuteNs) <= c.toNs)
      .map((m) => ({ job: m.job, minuteNs: m.minuteNs, runs: byMinute.get(key(m.job, m.minuteNs)) ?? [] }));
    const hourContents = inCluster.map((h) => hourContent(h.job, h.hourNs, byHour.get(key(h.job, h.hourNs)) ?? [], thresholdsFor(registry, h.job)));
    await backend.writeBuckets(minuteContents, hourContents, version);
    nMinutes += minuteContents.length;
    nHours += hourContents.length;
  }
  return { minutes: nMinutes, hours: nHours };
}

/**
 * Rebuilds the hour buckets of these jobs in `[fromNs, toNs)` from the runs
 * their minute buckets keep, with the thresholds registered now (after a
 * latency threshold was added or changed). Exact: minute buckets keep every
 * run's latency.
 */
export async function rebuildHours(backend: RollupBackend, jobs: readonly string[], fromNs: bigint, toNs: bigint): Promise<number> {
  if (jobs.length === 0) return 0;
  const registry = await backend.thresholds();
  const version = BigInt(Date.now()) * 1_000_000n;
  let n = 0;
  // One day of minute buckets per read keeps each read bounded.
  const DAY = 24n * HOUR_NS;
  for (let from = floorDiv(fromNs, HOUR_NS) * HOUR_NS; from < toNs; from += DAY) {
    const to = from + DAY < toNs ? from + DAY : toNs;
    const runs = await backend.minuteRuns(jobs, from, to);
    const byHour = new Map<string, { job: string; hourNs: bigint; runs: RunFact[] }>();
    for (const r of runs) {
      const h = bucketOf(r.runEndNs, HOUR_NS);
      const k = key(r.job, h);
      let e = byHour.get(k);
      if (!e) byHour.set(k, (e = { job: r.job, hourNs: h, runs: [] }));
      e.runs.push(r);
    }
    const contents = [...byHour.values()].map((h) => hourContent(h.job, h.hourNs, h.runs, thresholdsFor(registry, h.job)));
    if (contents.length > 0) await backend.writeBuckets([], contents, version);
    n += contents.length;
  }
  return n;
}

/**
 * Builds every bucket from the stored job rows, a day per read (what
 * `jobslo migrate` does for a store that has none yet). Ingest may go on:
 * what it marks meanwhile is applied by the next refresh.
 * @param onDay called after each day with the days done and in all
 */
export async function buildRollups(backend: RollupBackend, onDay?: (done: number, total: number) => void): Promise<{ minutes: number; hours: number }> {
  const range = await backend.storedRange();
  if (range === null) return { minutes: 0, hours: 0 };
  const registry = await backend.thresholds();
  const DAY = 24n * HOUR_NS;
  const first = floorDiv(range.loNs - 1n, DAY) * DAY;
  const days = Number((range.hiNs - first + DAY - 1n) / DAY);
  let minutes = 0;
  let hours = 0;
  for (let d = 0; d < days; d++) {
    const lo = first + BigInt(d) * DAY;
    const version = BigInt(Date.now()) * 1_000_000n;
    const facts = await backend.runFacts(null, { loNs: lo, hiNs: lo + DAY });
    const byMinute = new Map<string, MinuteContent>();
    const byHour = new Map<string, { job: string; hourNs: bigint; runs: RunFact[] }>();
    for (const f of facts) {
      const m = bucketOf(f.runEndNs, MINUTE_NS);
      const mk = key(f.job, m);
      let mc = byMinute.get(mk);
      if (!mc) byMinute.set(mk, (mc = { job: f.job, minuteNs: m, runs: [] }));
      mc.runs.push(f);
      const h = bucketOf(f.runEndNs, HOUR_NS);
      const hk = key(f.job, h);
      let hc = byHour.get(hk);
      if (!hc) byHour.set(hk, (hc = { job: f.job, hourNs: h, runs: [] }));
      hc.runs.push(f);
    }
    const hourContents = [...byHour.values()].map((h) => hourContent(h.job, h.hourNs, h.runs, thresholdsFor(registry, h.job)));
    if (byMinute.size > 0) await backend.writeBuckets([...byMinute.values()], hourContents, version);
    minutes += byMinute.size;
    hours += hourContents.length;
    onDay?.(d + 1, days);
  }
  return { minutes, hours };
}
