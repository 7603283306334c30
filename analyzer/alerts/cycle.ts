/**
 * One alerting cycle: evaluate every SLO, turn state changes into
 * notifications, put them in the outbox (durably, before the state is saved,
 * so a crash can repeat a notification but never lose one), save the state,
 * then drain the outbox.
 */
import { join } from 'node:path';
import { noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { Store } from '../../store/index.js';
import { evaluateSlos } from '../slo/index.js';
import type { JobsloConfig, SloEvaluation } from '../slo/index.js';
import { systemAlertClock } from './clock.js';
import type { AlertClock } from './clock.js';
import { drainOutbox } from './deliver.js';
import type { DeliveryOptions, DrainResult } from './deliver.js';
import { FileOutbox } from './outbox.js';
import type { OutboxEntry } from './outbox.js';
import { renderPayload } from './payload.js';
import { loadAlertState, planNotifications, saveAlertState } from './state.js';
import type { AlertNotification } from './state.js';

/** Default folder of the alert state and outbox, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.jobslo';

/** Where a state folder keeps its parts. */
export function statePaths(stateDir: string): { stateFile: string; outboxDir: string } {
  return { stateFile: join(stateDir, 'alert-state.json'), outboxDir: join(stateDir, 'outbox') };
}

/** Options of {@link runAlertCycle}. */
export interface AlertCycleOptions {
  store: Store;
  config: JobsloConfig;
  /** Holds `alert-state.json` and `outbox/`. */
  stateDir: string;
  /** Evaluation time. @default clock.now() */
  atMillis?: number;
  clock?: AlertClock;
  logger?: Logger;
  signal?: AbortSignal;
  /** Delivery bounds and test hooks. */
  delivery?: Omit<DeliveryOptions, 'clock' | 'logger' | 'signal'>;
  /** Notification ids (idempotency keys). @default randomUUID */
  newId?: () => string;
  /** Outbox bound. @default 10_000 */
  maxOutboxEntries?: number;
}

/** What one cycle did. */
export interface AlertCycleResult {
  evaluations: SloEvaluation[];
  notifications: AlertNotification[];
  /** (SLO, tier) alerts firing now. */
  firing: number;
  /** Notifications dropped because the outbox was full. */
  dropped: number;
  drain: DrainResult;
}

/** Turns notifications into outbox entries, one per webhook, with the body in the webhook's format. */
export function toOutboxEntries(notifications: readonly AlertNotification[], config: JobsloConfig): OutboxEntry[] {
  const entries: OutboxEntry[] = [];
  for (const n of notifications) {
    for (const hook of config.alerts.webhooks) {
      entries.push({
        version: 1,
        idempotencyKey: n.id,
        webhook: hook.name,
        body: renderPayload(hook.format, n, { receiver: hook.name, externalUrl: config.alerts.externalUrl }),
        createdAtMillis: n.createdAtMillis,
        attempts: 0,
        notBeforeMillis: 0,
      });
    }
  }
  return entries;
}

/** Runs one evaluate → notify → deliver cycle. */
export async function runAlertCycle(options: AlertCycleOptions): Promise<AlertCycleResult> {
  const clock = options.clock ?? systemAlertClock;
  const logger = options.logger ?? noopLogger;
  const at = options.atMillis ?? clock.now();
  const { stateFile, outboxDir } = statePaths(options.stateDir);
  const evaluations = await evaluateSlos(options.store, options.config.slos, at);
  const prev = loadAlertState(stateFile);
  const { notifications, state } = planNotifications(evaluations, prev, {
    nowMillis: at,
    repeatIntervalMillis: options.config.alerts.repeatIntervalMillis,
    ...(options.newId ? { newId: options.newId } : {}),
  });
  const outbox = new FileOutbox({ dir: outboxDir, logger, ...(options.maxOutboxEntries !== undefined ? { maxEntries: options.maxOutboxEntries } : {}) });
  const dropped = outbox.enqueue(toOutboxEntries(notifications, options.config));
  saveAlertState(stateFile, state);
  const firing = evaluations.reduce((n, e) => n + e.tiers.filter((t) => t.firing).length, 0);
  for (const n of notifications) {
    logger.info(`alert ${n.status}`, { slo: n.labels['slo'], severity: n.labels['severity'], long_window: n.labels['long_window'], fingerprint: n.fingerprint });
  }
  const drain = await drainOutbox(outbox, options.config.alerts.webhooks, { ...options.delivery, clock, logger, ...(options.signal ? { signal: options.signal } : {}) });
  return { evaluations, notifications, firing, dropped, drain };
}
