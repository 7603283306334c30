/**
 * Per-job Prometheus series for `jobslo serve`'s `/metrics`: last success and
 * last run time (from the store), runs by outcome and a run duration
 * histogram (counted by the serving process from the runs it reads each
 * cycle, so they behave like any instrumented counter: they start at 0 and
 * reset when the process restarts), and each monitor's check state. Every
 * series names its job with the `jobslo_job` label: `job` and `instance` are
 * the labels Prometheus attaches to the scrape target.
 */
import type { RunSummary, RunReader } from '../../store/index.js';
import { MetricsWriter } from '../slo/metrics.js';
import { DEFAULT_LOOKBACK_MILLIS } from './machine.js';
import type { UnmatchedSelector } from './selectors.js';
import { MONITOR_STATUSES } from './types.js';
import type { MonitorEvaluation } from './types.js';

/**
 * Upper bounds (seconds) of `jobslo_job_run_duration_seconds` buckets: 1s to
 * a day, for jobs from seconds-long tasks to nightly batches, plus `+Inf`.
 */
export const RUN_DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400]);

/** Outcomes a run can end with; each is a `jobslo_job_runs_total` series once seen. */
const OUTCOMES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'] as const;

/** Runs read back behind the last read, for spans that arrive late. @default 10 minutes */
export const RUN_SETTLE_MILLIS = 10 * 60_000;

/** Most run ids remembered to count each run once (the runs of the settle window). */
const MAX_REMEMBERED_RUNS = 200_000;

/** Most runs read per cycle; a cycle with more counts the newest and logs the rest as missed. */
const MAX_RUNS_PER_READ = 10_000;

interface JobCounts {
  byOutcome: Map<string, number>;
  /** Cumulative counts per bucket bound, then +Inf. */
  buckets: number[];
  sumSeconds: number;
  count: number;
}

/** The latest runs of one job, from the store. */
interface JobLatest {
  lastRunEndMillis: number;
  lastRunOutcome: string;
  lastSuccessEndMillis: number | null;
}

/** Reads runs from a store every cycle and keeps the per-job counters. One per serving process. */
export class JobRunMetrics {
  private readonly counts = new Map<string, JobCounts>();
  private readonly seen = new Map<string, number>();
  private cursorMillis: number;
  private latest = new Map<string, JobLatest>();
  /** Runs the process could not count because one read returned the maximum (logged by the caller). */
  missedRuns = 0;

  /** @param startMillis runs that ended before this are not counted (the process start) */
  constructor(startMillis: number) {
    this.cursorMillis = startMillis;
  }

  /** Counts one finished run once (by run id). */
  observe(r: Pick<RunSummary, 'job' | 'runId' | 'outcome' | 'latencyMillis' | 'endMillis'>): void {
    const key = `${r.job}\0${r.runId}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, r.endMillis);
    if (this.seen.size > MAX_REMEMBERED_RUNS) {
      for (const k of this.seen.keys()) {
        this.seen.delete(k);
        if (this.seen.size <= MAX_REMEMBERED_RUNS * 0.9) break;
      }
    }
    let c = this.counts.get(r.job);
    if (!c) this.counts.set(r.job, (c = { byOutcome: new Map(), buckets: new Array<number>(RUN_DURATION_BUCKETS_SECONDS.length + 1).fill(0), sumSeconds: 0, count: 0 }));
    c.byOutcome.set(r.outcome, (c.byOutcome.get(r.outcome) ?? 0) + 1);
    if (r.outcome === 'skipped') return;
    const seconds = Math.max(0, r.latencyMillis) / 1000;
    RUN_DURATION_BUCKETS_SECONDS.forEach((le, i) => {
      if (seconds <= le) c.buckets[i] = (c.buckets[i] ?? 0) + 1;
    });
    c.buckets[RUN_DURATION_BUCKETS_SECONDS.length] = (c.buckets[RUN_DURATION_BUCKETS_SECONDS.length] ?? 0) + 1;
    c.sumSeconds += seconds;
    c.count++;
  }

  /**
   * One cycle's reads: the runs that ended since the last read (and the
   * settle time before it), and each job's latest runs for the last-run and
   * last-success times.
   */
  async refresh(store: RunReader, atMillis: number, lookbackMillis = DEFAULT_LOOKBACK_MILLIS): Promise<void> {
    const from = this.cursorMillis - RUN_SETTLE_MILLIS;
    const runs = await store.listRuns({ jobs: '*', fromMillis: from, toMillis: atMillis + 1, order: 'latest', limit: MAX_RUNS_PER_READ });
    if (runs.length === MAX_RUNS_PER_READ) this.missedRuns++;
    for (const r of [...runs].reverse()) this.observe(r);
    this.cursorMillis = Math.max(this.cursorMillis, atMillis);
    for (const [k, end] of this.seen) if (end < from - RUN_SETTLE_MILLIS) this.seen.delete(k);
    const range = { jobs: '*', fromMillis: atMillis - lookbackMillis, toMillis: atMillis + 1, order: 'latest' as const };
    const recent = await store.listRunsByJob({ ...range, limitPerJob: 200 });
    const latest = new Map<string, JobLatest>();
    for (const r of recent) {
      if (r.outcome === 'skipped') continue;
      let l = latest.get(r.job);
      if (!l) latest.set(r.job, (l = { lastRunEndMillis: r.endMillis, lastRunOutcome: r.outcome, lastSuccessEndMillis: null }));
      if (r.endMillis > l.lastRunEndMillis) Object.assign(l, { lastRunEndMillis: r.endMillis, lastRunOutcome: r.outcome });
      if (r.outcome === 'succeeded' && (l.lastSuccessEndMillis === null || r.endMillis > l.lastSuccessEndMillis)) l.lastSuccessEndMillis = r.endMillis;
    }
    // A success older than the runs read is still known from the previous cycle.
    for (const [job, l] of latest) {
      const before = this.latest.get(job)?.lastSuccessEndMillis ?? null;
      if (l.lastSuccessEndMillis === null && before !== null) l.lastSuccessEndMillis = before;
    }
    this.latest = latest;
  }

  /**
   * Writes the per-job series, the monitors' check states and the
   * misconfigured selectors.
   */
  write(w: MetricsWriter, monitors: readonly MonitorEvaluation[] = [], unmatched: readonly UnmatchedSelector[] = []): void {
    const jobs = [...new Set([...this.latest.keys(), ...this.counts.keys()])].sort();
    for (const job of jobs) {
      const l = this.latest.get(job);
      const labels = { jobslo_job: job };
      if (l?.lastSuccessEndMillis != null) {
        w.add('jobslo_job_last_success_timestamp_seconds', 'gauge', 'End of the latest succeeded run of the job (Unix seconds).', labels, l.lastSuccessEndMillis / 1000);
      }
      if (l) w.add('jobslo_job_last_run_timestamp_seconds', 'gauge', 'End of the latest finished run of the job, any outcome (Unix seconds).', labels, l.lastRunEndMillis / 1000);
    }
    for (const job of jobs) {
      const c = this.counts.get(job);
      for (const outcome of OUTCOMES) {
        w.add('jobslo_job_runs_total', 'counter', 'Runs of the job that finished since this process started, by outcome.', { jobslo_job: job, outcome }, c?.byOutcome.get(outcome) ?? 0);
      }
    }
    for (const job of jobs) {
      const c = this.counts.get(job);
      const help = 'Run duration (first attempt start to final attempt end) of the runs counted in jobslo_job_runs_total, skipped runs excepted.';
      RUN_DURATION_BUCKETS_SECONDS.forEach((le, i) => {
        w.add('jobslo_job_run_duration_seconds', 'histogram', help, { jobslo_job: job, le: String(le) }, c?.buckets[i] ?? 0, '_bucket');
      });
      w.add('jobslo_job_run_duration_seconds', 'histogram', help, { jobslo_job: job, le: '+Inf' }, c?.count ?? 0, '_bucket');
      w.add('jobslo_job_run_duration_seconds', 'histogram', help, { jobslo_job: job }, c?.sumSeconds ?? 0, '_sum');
      w.add('jobslo_job_run_duration_seconds', 'histogram', help, { jobslo_job: job }, c?.count ?? 0, '_count');
    }
    writeMonitorMetrics(w, monitors, unmatched);
  }
}

/** Check state and misconfiguration series (also without per-job counters). */
export function writeMonitorMetrics(w: MetricsWriter, monitors: readonly MonitorEvaluation[], unmatched: readonly UnmatchedSelector[]): void {
  for (const e of monitors) {
    for (const status of MONITOR_STATUSES) {
      w.add('jobslo_monitor_status', 'gauge', 'Check state of a job monitor: 1 for its current status, 0 for the others.', { monitor: e.monitor.name, jobslo_job: e.monitor.job, status }, e.status === status ? 1 : 0);
    }
  }
  for (const e of monitors) {
    w.add('jobslo_monitor_missed_in_a_row', 'gauge', 'Scheduled ticks missed since the last succeeded run.', { monitor: e.monitor.name, jobslo_job: e.monitor.job }, e.missedInARow);
  }
  for (const e of monitors) {
    if (e.nextExpectedMillis !== null) {
      w.add('jobslo_monitor_next_expected_timestamp_seconds', 'gauge', 'When the next run of the monitored job is expected (Unix seconds).', { monitor: e.monitor.name, jobslo_job: e.monitor.job }, e.nextExpectedMillis / 1000);
    }
  }
  w.add('jobslo_config_unmatched_selectors', 'gauge', 'SLOs and monitors whose job selector matches no job that ran in their window (a typo or a renamed job), or whose where: matches no run of it.', {}, unmatched.length);
  for (const u of unmatched) {
    w.add('jobslo_config_selector_unmatched', 'gauge', '1 for each SLO or monitor whose job selector matches no job that ran in its window, or whose where: matches no run of it.', { kind: u.kind, name: u.name, jobslo_job: u.job }, 1);
  }
}
