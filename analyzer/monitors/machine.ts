/**
 * The monitor state machine: from the previous record, the run facts the
 * store returned and the evaluation time, the monitor's state now. Pure (the
 * clock is the `atMillis` argument), so every store and every test drives it
 * the same way.
 *
 * A tick is on time when a run starts within `[tick, tick + grace]`. A tick
 * whose grace passes without a run, and a failed or timed-out run, are bad
 * events; the monitor is `down` from the first bad event after its last
 * succeeded run until a run succeeds again (a later on-time tick does not
 * bring it back: only a success does).
 */
import { Cron } from 'croner';
import { scheduleTicks } from '../slo/freshness.js';
import type { MonitorDefinition, MonitorEvaluation, MonitorFacts, MonitorRecord, MonitorStatus } from './types.js';

/** Outcomes that make a monitor go down. */
const BAD_OUTCOMES = new Set(['failed', 'timed_out']);
/** A `skipped` run did not run: it does not satisfy a tick. */
const NOT_STARTED = new Set(['skipped']);

/** Longest stretch of ticks judged in one evaluation (older ones are not enumerated). @default 35 days */
export const DEFAULT_LOOKBACK_MILLIS = 35 * 86_400_000;

/** Most ticks judged in one evaluation. */
const MAX_JUDGED_TICKS = 10_000;

/** Options of {@link stepMonitor}. */
export interface StepOptions {
  /** Ticks older than `atMillis - lookbackMillis` are not judged. @default DEFAULT_LOOKBACK_MILLIS */
  lookbackMillis?: number;
}

const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));
const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/** Next cron tick strictly after `afterMillis`, or null when the expression never fires again. */
export function nextCronTick(cron: string, timezone: string, afterMillis: number): number | null {
  const c = new Cron(cron, { timezone, paused: true, mode: '5-or-6-parts' });
  try {
    return c.nextRun(new Date(afterMillis))?.getTime() ?? null;
  } finally {
    c.stop();
  }
}

/** True when some value of `sorted` (ascending) is in `[lo, hi]`. */
function anyIn(sorted: readonly number[], lo: number, hi: number): boolean {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const m = (a + b) >>> 1;
    if ((sorted[m] as number) < lo) a = m + 1;
    else b = m;
  }
  return a < sorted.length && (sorted[a] as number) <= hi;
}

/**
 * Ticks of the monitor's schedule to judge now: deadlines (tick + grace) in
 * `(judgedThrough, at]`, ticks at or after `eligibleFrom`. For a period
 * schedule, the ticks are `base + k × period` after the latest start.
 */
function ticksToJudge(m: MonitorDefinition, base: number | null, eligibleFrom: number, judgedThrough: number, at: number): number[] {
  const g = m.graceMillis;
  const from = Math.max(eligibleFrom, judgedThrough - g + 1);
  const to = at - g;
  if (to < from) return [];
  if (m.schedule.kind === 'cron') {
    try {
      return scheduleTicks(m.schedule, from, to, MAX_JUDGED_TICKS);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      // Too many to judge: judge the latest ones only.
      return scheduleTicks(m.schedule, Math.max(from, to - Math.floor((to - from) / 10)), to, MAX_JUDGED_TICKS);
    }
  }
  if (base === null) return [];
  const p = m.schedule.periodMillis;
  const out: number[] = [];
  const k0 = Math.max(1, Math.ceil((from - base) / p));
  for (let k = k0; base + k * p <= to && out.length < MAX_JUDGED_TICKS; k++) out.push(base + k * p);
  return out;
}

/**
 * One evaluation of a monitor at `atMillis`.
 * @param prev the record of the previous evaluation, if any
 */
export function stepMonitor(m: MonitorDefinition, prev: MonitorRecord | undefined, facts: MonitorFacts, atMillis: number, options: StepOptions = {}): MonitorEvaluation {
  const at = atMillis;
  const g = m.graceMillis;
  const lookback = options.lookbackMillis ?? DEFAULT_LOOKBACK_MILLIS;

  // What the facts add to what the record remembers.
  const finished = facts.finished.filter((r) => r.startMillis <= at && r.endMillis <= at);
  const open = facts.open.filter((r) => r.startMillis <= at && !finished.some((f) => f.runId === r.runId));
  const ran = finished.filter((r) => !NOT_STARTED.has(r.outcome));
  const starts = [...ran.map((r) => r.startMillis), ...open.map((r) => r.startMillis)].sort((a, b) => a - b);
  let firstSeen = prev?.firstSeenMillis ?? null;
  let lastStart = prev?.lastStartMillis ?? null;
  if (starts.length > 0) {
    firstSeen = minOf(firstSeen, starts[0] as number);
    lastStart = maxOf(lastStart, starts[starts.length - 1] as number);
  }
  let lastRun = prev?.lastRun ?? null;
  for (const r of ran) {
    if (lastRun === null || r.endMillis > lastRun.endMillis) lastRun = { startMillis: r.startMillis, endMillis: r.endMillis, outcome: r.outcome };
  }
  const prevSuccess = prev?.lastSuccessEndMillis ?? null;
  let lastSuccess = prevSuccess;
  for (const r of ran) if (r.outcome === 'succeeded') lastSuccess = maxOf(lastSuccess, r.endMillis);

  const monitorStart = m.startMillis ?? firstSeen;
  const base = (): MonitorEvaluation => ({
    monitor: m,
    atMillis: at,
    status: 'new',
    sinceMillis: at,
    lastRun,
    lastSuccessEndMillis: lastSuccess,
    nextExpectedMillis: null,
    lateDeadlineMillis: null,
    downSinceMillis: null,
    missedInARow: 0,
    overdueStartsMillis: [],
    record: {
      status: 'new',
      sinceMillis: at,
      firstSeenMillis: firstSeen,
      lastStartMillis: lastStart,
      lastRun,
      lastSuccessEndMillis: lastSuccess,
      lastBadMillis: prev?.lastBadMillis ?? null,
      downSinceMillis: prev?.downSinceMillis ?? null,
      missedInARow: prev?.missedInARow ?? 0,
      judgedThroughMillis: prev?.judgedThroughMillis ?? null,
      firing: { ...(prev?.firing ?? {}) },
      evaluatedAtMillis: at,
    },
  });
  const since = (status: MonitorStatus, when: number): number => (prev?.status === status ? prev.sinceMillis : when);

  if (m.paused) {
    const e = base();
    e.status = 'paused';
    e.sinceMillis = since('paused', at);
    e.record.status = 'paused';
    e.record.sinceMillis = e.sinceMillis;
    return e;
  }
  if (monitorStart === null || monitorStart > at) {
    const e = base();
    e.sinceMillis = since('new', at);
    e.record.sinceMillis = e.sinceMillis;
    e.nextExpectedMillis = m.schedule.kind === 'cron' ? nextCronTick(m.schedule.cron, m.schedule.timezone, Math.max(at, monitorStart ?? at) - 1) : null;
    return e;
  }

  // Judge the ticks whose grace ended since the last evaluation.
  const eligibleFrom = m.startMillis ?? monitorStart - g;
  const judgedThrough = Math.max(prev?.judgedThroughMillis ?? monitorStart - 1, monitorStart - 1, facts.fromMillis + g - 1, at - lookback);
  const periodBase = m.schedule.kind === 'period' ? (lastStart ?? m.startMillis ?? null) : null;
  const missedDeadlines: number[] = [];
  for (const t of ticksToJudge(m, periodBase, eligibleFrom, judgedThrough, at)) {
    if (!anyIn(starts, t, t + g)) missedDeadlines.push(t + g);
  }
  const failures = ran.filter((r) => BAD_OUTCOMES.has(r.outcome) && r.endMillis >= monitorStart).map((r) => r.endMillis);
  const bad = [...missedDeadlines, ...failures];
  let lastBad = prev?.lastBadMillis ?? null;
  for (const b of bad) lastBad = maxOf(lastBad, b);
  const after = (x: number): boolean => lastSuccess === null || x > lastSuccess;
  let downSince: number | null = null;
  for (const b of bad) if (after(b)) downSince = minOf(downSince, b);
  const prevDown = prev?.downSinceMillis ?? null;
  if (prevDown !== null && after(prevDown)) downSince = minOf(downSince, prevDown);
  else if (prev?.lastBadMillis != null && after(prev.lastBadMillis)) downSince = minOf(downSince, prev.lastBadMillis);
  const isDown = lastBad !== null && after(lastBad) && downSince !== null;

  const succeededNow = lastSuccess !== null && (prevSuccess === null || lastSuccess > prevSuccess);
  const missedInARow = succeededNow ? missedDeadlines.filter(after).length : (prev?.missedInARow ?? 0) + missedDeadlines.length;

  // Late: the current tick's grace is still running and nothing started since the tick.
  let lateTick: number | null = null;
  if (m.schedule.kind === 'cron') {
    const current = scheduleTicks(m.schedule, Math.max(at - g + 1, eligibleFrom), at, MAX_JUDGED_TICKS);
    const t = current[current.length - 1];
    if (t !== undefined && !anyIn(starts, t, at) && !(lastStart !== null && lastStart >= t)) lateTick = t;
  } else if (periodBase !== null) {
    const t = periodBase + m.schedule.periodMillis;
    if (t <= at && at < t + g) lateTick = t;
  }

  const overdue = m.maxRuntimeMillis === undefined ? [] : open.filter((r) => at - r.startMillis > (m.maxRuntimeMillis as number)).map((r) => r.startMillis);

  const e = base();
  let status: MonitorStatus;
  let when: number;
  if (isDown) {
    status = 'down';
    when = downSince ?? at;
  } else if (overdue.length > 0) {
    status = 'running_too_long';
    when = Math.min(...overdue) + (m.maxRuntimeMillis as number);
  } else if (lateTick !== null) {
    status = 'late';
    when = lateTick;
  } else {
    status = 'up';
    when = lastSuccess ?? monitorStart;
  }
  e.status = status;
  e.sinceMillis = since(status, when);
  e.downSinceMillis = isDown ? downSince : null;
  e.missedInARow = missedInARow;
  e.overdueStartsMillis = overdue;
  e.lateDeadlineMillis = lateTick === null ? null : lateTick + g;
  e.nextExpectedMillis =
    m.schedule.kind === 'cron'
      ? nextCronTick(m.schedule.cron, m.schedule.timezone, at - 1)
      : periodBase === null
        ? null
        : periodBase + m.schedule.periodMillis;
  e.record = {
    ...e.record,
    status,
    sinceMillis: e.sinceMillis,
    lastBadMillis: lastBad,
    downSinceMillis: isDown ? downSince : null,
    missedInARow,
    judgedThroughMillis: Math.max(judgedThrough, at),
  };
  return e;
}
