/**
 * View models: ReportData -> plain objects with every figure already
 * formatted, for the handlebars templates (which only place and escape
 * them). Raw numbers travel alongside as `v` so cells can carry them in
 * `data-value` attributes (the tests compare those with the analyzer's JSON).
 * Chart SVG is built here by `_charts.ts`, which escapes its own text.
 */
import type { JobSlis } from '../analyzer/index.js';
import type { RunSummary } from '../store/index.js';
import { barListChart, describeSeries, histogramChart, meter, timeChart } from './_charts.js';
import type { BarItem, ChartRule, ChartSeries } from './_charts.js';
import { excerpt } from './_escape.js';
import {
  NONE,
  deltaCount,
  deltaRate,
  deltaRelative,
  formatAgo,
  formatBytes,
  formatCost,
  formatCount,
  formatDuration,
  formatDurationTick,
  formatNumber,
  formatObjective,
  formatPercent,
  formatRate,
  formatTime,
  formatWindow,
  localeNumber,
} from './_format.js';
import type { Delta } from './_format.js';
import { selectorMatches as selects } from '../analyzer/monitors/index.js';
import type { ReportAlertInput, ReportCheckInput, ReportCheckStatus, ReportData, ReportJobDetail, ReportSloData } from './model.js';

/** A table cell: raw value for `data-value`, display text, tone class, optional change. */
export interface Cell {
  v: number | string | null;
  t: string;
  tone: string;
  delta: Delta | null;
}

const cell = (v: number | string | null, t: string, tone = '', delta: Delta | null = null): Cell => ({ v, t, tone, delta });

/** Where pages live: the paths are the keys of the rendered site. */
export interface SitePaths {
  job(name: string): string;
  slo(name: string): string;
}

/** Makes chart ids unique within one page. */
class Ids {
  private n = 0;
  next(): string {
    return `c${++this.n}`;
  }
}

const MESSAGE_CHARS = 200;
const TITLE_CHARS = 1_000;
const short = (ms: number): string => formatTime(ms);

function health(rate: number | null): 'bad' | 'warn' | 'good' | 'none' {
  if (rate === null) return 'none';
  if (rate < 0.9) return 'bad';
  if (rate < 0.99) return 'warn';
  return 'good';
}

const sum = (xs: readonly (number | null)[]): number | null => {
  let s: number | null = null;
  for (const x of xs) if (x !== null) s = (s ?? 0) + x;
  return s;
};

/** Totals over all jobs of one analysis. */
function totals(jobs: readonly JobSlis[]): { runs: number; succeeded: number; failed: number; successRate: number | null; cost: number | null; deadLettered: number } {
  const runs = jobs.reduce((s, j) => s + j.runs, 0);
  const succeeded = jobs.reduce((s, j) => s + j.succeeded, 0);
  return {
    runs,
    succeeded,
    failed: jobs.reduce((s, j) => s + j.failed, 0),
    successRate: runs === 0 ? null : succeeded / runs,
    cost: sum(jobs.map((j) => j.cost_total)),
    deadLettered: jobs.reduce((s, j) => s + j.dead_lettered, 0),
  };
}

/** `exit code 1` for numeric error types; the type itself otherwise. */
export function failureModeLabel(mode: string): string {
  return /^-?\d+$/.test(mode) ? `exit code ${mode}` : mode;
}

function topMode(modes: Record<string, number>): string {
  const [best] = Object.entries(modes).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return best ? `${failureModeLabel(best[0])} (${formatCount(best[1])})` : NONE;
}

function outcomeTone(outcome: string): string {
  if (outcome === 'succeeded') return 'good';
  if (outcome === 'failed' || outcome === 'timed_out') return 'bad';
  return 'muted';
}

/** One run in a table (latest failures, slowest runs). Message and error text are untrusted: excerpted here, escaped by the template. */
export interface RunRow {
  job: string;
  jobHref: string;
  runId: string;
  outcome: string;
  outcomeTone: string;
  ended: string;
  endedMillis: number;
  latency: Cell;
  attempts: number;
  error: string;
  exitCode: string;
  message: string;
  messageFull: string;
  traceId: string;
  /** Link of the trace in the configured tracing UI, or ''. */
  traceHref: string;
  spanId: string;
  deadLettered: boolean;
}

/**
 * A trace link from a template: `{trace_id}`, `{span_id}`, `{run_id}` and
 * `{job}` URL-encoded in; '' without a template, an id, or an http(s) result.
 */
export function traceLink(template: string | undefined, r: Pick<RunSummary, 'traceId' | 'spanId' | 'runId' | 'job'>): string {
  if (template === undefined || template === '' || r.traceId === '') return '';
  const values: Record<string, string> = { trace_id: r.traceId, span_id: r.spanId, run_id: r.runId, job: r.job };
  const url = template.replace(/\{(trace_id|span_id|run_id|job)\}/g, (_m, k: string) => encodeURIComponent(values[k] ?? ''));
  return /^https?:\/\//i.test(url) ? url : '';
}

/** Failed runs grouped by error type and message: how often each happened, first and last seen. */
export interface FailureGroup {
  error: string;
  message: string;
  messageFull: string;
  count: string;
  firstSeen: string;
  lastSeen: string;
  /** Newest run of the group. */
  runId: string;
  traceId: string;
  traceHref: string;
}

function failureGroups(runs: readonly RunSummary[], traceUrl: string | undefined): FailureGroup[] {
  const groups = new Map<string, { runs: RunSummary[] }>();
  for (const r of runs) {
    const key = `${r.errorType}\0${r.exitCode ?? ''}\0${r.message}`;
    const g = groups.get(key) ?? { runs: [] };
    g.runs.push(r);
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => {
      const first = Math.min(...g.runs.map((r) => r.endMillis));
      const newest = g.runs.reduce((a, b) => (b.endMillis > a.endMillis ? b : a));
      return { g, first, newest };
    })
    .sort((a, b) => b.g.runs.length - a.g.runs.length || b.newest.endMillis - a.newest.endMillis)
    .map(({ g, first, newest }) => ({
      error: errorText(newest),
      message: newest.message === '' ? '' : excerpt(newest.message, MESSAGE_CHARS),
      messageFull: excerpt(newest.message, TITLE_CHARS),
      count: formatCount(g.runs.length),
      firstSeen: formatTime(first, true),
      lastSeen: formatTime(newest.endMillis, true),
      runId: newest.runId,
      traceId: newest.traceId,
      traceHref: traceLink(traceUrl, newest),
    }));
}

/** The error type for people, with the exit code when the type does not already say it. */
function errorText(r: RunSummary): string {
  const type = r.errorType === '' ? '' : failureModeLabel(excerpt(r.errorType, 80));
  const exit = r.exitCode === null || r.errorType === String(r.exitCode) ? '' : `exit code ${r.exitCode}`;
  return [type, exit].filter((x) => x !== '').join(', ') || NONE;
}

function runRows(runs: readonly RunSummary[], paths: SitePaths, root: string, traceUrl?: string): RunRow[] {
  return runs.map((r) => ({
    job: r.job,
    jobHref: root + paths.job(r.job),
    runId: r.runId,
    outcome: r.outcome.replace('_', ' '),
    outcomeTone: outcomeTone(r.outcome),
    ended: formatTime(r.endMillis, true),
    endedMillis: r.endMillis,
    latency: cell(r.latencyMillis, formatDuration(r.latencyMillis)),
    attempts: r.attempts,
    error: r.errorType === '' ? NONE : failureModeLabel(excerpt(r.errorType, 80)),
    // "exit code 1" once: not again beside an error type that is the exit code.
    exitCode: r.exitCode === null || r.errorType === String(r.exitCode) ? '' : String(r.exitCode),
    message: r.message === '' ? '' : excerpt(r.message, MESSAGE_CHARS),
    messageFull: excerpt(r.message, TITLE_CHARS),
    traceId: r.traceId,
    traceHref: traceLink(traceUrl, r),
    spanId: r.spanId,
    deadLettered: r.deadLettered,
  }));
}

/** The header's statement of what the numbers cover and how fresh they are. */
export interface Freshness {
  window: string;
  windowLength: string;
  previous: string;
  generated: string;
  latest: string;
}

export function freshness(d: ReportData): Freshness {
  return {
    window: `${short(d.window.fromMillis)} to ${short(d.window.toMillis)}`,
    windowLength: formatWindow(Math.round((d.window.toMillis - d.window.fromMillis) / 1000) * 1000),
    previous: `${short(d.previousWindow.fromMillis)} to ${short(d.previousWindow.toMillis)}`,
    generated: formatTime(d.generatedAtMillis, true),
    latest: d.latestRunEndMillis === null ? 'no runs in this window' : `${formatTime(d.latestRunEndMillis, true)} (${formatAgo(d.latestRunEndMillis, d.generatedAtMillis)})`,
  };
}

// ---------------------------------------------------------------- SLOs

interface SloStatus {
  text: string;
  tone: 'bad' | 'warn' | 'good' | 'muted';
  rank: number;
}

function sloStatus(s: ReportSloData): SloStatus {
  const i = s.input;
  if (i.errorBudgetRemaining === null || i.sliValue === null) return { text: 'No data', tone: 'muted', rank: 3 };
  if (i.errorBudgetRemaining <= 0) return { text: 'Budget spent', tone: 'bad', rank: 0 };
  if (i.alerts.some((a) => a.state === 'firing')) return { text: 'Alert firing', tone: 'bad', rank: 0 };
  if (i.errorBudgetRemaining < 0.25) return { text: 'At risk', tone: 'warn', rank: 1 };
  return { text: 'Meeting objective', tone: 'good', rank: 2 };
}

function criterionText(s: ReportSloData): string {
  const c = s.input.criterion;
  if (c === null) return s.input.unit === 'ticks' ? 'tick was followed by a succeeded run within its grace' : 'event is good (not a run-based SLI)';
  return c.kind === 'success' ? 'run succeeded' : `run succeeded within ${formatDuration(c.thresholdMillis)}`;
}

const burnText = (rates: readonly { windowMillis: number; rate: number | null }[]): string =>
  rates.length === 0
    ? NONE
    : [...rates]
        .sort((a, b) => a.windowMillis - b.windowMillis)
        .map((b) => `${formatWindow(b.windowMillis)} ${formatRate(b.rate)}`)
        .join(', ');

/** When the budget runs out, in words. */
function exhaustText(s: ReportSloData, nowMillis: number): string {
  const i = s.input;
  if (i.errorBudgetRemaining !== null && i.errorBudgetRemaining <= 0) return 'already spent';
  if (i.budgetExhaustedAtMillis === null) return i.errorBudgetRemaining === null ? NONE : 'not at the current burn rate';
  return `${formatTime(i.budgetExhaustedAtMillis)} (${formatAgo(i.budgetExhaustedAtMillis, nowMillis)})`;
}

/** An SLO's burn-down and burn-rate charts. */
function sloCharts(s: ReportSloData, d: ReportData, ids: Ids): { burndownSvg: string; burnSvg: string; chartsNote: string } {
  const i = s.input;
  if (i.criterion === null) {
    return { burndownSvg: '', burnSvg: '', chartsNote: 'This SLI does not count runs (freshness counts schedule ticks), so there is no burn-down or burn-rate chart from run data; the figures above come from the SLO evaluator.' };
  }
  const end = i.evaluatedAtMillis ?? d.window.toMillis;
  const pct = (v: number): string => `${Math.round(v * 100)}%`;
  const bd = s.budgetSeries.map((p) => ({ x: p.atMillis, y: p.remaining }));
  const lastBd = bd[bd.length - 1];
  const burndown = timeChart({
    id: ids.next(),
    title: `Error budget left: ${i.name}`,
    desc:
      bd.length === 0
        ? `No runs of ${i.jobs} in the ${formatWindow(i.windowMillis)} SLO window ending ${short(end)}.`
        : `Error budget left over the ${formatWindow(i.windowMillis)} SLO window ending ${short(end)}, counting the window's bad runs as they happened: from 100% to ${formatPercent(lastBd?.y ?? null, 1)}. The evaluator reports ${formatPercent(i.errorBudgetRemaining, 1)} left.`,
    fromMillis: end - i.windowMillis,
    toMillis: end,
    series: [{ label: 'Budget left', points: bd, tone: 1 }],
    yLabel: 'Error budget left (%)',
    formatY: pct,
    yMax: Math.max(1, ...bd.map((p) => p.y)),
    yMin: Math.min(0, ...bd.map((p) => p.y)),
    rules: [{ value: 0, label: 'budget spent', tone: 'bad' }],
  });
  const tiers = [...i.alertTiers].sort((a, b) => b.burnRateThreshold - a.burnRateThreshold);
  const rules: ChartRule[] = tiers.map((t, k) => ({
    value: t.burnRateThreshold,
    label: `${t.name} ≥ ${formatRate(t.burnRateThreshold)} (${formatWindow(t.longWindowMillis)}${t.shortWindowMillis ? ` + ${formatWindow(t.shortWindowMillis)}` : ''})`,
    tone: k === 0 ? 'bad' : 'warn',
  }));
  rules.push({ value: 1, label: `1× (budget lasts ${formatWindow(i.windowMillis)})`, tone: 'muted' });
  const series: ChartSeries[] = s.burnSeries.map((b, k) => ({
    label: `${formatWindow(b.windowMillis)} window`,
    points: b.points.map((p) => ({ x: p.atMillis, y: p.rate })),
    tone: ((k % 4) + 1) as 1 | 2 | 3 | 4,
  }));
  const fmtX = (x: number): string => formatTime(x);
  const burn = timeChart({
    id: ids.next(),
    title: `Burn rate: ${i.name}`,
    desc:
      `Burn rate (error rate divided by the allowed ${formatPercent(1 - i.objective, 3)}) over the last ${formatWindow(s.burnToMillis - s.burnFromMillis)} (the longest alert window), sampled every ${formatWindow(s.burnStepMillis)}. ` +
      `Alert thresholds: ${tiers.map((t) => `${t.name} at ${formatRate(t.burnRateThreshold)}`).join(', ') || 'none given'}. ` +
      series.map((se) => describeSeries(se.label, se.points, formatRate, fmtX)).join(' '),
    fromMillis: s.burnFromMillis,
    toMillis: s.burnToMillis,
    series,
    yLabel: 'Burn rate (× budget pace)',
    formatY: (v) => `${formatNumber(v, v < 10 && v % 1 !== 0 ? 1 : 0)}×`,
    yMin: 0,
    rules,
  });
  return { burndownSvg: burndown, burnSvg: burn, chartsNote: '' };
}

/** A row of the SLO compliance table. */
export interface SloRow {
  name: string;
  href: string;
  jobs: string;
  objective: string;
  sli: Cell;
  budget: Cell;
  meter: string;
  status: SloStatus;
  burn: string;
  exhausts: string;
  firing: number;
}

function sloRows(d: ReportData, paths: SitePaths, root: string): SloRow[] {
  return (d.slos ?? [])
    .map((s) => {
      const i = s.input;
      const status = sloStatus(s);
      return {
        name: i.name,
        href: root + paths.slo(i.name),
        jobs: i.jobs,
        objective: formatObjective(i.objective),
        sli: cell(i.sliValue, formatPercent(i.sliValue, 3), status.tone),
        budget: cell(i.errorBudgetRemaining, formatPercent(i.errorBudgetRemaining, 1), status.tone),
        meter: meter(i.errorBudgetRemaining, status.tone),
        status,
        burn: burnText(i.burnRates),
        exhausts: exhaustText(s, i.evaluatedAtMillis ?? d.window.toMillis),
        firing: i.alerts.filter((a) => a.state === 'firing').length,
      };
    })
    .sort((a, b) => (a.budget.v as number | null ?? Infinity) - (b.budget.v as number | null ?? Infinity) || (a.name < b.name ? -1 : 1));
}

/** The tier an alert belongs to: same name and, when the alert says, same long window. */
function tierOf(i: ReportSloData['input'], a: ReportAlertInput): ReportSloData['input']['alertTiers'][number] | undefined {
  return i.alertTiers.find((t) => t.name === a.tier && (a.longWindowMillis === undefined || a.longWindowMillis === t.longWindowMillis));
}

// Without alert state (a report made without a running serve) the start is unknown, not "firing".
const firedText = (a: ReportAlertInput, now: number): string => (a.firedAtMillis === null ? 'not recorded' : `${formatTime(a.firedAtMillis)} (${formatAgo(a.firedAtMillis, now)})`);

/** A row of an alerts table. */
export interface AlertRow {
  slo: string;
  sloHref: string;
  tier: string;
  threshold: string;
  state: string;
  fired: string;
  firedMillis: number;
  resolved: string;
  burn: string;
  exhausts: string;
  summary: string;
}

function alertRows(d: ReportData, paths: SitePaths, root: string, state: ReportAlertInput['state']): AlertRow[] {
  const rows: (AlertRow & { order: number })[] = [];
  for (const s of d.slos ?? []) {
    const i = s.input;
    const now = i.evaluatedAtMillis ?? d.window.toMillis;
    for (const a of i.alerts) {
      if (a.state !== state) continue;
      const tier = tierOf(i, a);
      rows.push({
        slo: i.name,
        sloHref: root + paths.slo(i.name),
        tier: a.tier,
        threshold: tier ? formatRate(tier.burnRateThreshold) : NONE,
        state: a.state,
        fired: firedText(a, now),
        firedMillis: a.firedAtMillis ?? 0,
        resolved: a.resolvedAtMillis === null ? NONE : `${formatTime(a.resolvedAtMillis)} (${formatAgo(a.resolvedAtMillis, now)})`,
        burn: burnText(a.burnRates),
        exhausts: exhaustText(s, now),
        summary: a.summary === undefined ? '' : excerpt(a.summary, MESSAGE_CHARS),
        order: state === 'firing' ? (tier?.burnRateThreshold ?? 0) : (a.resolvedAtMillis ?? 0),
      });
    }
  }
  // Firing: most severe tier first, then oldest; resolved: most recent first.
  rows.sort((a, b) => b.order - a.order || a.firedMillis - b.firedMillis);
  return rows.map(({ order: _order, ...r }) => r);
}

// ---------------------------------------------------------------- index (executive view)

export interface Tile {
  label: string;
  field: string;
  value: Cell;
  note: string;
}

export function indexView(d: ReportData, paths: SitePaths): Record<string, unknown> {
  const now = totals(d.analysis.jobs);
  const before = totals(d.previous.jobs);
  const hadBefore = d.previous.jobs.length > 0;
  const prevByJob = new Map(d.previous.jobs.map((j) => [j.job, j]));
  const slos = d.slos === null ? null : sloRows(d, paths, '');
  const firing = slos?.reduce((s, r) => s + r.firing, 0) ?? 0;

  const tiles: Tile[] = [
    { label: 'Run success rate', field: 'success_rate', value: cell(now.successRate, formatPercent(now.successRate), health(now.successRate), hadBefore ? deltaRate(now.successRate, before.successRate) : null), note: `${formatCount(now.succeeded)} of ${formatCount(now.runs)} runs succeeded` },
    { label: 'Runs', field: 'runs', value: cell(now.runs, formatCount(now.runs), '', hadBefore ? deltaCount(now.runs, before.runs, null) : null), note: `${formatCount(d.analysis.jobs.length)} jobs` },
    { label: 'Failed runs', field: 'failed', value: cell(now.failed, formatCount(now.failed), now.failed > 0 ? 'bad' : 'good', hadBefore ? deltaCount(now.failed, before.failed, false) : null), note: `${formatCount(now.deadLettered)} dead-lettered` },
    { label: 'Total cost', field: 'cost_total', value: cell(now.cost, formatCost(now.cost), '', hadBefore ? deltaRelative(now.cost, before.cost, false) : null), note: now.cost === null ? 'no run reported a cost' : 'in your cost unit (jobslo.cost.amount)' },
  ];
  if (slos) {
    const met = slos.filter((s) => s.status.tone === 'good').length;
    tiles.push({ label: 'SLOs meeting objective', field: 'slos_met', value: cell(met, `${met} of ${slos.length}`, met === slos.length ? 'good' : met === 0 ? 'bad' : 'warn'), note: firing > 0 ? `${firing} alert${firing === 1 ? '' : 's'} firing` : 'no alert firing' });
  }

  const failedMost = d.analysis.jobs
    .filter((j) => j.failed > 0)
    .sort((a, b) => b.failed - a.failed || (a.job < b.job ? -1 : 1))
    .slice(0, 10)
    .map((j) => {
      const p = prevByJob.get(j.job) ?? null;
      return {
        job: j.job,
        href: paths.job(j.job),
        failed: cell(j.failed, formatCount(j.failed), 'bad', deltaCount(j.failed, p ? p.failed : hadBefore ? 0 : null, false)),
        successRate: cell(j.success_rate, formatPercent(j.success_rate), health(j.success_rate), deltaRate(j.success_rate, p?.success_rate ?? null)),
        mode: topMode(j.failure_modes),
      };
    });

  const costed = d.analysis.jobs.filter((j) => j.cost_total !== null).sort((a, b) => (b.cost_total as number) - (a.cost_total as number) || (a.job < b.job ? -1 : 1));
  const topCost = costed.slice(0, 10);
  const rest = costed.slice(10);
  const cost =
    costed.length === 0
      ? null
      : {
          rows: topCost.map((j) => {
            const p = prevByJob.get(j.job) ?? null;
            return {
              job: j.job,
              href: paths.job(j.job),
              total: cell(j.cost_total, formatCost(j.cost_total), '', deltaRelative(j.cost_total, p?.cost_total ?? null, false)),
              perRun: cell(j.cost_per_run, formatCost(j.cost_per_run), '', deltaRelative(j.cost_per_run, p?.cost_per_run ?? null, false)),
              share: now.cost ? formatPercent((j.cost_total as number) / now.cost, 1) : NONE,
            };
          }),
          others: rest.length === 0 ? null : { count: rest.length, total: formatCost(sum(rest.map((j) => j.cost_total))) },
          total: cell(now.cost, formatCost(now.cost), '', hadBefore ? deltaRelative(now.cost, before.cost, false) : null),
        };

  const jobs = d.analysis.jobs.map((j) => {
    const p = prevByJob.get(j.job) ?? null;
    return {
      job: j.job,
      href: paths.job(j.job),
      health: health(j.success_rate),
      runs: cell(j.runs, formatCount(j.runs)),
      failed: cell(j.failed, formatCount(j.failed), j.failed > 0 ? 'bad' : ''),
      success_rate: cell(j.success_rate, formatPercent(j.success_rate), health(j.success_rate), p ? deltaRate(j.success_rate, p.success_rate) : null),
      p50: cell(j.latency_ms.p50, formatDuration(j.latency_ms.p50)),
      p95: cell(j.latency_ms.p95, formatDuration(j.latency_ms.p95), '', p ? deltaRelative(j.latency_ms.p95, p.latency_ms.p95, false) : null),
      p99: cell(j.latency_ms.p99, formatDuration(j.latency_ms.p99)),
      retries: cell(j.retries_per_run, formatNumber(j.retries_per_run, 2), j.retries_per_run > 0 ? 'warn' : ''),
      dlq: cell(j.dead_lettered, formatCount(j.dead_lettered), j.dead_lettered > 0 ? 'bad' : ''),
      queue: cell(j.queue_delay_ms.p95, formatDuration(j.queue_delay_ms.p95)),
      cost: cell(j.cost_total, formatCost(j.cost_total)),
    };
  });

  return { tiles, slos, failedMost, cost, jobs, hasJobs: jobs.length > 0, firing };
}

// ---------------------------------------------------------------- on-call view

export function oncallView(d: ReportData, paths: SitePaths): Record<string, unknown> {
  const prevByJob = new Map(d.previous.jobs.map((j) => [j.job, j]));
  const alerts = d.slos === null ? null : { firing: alertRows(d, paths, '', 'firing'), resolved: alertRows(d, paths, '', 'resolved') };
  const freshnessRows =
    d.freshness === null
      ? null
      : [...d.freshness]
          .sort((a, b) => a.expectedAtMillis - b.expectedAtMillis)
          .map((f) => ({
            job: f.job,
            href: d.analysis.jobs.some((j) => j.job === f.job) ? paths.job(f.job) : null,
            state: f.state,
            tone: f.state === 'missed' ? 'bad' : 'warn',
            expected: `${formatTime(f.expectedAtMillis)} (${formatAgo(f.expectedAtMillis, d.generatedAtMillis)})`,
            lastSuccess: f.lastSuccessAtMillis === null ? 'never seen' : `${formatTime(f.lastSuccessAtMillis)} (${formatAgo(f.lastSuccessAtMillis, d.generatedAtMillis)})`,
            missed: f.missedCount === undefined ? NONE : formatCount(f.missedCount),
            detail: f.detail === undefined ? '' : excerpt(f.detail, MESSAGE_CHARS),
          }));
  const queue = d.analysis.jobs
    .filter((j) => j.queue_delay_ms.p95 !== null || j.queue_depth.max > 0)
    .sort((a, b) => b.queue_depth.now - a.queue_depth.now || (b.queue_delay_ms.p95 ?? -1) - (a.queue_delay_ms.p95 ?? -1) || (a.job < b.job ? -1 : 1))
    .slice(0, 25)
    .map((j) => {
      const p = prevByJob.get(j.job) ?? null;
      return {
        job: j.job,
        href: paths.job(j.job),
        depthNow: cell(j.queue_depth.now, formatCount(j.queue_depth.now), j.queue_depth.now > 0 ? 'warn' : ''),
        depthMax: cell(j.queue_depth.max, formatCount(j.queue_depth.max)),
        p50: cell(j.queue_delay_ms.p50, formatDuration(j.queue_delay_ms.p50)),
        p95: cell(j.queue_delay_ms.p95, formatDuration(j.queue_delay_ms.p95), '', deltaRelative(j.queue_delay_ms.p95, p?.queue_delay_ms.p95 ?? null, false)),
        runs: formatCount(j.runs),
      };
    });
  return {
    checks: oncallChecks(d, paths),
    alerts,
    freshness: freshnessRows,
    failures: runRows(d.latestFailures, paths, '', d.traceUrlTemplate),
    queue,
    hasJobs: d.analysis.jobs.length > 0,
  };
}

// ---------------------------------------------------------------- job page (debug view)

/** Axis unit for durations: the largest unit the maximum reaches. */
function durationAxis(maxMillis: number): { unit: string; div: number } {
  if (maxMillis >= 2 * 3_600_000) return { unit: 'h', div: 3_600_000 };
  if (maxMillis >= 2 * 60_000) return { unit: 'min', div: 60_000 };
  if (maxMillis >= 2_000) return { unit: 's', div: 1_000 };
  return { unit: 'ms', div: 1 };
}

const trimNumber = (v: number): string => localeNumber(Number(v.toPrecision(4)));

export function jobView(d: ReportData, j: JobSlis, detail: ReportJobDetail | undefined, paths: SitePaths): Record<string, unknown> {
  const ids = new Ids();
  const p = d.previous.jobs.find((x) => x.job === j.job) ?? null;
  const fmtX = (x: number): string => formatTime(x);
  const tiles: Tile[] = [
    { label: 'Success rate', field: 'success_rate', value: cell(j.success_rate, formatPercent(j.success_rate), health(j.success_rate), p ? deltaRate(j.success_rate, p.success_rate) : null), note: `${formatCount(j.succeeded)} of ${formatCount(j.runs)} runs` },
    { label: 'Runs', field: 'runs', value: cell(j.runs, formatCount(j.runs), '', p ? deltaCount(j.runs, p.runs, null) : null), note: `${formatCount(j.cancelled)} cancelled, ${formatCount(j.skipped)} skipped (not counted)` },
    { label: 'Failed', field: 'failed', value: cell(j.failed, formatCount(j.failed), j.failed > 0 ? 'bad' : 'good', p ? deltaCount(j.failed, p.failed, false) : null), note: `${formatCount(j.timed_out)} timed out, ${formatCount(j.dead_lettered)} dead-lettered` },
    { label: 'Latency p50', field: 'latency_ms.p50', value: cell(j.latency_ms.p50, formatDuration(j.latency_ms.p50), '', p ? deltaRelative(j.latency_ms.p50, p.latency_ms.p50, false) : null), note: 'half the runs took longer' },
    { label: 'Latency p95', field: 'latency_ms.p95', value: cell(j.latency_ms.p95, formatDuration(j.latency_ms.p95), '', p ? deltaRelative(j.latency_ms.p95, p.latency_ms.p95, false) : null), note: '1 run in 20 took longer' },
    { label: 'Latency p99', field: 'latency_ms.p99', value: cell(j.latency_ms.p99, formatDuration(j.latency_ms.p99), '', p ? deltaRelative(j.latency_ms.p99, p.latency_ms.p99, false) : null), note: '1 run in 100 took longer' },
    { label: 'Retries per run', field: 'retries_per_run', value: cell(j.retries_per_run, formatNumber(j.retries_per_run, 2), j.retries_per_run > 0 ? 'warn' : '', p ? deltaRelative(j.retries_per_run, p.retries_per_run, false) : null), note: 'attempts − 1, averaged' },
    { label: 'Dead-letter rate', field: 'dlq_rate', value: cell(j.dlq_rate, formatPercent(j.dlq_rate), j.dead_lettered > 0 ? 'bad' : '', p ? deltaRate(j.dlq_rate, p.dlq_rate, false) : null), note: `${formatCount(j.dead_lettered)} ${j.dead_lettered === 1 ? 'run' : 'runs'} dead-lettered` },
    { label: 'Queue delay p95', field: 'queue_delay_ms.p95', value: cell(j.queue_delay_ms.p95, formatDuration(j.queue_delay_ms.p95), '', p ? deltaRelative(j.queue_delay_ms.p95, p.queue_delay_ms.p95, false) : null), note: `p50 ${formatDuration(j.queue_delay_ms.p50)}, queued to first start` },
    { label: 'Queued now', field: 'queue_depth.now', value: cell(j.queue_depth.now, formatCount(j.queue_depth.now), j.queue_depth.now > 0 ? 'warn' : ''), note: `at most ${formatCount(j.queue_depth.max)} waiting at once` },
    { label: 'Cost per run', field: 'cost_per_run', value: cell(j.cost_per_run, formatCost(j.cost_per_run), '', p ? deltaRelative(j.cost_per_run, p.cost_per_run, false) : null), note: `total ${formatCost(j.cost_total)}` },
    { label: 'CPU per run', field: 'cpu_seconds_per_run', value: cell(j.cpu_seconds_per_run, j.cpu_seconds_per_run === null ? NONE : `${formatNumber(j.cpu_seconds_per_run, 2)} s`), note: 'user + system CPU seconds' },
    { label: 'Peak memory p95', field: 'max_rss_bytes_p95', value: cell(j.max_rss_bytes_p95, formatBytes(j.max_rss_bytes_p95)), note: 'peak resident set size' },
  ];

  const slos = (d.slos ?? []).filter((s) => selects(s.input.jobs, j.job));
  const charts: { title: string; svg: string; note: string }[] = [];
  if (detail) {
    const half = detail.bucketMillis / 2;
    const rate = detail.series.map((pt) => ({ x: pt.bucketStartMillis + half, y: pt.runs > 0 ? pt.succeeded / pt.runs : null }));
    const rules: ChartRule[] = slos
      .filter((s) => s.input.criterion?.kind === 'success')
      .map((s) => ({ value: s.input.objective, label: `SLO ${formatObjective(s.input.objective)} (${s.input.name})`, tone: 'warn' as const }));
    const pctY = (v: number): string => `${trimNumber(v * 100)}%`;
    charts.push({
      title: `Success rate per ${formatWindow(detail.bucketMillis)}`,
      svg: timeChart({
        id: ids.next(),
        title: `Success rate of ${j.job} per ${formatWindow(detail.bucketMillis)}`,
        desc: describeSeries('Success rate', rate, (v) => formatPercent(v, 1), fmtX),
        fromMillis: d.window.fromMillis,
        toMillis: d.window.toMillis,
        series: [{ label: 'Success rate', points: rate, tone: 1 }],
        yLabel: 'Success rate (%)',
        formatY: pctY,
        yMax: 1,
        rules,
        gapMillis: detail.bucketMillis * 1.5,
      }),
      note: 'Succeeded runs ÷ counted runs that ended in each bucket. Gaps are buckets without runs.',
    });
    const lat = (['latencyP50Millis', 'latencyP95Millis', 'latencyP99Millis'] as const).map((k, i) => ({
      label: ['p50', 'p95', 'p99'][i] as string,
      points: detail.series.map((pt) => ({ x: pt.bucketStartMillis + half, y: pt[k] })),
      tone: (i + 1) as 1 | 2 | 3,
    }));
    const maxLat = Math.max(0, ...detail.series.map((pt) => pt.latencyP99Millis ?? 0));
    const ax = durationAxis(maxLat);
    charts.push({
      title: `Latency per ${formatWindow(detail.bucketMillis)}`,
      svg: timeChart({
        id: ids.next(),
        title: `Run latency of ${j.job} per ${formatWindow(detail.bucketMillis)}: p50, p95, p99`,
        desc: lat.map((s) => describeSeries(s.label, s.points, formatDuration, fmtX)).join(' '),
        fromMillis: d.window.fromMillis,
        toMillis: d.window.toMillis,
        series: lat,
        yLabel: `Run latency (${ax.unit})`,
        formatY: (v) => trimNumber(v / ax.div),
        yMin: 0,
        gapMillis: detail.bucketMillis * 1.5,
      }),
      note: 'First attempt start to final attempt end, per bucket.',
    });
    const h = detail.histogram;
    // Bins are round edges about eleven to a decade: geometric, so fast and slow runs both show.
    const histogramNote =
      (h.unreadAtMostMillis !== null
        ? `Shows the slowest ${formatCount(h.sampledRuns)} of ${formatCount(h.totalRuns)} runs; the other ${formatCount(h.totalRuns - h.sampledRuns)} each took at most ${formatDuration(h.unreadAtMostMillis)}.`
        : `All ${formatCount(h.sampledRuns)} counted runs.`) + ' Bins widen geometrically (log scale), so fast and slow runs both show.';
    charts.push({
      title: 'Latency distribution',
      svg: histogramChart({
        id: ids.next(),
        title: `Run latency histogram of ${j.job}`,
        desc: `${histogramNote} ${h.bins.filter((b) => b.count > 0).map((b) => `${formatDuration(b.fromMillis)} to ${formatDuration(b.toMillis)}: ${b.count}`).join('; ')}.`,
        bins: h.bins.map((b) => ({ from: b.fromMillis, to: b.toMillis, count: b.count })),
        formatX: formatDurationTick,
        xLabel: 'Run latency (log-spaced bins)',
        yLabel: 'Runs',
      }),
      note: histogramNote,
    });
    const attempts = Object.entries(detail.attempts)
      .map(([k, v]) => [Number(k), v] as const)
      .sort((a, b) => a[0] - b[0]);
    const attemptBars: BarItem[] = attempts.map(([k, v]) => ({ label: k === 1 ? '1 attempt (no retry)' : `${k} attempts (${k - 1} ${k === 2 ? 'retry' : 'retries'})`, value: v, tone: k === 1 ? 'good' : 'warn' }));
    charts.push({
      title: 'Retries',
      svg: barListChart({
        id: ids.next(),
        title: `Attempts per run of ${j.job}`,
        desc: attemptBars.map((b) => `${b.label}: ${b.value} runs`).join('; ') || 'No runs.',
        bars: attemptBars,
        formatValue: (v) => `${formatCount(v)} runs`,
        valueLabel: 'Runs',
      }),
      note: `${formatNumber(j.retries_per_run, 2)} retries per run on average${h.unreadAtMostMillis !== null ? ' (bars count the runs read for the histogram)' : ''}.`,
    });
  }
  const modes = Object.entries(j.failure_modes).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const modeBars: BarItem[] = modes.slice(0, 12).map(([m, n]) => ({ label: failureModeLabel(m), value: n, tone: 'bad' }));
  if (modes.length > 12) modeBars.push({ label: `${modes.length - 12} other modes`, value: modes.slice(12).reduce((s, [, n]) => s + n, 0), tone: 'muted' });
  const failureModes = {
    svg: barListChart({
      id: ids.next(),
      title: `Failure modes of ${j.job}`,
      desc: modeBars.length === 0 ? 'No failed runs in this window.' : modeBars.map((b) => `${b.label}: ${b.value}`).join('; '),
      bars: modeBars,
      formatValue: (v) => `${formatCount(v)} (${formatPercent(j.failed > 0 ? v / j.failed : null, 0)})`,
      valueLabel: 'Failed runs',
    }),
    rows: modes.map(([m, n]) => ({ mode: failureModeLabel(m), key: m, count: cell(n, formatCount(n)), share: formatPercent(j.failed > 0 ? n / j.failed : null, 1) })),
  };

  const sloViews = slos.map((s) => ({ ...sloSummary(s, d, paths, '../'), ...sloCharts(s, d, ids) }));
  return {
    job: j.job,
    tiles,
    charts,
    hasDetail: detail !== undefined,
    failureModes,
    hasFailures: modes.length > 0,
    slos: d.slos === null ? null : sloViews,
    failures: detail ? runRows(detail.failures, paths, '../', d.traceUrlTemplate) : [],
    failureGroups: detail ? failureGroups(detail.failures, d.traceUrlTemplate) : [],
    slowest: detail ? runRows(detail.slowest, paths, '../', d.traceUrlTemplate) : [],
  };
}

// ---------------------------------------------------------------- SLO page

function sloSummary(s: ReportSloData, d: ReportData, paths: SitePaths, root: string): Record<string, unknown> {
  const i = s.input;
  const status = sloStatus(s);
  const now = i.evaluatedAtMillis ?? d.window.toMillis;
  return {
    name: i.name,
    href: root + paths.slo(i.name),
    status,
    objective: formatObjective(i.objective),
    window: formatWindow(i.windowMillis),
    criterion: criterionText(s),
    sli: cell(i.sliValue, formatPercent(i.sliValue, 3), status.tone),
    budget: cell(i.errorBudgetRemaining, formatPercent(i.errorBudgetRemaining, 1), status.tone),
    counts: i.good !== undefined && i.total !== undefined ? `${formatCount(i.good)} good of ${formatCount(i.total)} ${i.unit ?? 'runs'}` : '',
    unit: i.unit === 'ticks' ? 'scheduled ticks' : 'runs',
    warning: i.warning === undefined ? '' : excerpt(i.warning, MESSAGE_CHARS * 2),
    burn: burnText(i.burnRates),
    exhausts: exhaustText(s, now),
    evaluated: formatTime(now),
  };
}

export function sloView(s: ReportSloData, d: ReportData, paths: SitePaths): Record<string, unknown> {
  const ids = new Ids();
  const i = s.input;
  const now = i.evaluatedAtMillis ?? d.window.toMillis;
  const current = new Map(i.burnRates.map((b) => [b.windowMillis, b.rate]));
  const tiers = [...i.alertTiers]
    .sort((a, b) => b.burnRateThreshold - a.burnRateThreshold)
    .map((t) => {
      const long = current.get(t.longWindowMillis);
      const shortRate = t.shortWindowMillis === undefined ? undefined : current.get(t.shortWindowMillis);
      const firing = i.alerts.some((a) => a.state === 'firing' && tierOf(i, a) === t);
      return {
        name: t.name,
        threshold: formatRate(t.burnRateThreshold),
        windows: `${formatWindow(t.longWindowMillis)}${t.shortWindowMillis === undefined ? '' : ` and ${formatWindow(t.shortWindowMillis)}`}`,
        now: `${formatRate(long ?? null)}${t.shortWindowMillis === undefined ? '' : ` / ${formatRate(shortRate ?? null)}`}`,
        state: firing ? 'firing' : 'ok',
        tone: firing ? 'bad' : 'good',
        budgetAtFire: `${formatPercent((t.burnRateThreshold * t.longWindowMillis) / i.windowMillis, 1)} of the budget`,
      };
    });
  const jobs = d.analysis.jobs.filter((j) => selects(i.jobs, j.job)).map((j) => ({ job: j.job, href: `../${paths.job(j.job)}`, successRate: cell(j.success_rate, formatPercent(j.success_rate), health(j.success_rate)), runs: formatCount(j.runs), failed: formatCount(j.failed) }));
  const alerts = [...i.alerts]
    .sort((a, b) => (a.state === b.state ? (b.firedAtMillis ?? 0) - (a.firedAtMillis ?? 0) : a.state === 'firing' ? -1 : 1))
    .map((a) => ({
      tier: a.tier,
      state: a.state,
      tone: a.state === 'firing' ? 'bad' : 'muted',
      fired: firedText(a, now),
      resolved: a.resolvedAtMillis === null ? NONE : `${formatTime(a.resolvedAtMillis)} (${formatAgo(a.resolvedAtMillis, now)})`,
      burn: burnText(a.burnRates),
      summary: a.summary === undefined ? '' : excerpt(a.summary, MESSAGE_CHARS),
    }));
  const checked = d.checks?.find((c) => c.name === i.name) ?? d.checks?.find((c) => c.job === i.jobs);
  const check = checked === undefined ? null : (checkRows({ ...d, checks: [checked] }, { job: (n) => `../${paths.job(n)}`, slo: paths.slo }, () => true)[0] ?? null);
  return {
    check,
    slo: { ...sloSummary(s, d, paths, '../'), jobs: i.jobs, description: i.description === undefined ? '' : excerpt(i.description, 500) },
    ...sloCharts(s, d, ids),
    tiers,
    alerts,
    jobs,
  };
}

// ---------------------------------------------------------------- checks (job monitors)

const CHECK_STATUS: Record<ReportCheckStatus, { text: string; tone: string; rank: number }> = {
  down: { text: 'Down', tone: 'bad', rank: 0 },
  running_too_long: { text: 'Running too long', tone: 'bad', rank: 1 },
  late: { text: 'Late', tone: 'warn', rank: 2 },
  up: { text: 'Up', tone: 'good', rank: 3 },
  new: { text: 'New', tone: 'muted', rank: 4 },
  paused: { text: 'Paused', tone: 'muted', rank: 5 },
};

/** Down, running too long and late checks: what the on-call page leads with. */
const needsAttention = (c: ReportCheckInput): boolean => c.status === 'down' || c.status === 'running_too_long' || c.status === 'late';

function checkDetail(c: ReportCheckInput, now: number): string {
  switch (c.status) {
    case 'down':
      return c.missedInARow > 0 ? `${formatCount(c.missedInARow)} scheduled ${c.missedInARow === 1 ? 'tick' : 'ticks'} missed since the last success; down until a run succeeds` : 'the last run failed; down until a run succeeds';
    case 'running_too_long': {
      const oldest = c.overdueStartsMillis && c.overdueStartsMillis.length > 0 ? Math.min(...c.overdueStartsMillis) : null;
      return `a run started ${formatTime(oldest)} is still going after ${formatDuration(oldest === null ? null : now - oldest)} (max ${formatDuration(c.maxRuntimeMillis ?? null)})`;
    }
    case 'late':
      return `no run since the tick; late until ${formatTime(c.lateDeadlineMillis ?? null)}, down after that`;
    case 'new':
      return 'no run seen yet: it never pages until the first one';
    case 'paused':
      return 'paused: never pages';
    default:
      return '';
  }
}

function checkRows(d: ReportData, paths: SitePaths, filter: (c: ReportCheckInput) => boolean): Record<string, unknown>[] {
  const now = d.generatedAtMillis;
  const jobs = new Set(d.analysis.jobs.map((j) => j.job));
  return (d.checks ?? [])
    .filter(filter)
    .sort((a, b) => CHECK_STATUS[a.status].rank - CHECK_STATUS[b.status].rank || a.sinceMillis - b.sinceMillis || (a.name < b.name ? -1 : 1))
    .map((c) => ({
      name: c.name,
      job: c.job,
      href: jobs.has(c.job) ? paths.job(c.job) : null,
      status: c.status,
      state: CHECK_STATUS[c.status].text,
      tone: CHECK_STATUS[c.status].tone,
      since: `${formatTime(c.sinceMillis)} (${formatAgo(c.sinceMillis, now)})`,
      lastRun: c.lastRun === null ? 'never seen' : `${c.lastRun.outcome} ${formatTime(c.lastRun.endMillis)} (${formatAgo(c.lastRun.endMillis, now)})`,
      lastSuccess: c.lastSuccessMillis === null ? 'never seen' : `${formatTime(c.lastSuccessMillis)} (${formatAgo(c.lastSuccessMillis, now)})`,
      next: c.nextExpectedMillis === null ? NONE : `${formatTime(c.nextExpectedMillis)} (${formatAgo(c.nextExpectedMillis, now)})`,
      schedule: excerpt(c.schedule, MESSAGE_CHARS),
      grace: formatDuration(c.graceMillis),
      missed: formatCount(c.missedInARow),
      detail: checkDetail(c, now),
      warning: c.warning === undefined ? '' : excerpt(c.warning, MESSAGE_CHARS * 2),
    }));
}

/** The check list page: every job check, down first, like a dead-man-switch dashboard. */
export function checksView(d: ReportData, paths: SitePaths): Record<string, unknown> {
  const checks = d.checks ?? [];
  const count = (s: ReportCheckStatus): number => checks.filter((c) => c.status === s).length;
  const tiles = (['down', 'running_too_long', 'late', 'up', 'new', 'paused'] as const).map((s) => ({ label: CHECK_STATUS[s].text, value: formatCount(count(s)), tone: count(s) > 0 ? CHECK_STATUS[s].tone : 'muted', status: s }));
  return { rows: checkRows(d, paths, () => true), tiles, total: checks.length };
}

/** The on-call page's check section: down, running too long and late first; how many are fine. */
function oncallChecks(d: ReportData, paths: SitePaths): Record<string, unknown> | null {
  if (d.checks === null) return null;
  const rows = checkRows(d, paths, needsAttention);
  const ok = d.checks.filter((c) => !needsAttention(c)).length;
  return { rows, ok: formatCount(ok), total: formatCount(d.checks.length), warnings: d.checks.filter((c) => c.warning !== undefined).map((c) => ({ name: c.name, warning: excerpt(c.warning ?? '', MESSAGE_CHARS * 2) })) };
}
