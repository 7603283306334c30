/**
 * Job monitors (check states): the definitions `jobslo.yaml` declares and the
 * facts and states the monitor state machine works on. No imports: the config
 * loader and the state machine both use these types.
 */

/** State of one monitor. */
export type MonitorStatus = 'new' | 'up' | 'late' | 'down' | 'running_too_long' | 'paused';

/** Every status, in the order the on-call views list them (worst first). */
export const MONITOR_STATUSES: readonly MonitorStatus[] = ['down', 'running_too_long', 'late', 'up', 'new', 'paused'];

/** When runs are expected. */
export type MonitorSchedule =
  /** At every tick of a cron expression (5 fields, or 6 with seconds), read in `timezone`. */
  | { kind: 'cron'; cron: string; timezone: string }
  /** At most `periodMillis` after the previous run started. */
  | { kind: 'period'; periodMillis: number };

/** Where a monitor came from. */
export type MonitorSource = 'monitor' | 'freshness_slo' | 'schedule';

/** One validated monitor. */
export interface MonitorDefinition {
  /** Unique among monitors; names notifications, metrics and the check list row. */
  name: string;
  /** Exact job name or glob (`etl-*`); the runs of every matching job count. */
  job: string;
  /**
   * Only runs with these dimension values count (resource or span attributes
   * such as `deployment.environment.name`). Such a monitor sees a run once
   * its spans arrive: runs still going (live lifecycle events carry no
   * dimensions) are not seen, so it has no `maxRuntimeMillis`.
   * @default every run of the job
   */
  where?: Record<string, string>;
  schedule: MonitorSchedule;
  /** How long after a tick a run may start and still be on time. @default 1_800_000 (30m) */
  graceMillis: number;
  /** A run still going after this long is running too long. @default none */
  maxRuntimeMillis?: number;
  /**
   * Monitoring starts here, Unix ms, even before any run is seen. Without it,
   * monitoring starts at the first run seen (the monitor is `new` until then).
   */
  startMillis?: number;
  /** A paused monitor has state `paused` and never notifies. @default false */
  paused: boolean;
  source: MonitorSource;
}

/** A finished run, as the store reports it. */
export interface FinishedRunFact {
  runId: string;
  /** First attempt start, Unix ms. */
  startMillis: number;
  /** Final attempt end, Unix ms. */
  endMillis: number;
  /** `succeeded`, `failed`, `timed_out`, `cancelled`, `skipped`. */
  outcome: string;
}

/** A run that started (live `job.started` event) and has not finished. */
export interface OpenRunFact {
  runId: string;
  startMillis: number;
}

/** What the store knows about a monitor's jobs, read for one evaluation. */
export interface MonitorFacts {
  /** The facts cover runs that ended at or after this time (and every open run). */
  fromMillis: number;
  /** Runs that ended in `[fromMillis, now]`. */
  finished: readonly FinishedRunFact[];
  /** Runs started and not finished at evaluation time. */
  open: readonly OpenRunFact[];
}

/** Persisted memory of one monitor between evaluations. */
export interface MonitorRecord {
  status: MonitorStatus;
  /** When the monitor entered `status`, Unix ms. */
  sinceMillis: number;
  /** Start of the first run seen, Unix ms. */
  firstSeenMillis: number | null;
  /** Latest run start seen (finished or open). */
  lastStartMillis: number | null;
  /** Latest finished run. */
  lastRun: { startMillis: number; endMillis: number; outcome: string } | null;
  /** End of the latest succeeded run. */
  lastSuccessEndMillis: number | null;
  /** Latest bad event: a missed tick's deadline (tick + grace) or a failed run's end. */
  lastBadMillis: number | null;
  /** First bad event after the last success: when the monitor went down. */
  downSinceMillis: number | null;
  /** Ticks missed since the last succeeded run. */
  missedInARow: number;
  /** Ticks whose deadline is at or before this were judged. */
  judgedThroughMillis: number | null;
  /** Notifications currently "firing" for this monitor, by kind, with when they started. */
  firing: Partial<Record<MonitorAlertKind, number>>;
  evaluatedAtMillis: number;
}

/** What a monitor notifies about. */
export type MonitorAlertKind = 'down' | 'running_too_long';

/** One monitor at one instant. */
export interface MonitorEvaluation {
  monitor: MonitorDefinition;
  atMillis: number;
  status: MonitorStatus;
  /** When the monitor entered `status`. */
  sinceMillis: number;
  lastRun: MonitorRecord['lastRun'];
  lastSuccessEndMillis: number | null;
  /** Next tick at or after `atMillis` (cron), or last start + period; null when unknown. */
  nextExpectedMillis: number | null;
  /** For `late`: when the current tick's grace ends. */
  lateDeadlineMillis: number | null;
  /** For `down`: first bad event after the last success. */
  downSinceMillis: number | null;
  missedInARow: number;
  /** Runs going longer than the maximum runtime: their start times. */
  overdueStartsMillis: number[];
  /** The state to persist. */
  record: MonitorRecord;
}
