/**
 * One alerting cycle: evaluate every SLO, turn state changes into
 * notifications, commit them with the next state (compare-and-swap on the
 * state's version, notifications durable before the state), then drain the
 * outbox. When another replica committed first, the cycle plans again from
 * the state it wrote, so a transition is notified once however many
 * replicas evaluate it.
 */
import { noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { RunReader } from '../../store/index.js';
import { evaluateSlos } from '../slo/index.js';
import type { JobsloConfig, SloEvaluation } from '../slo/index.js';
import type { AlertBackend, OutboxEntry } from './backend.js';
import { systemAlertClock } from './clock.js';
import type { AlertClock } from './clock.js';
import { pushToAlertmanagers } from './alertmanager.js';
import type { AlertmanagerPushResult } from './alertmanager.js';
import { drainOutbox } from './deliver.js';
import type { DeliveryOptions, DrainResult } from './deliver.js';
import { renderPayload } from './payload.js';
import { planNotifications, sameAlertState } from './state.js';
import type { AlertNotification, AlertState } from './state.js';

/** Options of {@link runAlertCycle}. */
export interface AlertCycleOptions {
  store: RunReader;
  config: JobsloConfig;
  /** Alert state and outbox. */
  backend: AlertBackend;
  /** Evaluation time. @default clock.now() */
  atMillis?: number;
  clock?: AlertClock;
  logger?: Logger;
  signal?: AbortSignal;
  /** Delivery bounds and test hooks. */
  delivery?: Omit<DeliveryOptions, 'clock' | 'logger' | 'signal'>;
  /** Notification ids (idempotency keys). @default randomUUID */
  newId?: () => string;
  /**
   * Time between evaluations, ms: a firing alert pushed to Alertmanager stays
   * firing there for 4 × max(this, 1 min) without a new push (as Prometheus does).
   * @default 60_000
   */
  evaluationIntervalMillis?: number;
}

/** What one cycle did. */
export interface AlertCycleResult {
  evaluations: SloEvaluation[];
  /** Notifications this cycle committed (none when another replica had already sent them). */
  notifications: AlertNotification[];
  /** The alert state after the cycle. */
  state: AlertState;
  /** (SLO, tier) alerts firing now. */
  firing: number;
  /** Notifications dropped because the outbox was full. */
  dropped: number;
  drain: DrainResult;
  /** The push to `alerts.alertmanagers`. */
  alertmanager: AlertmanagerPushResult;
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

/** Compare-and-swap attempts per cycle before giving the turn to the next cycle. */
const MAX_COMMIT_ATTEMPTS = 5;

/** Runs one evaluate → notify → deliver cycle. */
export async function runAlertCycle(options: AlertCycleOptions): Promise<AlertCycleResult> {
  const clock = options.clock ?? systemAlertClock;
  const logger = options.logger ?? noopLogger;
  const at = options.atMillis ?? clock.now();
  const evaluations = await evaluateSlos(options.store, options.config.slos, at);
  let notifications: AlertNotification[] = [];
  let dropped = 0;
  let state: AlertState | undefined;
  for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS && state === undefined; attempt++) {
    const prev = await options.backend.state.load();
    const plan = planNotifications(evaluations, prev.state, {
      nowMillis: at,
      repeatIntervalMillis: options.config.alerts.repeatIntervalMillis,
      externalUrl: options.config.alerts.externalUrl,
      ...(options.newId ? { newId: options.newId } : {}),
    });
    if (plan.notifications.length === 0 && sameAlertState(prev.state, plan.state)) {
      // Nothing to commit; the planned state has this evaluation's annotations.
      state = plan.state;
      break;
    }
    const cas = await options.backend.state.compareAndSwap(prev.version, plan.state, toOutboxEntries(plan.notifications, options.config));
    if (cas.ok) {
      state = plan.state;
      notifications = plan.notifications;
      dropped = cas.dropped;
    } else {
      logger.debug('alert state moved by another replica; planning again', { attempt });
    }
  }
  if (state === undefined) {
    logger.warn('alert state kept changing under this replica; its notifications are left to the others this cycle', { attempts: MAX_COMMIT_ATTEMPTS });
    state = (await options.backend.state.load()).state;
  }
  const firing = evaluations.reduce((n, e) => n + e.tiers.filter((t) => t.firing).length, 0);
  for (const n of notifications) {
    logger.info(`alert ${n.status}`, { slo: n.labels['slo'], severity: n.labels['severity'], long_window: n.labels['long_window'], fingerprint: n.fingerprint });
  }
  const drain = await drainOutbox(options.backend.outbox, options.config.alerts.webhooks, {
    ...options.delivery,
    clock,
    logger,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const alertmanager = await pushToAlertmanagers(options.config.alerts.alertmanagers ?? [], state, {
    clock,
    logger,
    externalUrl: options.config.alerts.externalUrl,
    firingValidMillis: 4 * Math.max(options.evaluationIntervalMillis ?? 60_000, 60_000),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { evaluations, notifications, state, firing, dropped, drain, alertmanager };
}
