/**
 * One monitor cycle: read each monitor's run facts, step its state machine,
 * turn transitions into notifications, put them in the alert outbox (durably,
 * before the state is saved), save the state, then drain the outbox through
 * the configured webhooks, exactly as SLO alerts are delivered.
 */
import { noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { Store } from '../../store/index.js';
import { FileOutbox, drainOutbox, statePaths, systemAlertClock, toOutboxEntries } from '../alerts/index.js';
import type { AlertClock, AlertNotification, DeliveryOptions, DrainResult } from '../alerts/index.js';
import type { JobsloConfig } from '../slo/index.js';
import { readMonitorFacts } from './facts.js';
import { stepMonitor } from './machine.js';
import { emptyMonitorState, loadMonitorState, monitorStatePath, planMonitorNotifications, saveMonitorState } from './state.js';
import type { MonitorState } from './state.js';
import type { MonitorDefinition, MonitorEvaluation } from './types.js';

/** Options of {@link evaluateMonitors}. */
export interface EvaluateMonitorsOptions {
  /** Records of the previous evaluation (`loadMonitorState`); without them every monitor starts afresh. */
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
export async function evaluateMonitors(store: Store, monitors: readonly MonitorDefinition[], atMillis: number, options: EvaluateMonitorsOptions = {}): Promise<MonitorEvaluation[]> {
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

/** Options of {@link runMonitorCycle}. */
export interface MonitorCycleOptions {
  store: Store;
  /** Its `monitors` are evaluated; its webhooks get the notifications. */
  config: JobsloConfig;
  /** Holds `monitor-state.json` and the alert `outbox/`. */
  stateDir: string;
  /** Evaluation time. @default clock.now() */
  atMillis?: number;
  clock?: AlertClock;
  logger?: Logger;
  signal?: AbortSignal;
  delivery?: Omit<DeliveryOptions, 'clock' | 'logger' | 'signal'>;
  /** @default randomUUID */
  newId?: () => string;
  /** Outbox bound. @default 10_000 */
  maxOutboxEntries?: number;
  lookbackMillis?: number;
}

/** What one monitor cycle did. */
export interface MonitorCycleResult {
  evaluations: MonitorEvaluation[];
  notifications: AlertNotification[];
  /** Outbox entries written (notifications × webhooks). */
  queued: number;
  /** Dropped because the outbox was full. */
  dropped: number;
  drain: DrainResult;
}

/** Runs one evaluate → notify → deliver cycle of the monitors. */
export async function runMonitorCycle(options: MonitorCycleOptions): Promise<MonitorCycleResult> {
  const clock = options.clock ?? systemAlertClock;
  const logger = options.logger ?? noopLogger;
  const at = options.atMillis ?? clock.now();
  const path = monitorStatePath(options.stateDir);
  const prev = loadMonitorState(path);
  const evaluations = await evaluateMonitors(options.store, options.config.monitors, at, {
    state: prev,
    ...(options.lookbackMillis !== undefined ? { lookbackMillis: options.lookbackMillis } : {}),
  });
  const { notifications, state } = planMonitorNotifications(evaluations, prev, { nowMillis: at, ...(options.newId ? { newId: options.newId } : {}) });
  const outbox = new FileOutbox({ dir: statePaths(options.stateDir).outboxDir, logger, ...(options.maxOutboxEntries !== undefined ? { maxEntries: options.maxOutboxEntries } : {}) });
  const entries = toOutboxEntries(notifications, options.config);
  const dropped = await outbox.enqueue(entries);
  saveMonitorState(path, state);
  for (const n of notifications) logger.info(`monitor ${n.status}`, { alertname: n.labels['alertname'], monitor: n.labels['monitor'], fingerprint: n.fingerprint });
  const drain = await drainOutbox(outbox, options.config.alerts.webhooks, { ...options.delivery, clock, logger, ...(options.signal ? { signal: options.signal } : {}) });
  return { evaluations, notifications, queued: entries.length - dropped, dropped, drain };
}
