/**
 * Monitor state between evaluations (kept by the alert backend beside the
 * alert state: `monitor-state.json` in its folder, or a table in a ClickHouse
 * store) and the notifications its transitions make: a monitor going down, a
 * run going past its maximum runtime, and their recoveries. Sent once per
 * transition, never repeated.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobsloError, errorMessage, formatDurationMillis } from '../../contracts/index.js';
import { postableAlert } from '../alerts/index.js';
import type { AlertNotification, DocumentStateStore, PostableAlert } from '../alerts/index.js';
import type { MonitorAlertKind, MonitorDefinition, MonitorEvaluation, MonitorRecord } from './types.js';

/** `alertname` of a monitor that is down. */
export const MONITOR_DOWN_ALERT = 'JobsloJobDown';
/** `alertname` of a run past the monitor's maximum runtime. */
export const MONITOR_RUNTIME_ALERT = 'JobsloJobRunningTooLong';

/** The state file. */
export interface MonitorState {
  version: 1;
  /** Records by monitor name. */
  monitors: Record<string, MonitorRecord & { labels?: Record<string, string> }>;
}

/** Where a state folder keeps the monitor state. */
export function monitorStatePath(stateDir: string): string {
  return join(stateDir, 'monitor-state.json');
}

export const emptyMonitorState = (): MonitorState => ({ version: 1, monitors: {} });

/**
 * True when two states record the same for every monitor, apart from when
 * each was last evaluated and how far its ticks were judged: both move with
 * every cycle, and a cycle that changes nothing else need not be written
 * (the next one judges the same ticks again from the same facts). This keeps
 * a shared state store from growing by a version per cycle.
 */
export function sameMonitorState(a: MonitorState, b: MonitorState): boolean {
  const key = (s: MonitorState): string =>
    JSON.stringify(
      Object.keys(s.monitors)
        .sort()
        .map((name) => {
          const { evaluatedAtMillis: _at, judgedThroughMillis: _judged, ...rest } = s.monitors[name] as MonitorRecord & { labels?: Record<string, string> };
          return [name, rest];
        }),
    );
  return key(a) === key(b);
}

/** Checks what a state store holds; `undefined` (nothing written yet) is the empty state. */
function toMonitorState(v: unknown): MonitorState {
  if (v === undefined) return emptyMonitorState();
  const s = v as Partial<MonitorState>;
  if (s.version !== 1 || typeof s.monitors !== 'object' || s.monitors === null) throw new Error('not a version 1 monitor state');
  return { version: 1, monitors: s.monitors };
}

/**
 * Reads the monitor state of an alert backend and its version (for
 * compare-and-swap); the empty state at version 0 when nothing was written.
 * @throws {JobsloError} `JOBSLO_ERR_CONFIG` when what is stored is not a monitor state
 */
export async function loadMonitorStateFrom(store: DocumentStateStore): Promise<{ version: number; state: MonitorState }> {
  const { version, value } = await store.load();
  try {
    return { version, state: toMonitorState(value) };
  } catch (err) {
    throw new JobsloError('JOBSLO_ERR_CONFIG', `monitor state ${store.location} is damaged (${errorMessage(err)}); move it away to start every monitor afresh`, { cause: err });
  }
}

/**
 * Reads a state file; an empty state when it does not exist.
 * @throws {JobsloError} `JOBSLO_ERR_CONFIG` when it exists but is not a monitor state file
 */
export function loadMonitorState(path: string): MonitorState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyMonitorState();
    throw new JobsloError('JOBSLO_ERR_CONFIG', `cannot read monitor state ${path}`, { cause: err });
  }
  try {
    return toMonitorState(JSON.parse(text));
  } catch (err) {
    throw new JobsloError('JOBSLO_ERR_CONFIG', `monitor state ${path} is damaged (${errorMessage(err)}); move it away to start every monitor afresh`, { cause: err });
  }
}

/** Stable id of a monitor's alert: the first 16 hex digits of sha256(`monitor \0 name \0 kind`). */
export function monitorFingerprint(monitorName: string, kind: MonitorAlertKind): string {
  return createHash('sha256').update(`monitor\0${monitorName}\0${kind}`).digest('hex').slice(0, 16);
}

/**
 * Id (and Idempotency-Key) of a monitor notification, from the monitor, the
 * transition and when its episode started: every replica that plans the same
 * transition gives it the same id, so a receiver can drop a repeat.
 */
export function monitorNotificationId(monitorName: string, kind: MonitorAlertKind, status: 'firing' | 'resolved', startsAtMillis: number): string {
  return `monitor-${createHash('sha256').update(`${monitorName}\0${kind}\0${status}\0${startsAtMillis}`).digest('hex').slice(0, 32)}`;
}

const iso = (ms: number | null): string => (ms === null ? 'never' : new Date(ms).toISOString());

/** How a monitor's schedule reads in messages: `cron "0 2 * * *" Europe/Berlin, grace 30m` (`, where env=prod` with a `where:`). */
export function describeSchedule(m: MonitorDefinition): string {
  const s = m.schedule.kind === 'cron' ? `cron "${m.schedule.cron}" ${m.schedule.timezone}` : `every ${formatDurationMillis(m.schedule.periodMillis)}`;
  const where = Object.entries(m.where ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${s}, grace ${formatDurationMillis(m.graceMillis)}${m.maxRuntimeMillis === undefined ? '' : `, max runtime ${formatDurationMillis(m.maxRuntimeMillis)}`}${where === '' ? '' : `, where ${where}`}`;
}

function describe(e: MonitorEvaluation, kind: MonitorAlertKind): { labels: Record<string, string>; annotations: Record<string, string> } {
  const m = e.monitor;
  const labels = { alertname: kind === 'down' ? MONITOR_DOWN_ALERT : MONITOR_RUNTIME_ALERT, monitor: m.name, job: m.job, severity: 'page' };
  const common = {
    state: e.status,
    schedule: describeSchedule(m),
    last_success: iso(e.lastSuccessEndMillis),
    last_run: e.lastRun === null ? 'never' : `${e.lastRun.outcome} at ${iso(e.lastRun.endMillis)}`,
    next_expected: iso(e.nextExpectedMillis),
    missed_in_a_row: String(e.missedInARow),
  };
  if (kind === 'down') {
    return {
      labels,
      annotations: {
        ...common,
        summary: `Job ${m.job} is down: ${e.missedInARow > 0 ? `${e.missedInARow} scheduled run(s) missed` : 'its last run failed'} (monitor ${m.name})`,
        description: `No successful run of ${m.job} since ${iso(e.lastSuccessEndMillis)}; down since ${iso(e.downSinceMillis)}. Expected: ${describeSchedule(m)}. It stays down until a run succeeds.`,
      },
    };
  }
  const oldest = e.overdueStartsMillis.length === 0 ? null : Math.min(...e.overdueStartsMillis);
  return {
    labels,
    annotations: {
      ...common,
      summary: `Job ${m.job} has a run going for ${oldest === null ? '?' : formatDurationMillis(e.atMillis - oldest)}, past its maximum runtime (monitor ${m.name})`,
      description: `A run of ${m.job} started at ${iso(oldest)} and has not finished; the monitor allows ${m.maxRuntimeMillis === undefined ? 'no maximum' : formatDurationMillis(m.maxRuntimeMillis)}.`,
    },
  };
}

/** Options of {@link planMonitorNotifications}. */
export interface MonitorPlanOptions {
  nowMillis: number;
  /** @default {@link monitorNotificationId} of the transition */
  newId?: () => string;
}

/**
 * Compares evaluations with the previous state: a monitor that went down (or
 * got a run past its maximum runtime) makes one firing notification, and one
 * resolved notification when it recovers (a run succeeded; the long run
 * ended). Paused and new monitors send nothing. A monitor no longer
 * configured resolves what it had firing. Pure (but for `newId`, when given).
 */
export function planMonitorNotifications(evals: readonly MonitorEvaluation[], prev: MonitorState, options: MonitorPlanOptions): { notifications: AlertNotification[]; state: MonitorState } {
  const newId = (name: string, kind: MonitorAlertKind, status: 'firing' | 'resolved', startsAtMillis: number): string =>
    options.newId ? options.newId() : monitorNotificationId(name, kind, status, startsAtMillis);
  const now = options.nowMillis;
  const next: MonitorState = { version: 1, monitors: {} };
  const notifications: AlertNotification[] = [];
  const push = (kind: MonitorAlertKind, status: 'firing' | 'resolved', name: string, text: ReturnType<typeof describe>, startsAtMillis: number): void => {
    notifications.push({
      id: newId(name, kind, status, startsAtMillis),
      fingerprint: monitorFingerprint(name, kind),
      status,
      labels: text.labels,
      annotations: text.annotations,
      startsAtMillis,
      endsAtMillis: status === 'resolved' ? now : null,
      createdAtMillis: now,
    });
  };
  for (const e of evals) {
    const firing = { ...e.record.firing };
    if (e.status !== 'paused' && e.status !== 'new') {
      const wants: Record<MonitorAlertKind, number | null> = {
        down: e.status === 'down' ? (e.downSinceMillis ?? now) : null,
        running_too_long: e.overdueStartsMillis.length > 0 ? Math.min(...e.overdueStartsMillis) + (e.monitor.maxRuntimeMillis ?? 0) : null,
      };
      for (const kind of ['down', 'running_too_long'] as const) {
        const since = firing[kind];
        const want = wants[kind];
        if (want !== null && since === undefined) {
          firing[kind] = want;
          push(kind, 'firing', e.monitor.name, describe(e, kind), want);
        } else if (want === null && since !== undefined) {
          delete firing[kind];
          push(kind, 'resolved', e.monitor.name, describe(e, kind), since);
        }
      }
    }
    next.monitors[e.monitor.name] = { ...e.record, firing, labels: { monitor: e.monitor.name, job: e.monitor.job } };
  }
  for (const [name, rec] of Object.entries(prev.monitors)) {
    if (next.monitors[name] !== undefined) continue;
    for (const kind of ['down', 'running_too_long'] as const) {
      const since = rec.firing[kind];
      if (since === undefined) continue;
      notifications.push({
        id: newId(name, kind, 'resolved', since),
        fingerprint: monitorFingerprint(name, kind),
        status: 'resolved',
        labels: { alertname: kind === 'down' ? MONITOR_DOWN_ALERT : MONITOR_RUNTIME_ALERT, monitor: name, job: rec.labels?.['job'] ?? '', severity: 'page' },
        annotations: { summary: `Monitor ${name} is no longer configured`, description: 'This monitor was removed from the configuration.' },
        startsAtMillis: since,
        endsAtMillis: now,
        createdAtMillis: now,
      });
    }
  }
  return { notifications, state: next };
}

/**
 * What the monitors report to Alertmanager's API v2 after a cycle, the way
 * SLO alerts are pushed: every firing monitor alert with an `endsAt`
 * `firingValidMillis` ahead (so Alertmanager resolves it by itself if jobslo
 * stops), and the alerts this cycle resolved with their real end.
 */
export function monitorAlertmanagerAlerts(
  evals: readonly MonitorEvaluation[],
  state: MonitorState,
  resolvedNow: readonly AlertNotification[],
  o: { nowMillis: number; firingValidMillis: number; externalUrl: string },
): PostableAlert[] {
  const ctx = { receiver: '', externalUrl: o.externalUrl };
  const out: PostableAlert[] = [];
  for (const e of evals) {
    const firing = state.monitors[e.monitor.name]?.firing ?? {};
    for (const kind of ['down', 'running_too_long'] as const) {
      const since = firing[kind];
      if (since !== undefined) out.push(postableAlert({ ...describe(e, kind), startsAtMillis: since }, o.nowMillis + o.firingValidMillis, ctx));
    }
  }
  for (const n of resolvedNow) if (n.status === 'resolved') out.push(postableAlert(n, n.endsAtMillis ?? o.nowMillis, ctx));
  return out;
}
