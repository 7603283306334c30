/** Monitor evaluations as a plain-text table and as the stable JSON of `jobslo analyze`/`alerts`. */
import { describeSchedule } from './state.js';
import type { MonitorEvaluation } from './types.js';

/** The `monitors[]` element of `--format json`. Field names are a stable contract. */
export interface MonitorJson {
  name: string;
  job: string;
  /** new, up, late, down, running_too_long, paused */
  status: string;
  /** ISO time the monitor entered `status`. */
  since: string;
  schedule: string;
  last_run: { outcome: string; started: string; ended: string } | null;
  last_success: string | null;
  next_expected: string | null;
  missed_in_a_row: number;
  /** Start times of runs past the maximum runtime. */
  running_too_long: string[];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Shapes an evaluation into the public JSON record. Pure. */
export function toMonitorJson(e: MonitorEvaluation): MonitorJson {
  return {
    name: e.monitor.name,
    job: e.monitor.job,
    status: e.status,
    since: iso(e.sinceMillis) as string,
    schedule: describeSchedule(e.monitor),
    last_run: e.lastRun === null ? null : { outcome: e.lastRun.outcome, started: iso(e.lastRun.startMillis) as string, ended: iso(e.lastRun.endMillis) as string },
    last_success: iso(e.lastSuccessEndMillis),
    next_expected: iso(e.nextExpectedMillis),
    missed_in_a_row: e.missedInARow,
    running_too_long: e.overdueStartsMillis.map((t) => iso(t) as string),
  };
}

const short = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z'));

/** A plain-text table of monitors (worst first), for `jobslo analyze` and `jobslo alerts`. */
export function formatMonitorTable(evals: readonly MonitorEvaluation[]): string {
  if (evals.length === 0) return '';
  const rank = (s: string): number => ['down', 'running_too_long', 'late', 'up', 'new', 'paused'].indexOf(s);
  const rows = [...evals]
    .sort((a, b) => rank(a.status) - rank(b.status) || (a.monitor.name < b.monitor.name ? -1 : 1))
    .map((e) => [
      e.monitor.name,
      e.monitor.job,
      e.status.toUpperCase().replace(/_/g, ' '),
      short(e.sinceMillis),
      e.lastRun === null ? 'never' : `${e.lastRun.outcome} ${short(e.lastRun.endMillis)}`,
      short(e.lastSuccessEndMillis),
      short(e.nextExpectedMillis),
      String(e.missedInARow),
      describeSchedule(e.monitor),
    ]);
  const header = ['MONITOR', 'JOB', 'STATUS', 'SINCE', 'LAST RUN', 'LAST SUCCESS', 'NEXT EXPECTED', 'MISSED', 'SCHEDULE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
