/**
 * One monitor cycle: read each monitor's run facts, step its state machine,
 * turn transitions into notifications, commit them with the next state
 * (compare-and-swap on the monitor state's version in the alert backend,
 * notifications durable before the state), then drain the outbox through the
 * configured webhooks, exactly as SLO alerts are delivered. When another
 * replica committed first, the cycle evaluates again from the state it wrote,
 * so a transition is notified once however many replicas evaluate it.
 */
import { noopLogger } from '../../contracts/index.js';
import type { RunReader } from '../../store/index.js';
import { drainOutbox, pushAlerts, systemAlertClock, toOutboxEntries } from '../alerts/index.js';
import type { AlertCycleOptions, AlertNotification, AlertmanagerPushResult, DrainResult } from '../alerts/index.js';
import { readMonitorFacts } from './facts.js';
import { stepMonitor } from './machine.js';
import { emptyMonitorState, loadMonitorStateFrom, monitorAlertmanagerAlerts, planMonitorNotifications, sameMonitorState } from './state.js';
import type { MonitorState } from './state.js';
import type { MonitorDefinition, MonitorEvaluation } from './types.js';

/** Options of {@link evaluateMonitors}. */
export interface EvaluateMonitorsOptions {
  /** Records of the previous evaluation (`loadMonitorStateFrom`); without them every monitor starts afresh. */
  state?: MonitorState;
  /** Queries run at once. @default 4 */
  concurrency?: number;
  /** How far back a monitor without a record reads. @default 35 days */
  lookbackMillis?: number;
}

/**
 * Evaluates every monitor at `atMillis` from the store and the previous
 * records (which it does not change). Results in config order.
 */
export async function evaluateMonitors(store: RunReader, monitors: readonly MonitorDefinition[], atMillis: number, options: EvaluateMonitorsOptions = {}): Promise<MonitorEvaluation[]> {
  const state = options.state ?? emptyMonitorState();
  const out = new Array<MonitorEvaluation>(monitors.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < monitors.length) {
      const i = next++;
      const m = monitors[i] as MonitorDefinition;
      const prev = state.monitors[m.name];
      const facts = await readMonitorFacts(store, m, prev, atMillis, options.lookbackMillis);
      out[i] = stepMonitor(m, prev, facts, atMillis, options.lookbackMillis === undefined ? {} : { lookbackMillis: options.lookbackMillis });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, monitors.length)) }, worker));
  return out;
}

/** Options of {@link runMonitorCycle}: those of an alert cycle (its `config`'s `monitors` are evaluated, its webhooks and Alertmanagers get the notifications; the backend holds the monitor state and the outbox). */
export interface MonitorCycleOptions extends AlertCycleOptions {
  /** How far back a monitor without a record reads. @default 35 days */
  lookbackMillis?: number;
  /** Notification ids. @default monitorNotificationId of the transition */
  newId?: () => string;
}

/** What one monitor cycle did. */
export interface MonitorCycleResult {
  evaluations: MonitorEvaluation[];
  notifications: AlertNotification[];
  /** Outbox entries written (notifications × webhooks); none when another replica had already committed them. */
  queued: number;
  /** Dropped because the outbox was full. */
  dropped: number;
  drain: DrainResult;
  /** The push of the monitors' alerts to `alerts.alertmanagers`. */
  alertmanager: AlertmanagerPushResult;
}

/** Compare-and-swap attempts per cycle before giving the turn to the next cycle. */
const MAX_COMMIT_ATTEMPTS = 5;

/** Runs one evaluate → notify → deliver cycle of the monitors. */
export async function runMonitorCycle(options: MonitorCycleOptions): Promise<MonitorCycleResult> {
  const clock = options.clock ?? systemAlertClock;
  const logger = options.logger ?? noopLogger;
  const at = options.atMillis ?? clock.now();
  const backend = options.backend;
  let evaluations: MonitorEvaluation[] = [];
  let notifications: AlertNotification[] = [];
  let queued = 0;
  let dropped = 0;
  let committed = false;
  let state: MonitorState | undefined;
  for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS && !committed; attempt++) {
    const prev = await loadMonitorStateFrom(backend.monitorState);
    // Evaluated from the records this attempt commits on: facts are read from where each record left off.
    evaluations = await evaluateMonitors(options.store, options.config.monitors, at, {
      state: prev.state,
      ...(options.lookbackMillis !== undefined ? { lookbackMillis: options.lookbackMillis } : {}),
    });
    const plan = planMonitorNotifications(evaluations, prev.state, { nowMillis: at, ...(options.newId ? { newId: options.newId } : {}) });
    if (plan.notifications.length === 0 && sameMonitorState(prev.state, plan.state)) {
      committed = true; // nothing to record: no version is written
      state = plan.state;
      break;
    }
    const entries = toOutboxEntries(plan.notifications, options.config);
    const cas = await backend.monitorState.compareAndSwap(prev.version, plan.state, entries);
    if (cas.ok) {
      committed = true;
      state = plan.state;
      notifications = plan.notifications;
      dropped = cas.dropped;
      queued = entries.length - cas.dropped;
    } else {
      logger.debug('monitor state moved by another replica; evaluating again', { attempt });
    }
  }
  if (!committed) logger.warn('monitor state kept changing under this replica; its monitor notifications are left to the others this cycle', { attempts: MAX_COMMIT_ATTEMPTS });
  for (const n of notifications) logger.info(`monitor ${n.status}`, { alertname: n.labels['alertname'], monitor: n.labels['monitor'], fingerprint: n.fingerprint });
  const drain = await drainOutbox(backend.outbox, options.config.alerts.webhooks, { ...options.delivery, clock, logger, ...(options.signal ? { signal: options.signal } : {}) });
  // Pushed by every replica, like SLO alerts: Alertmanager deduplicates by labels.
  const pushState = state ?? (await loadMonitorStateFrom(backend.monitorState)).state;
  const alerts = monitorAlertmanagerAlerts(evaluations, pushState, notifications, {
    nowMillis: clock.now(),
    firingValidMillis: 4 * Math.max(options.evaluationIntervalMillis ?? 60_000, 60_000),
    externalUrl: options.config.alerts.externalUrl,
  });
  const alertmanager = await pushAlerts(options.config.alerts.alertmanagers ?? [], alerts, { clock, logger, ...(options.signal ? { signal: options.signal } : {}) });
  return { evaluations, notifications, queued, dropped, drain, alertmanager };
}
