/**
 * Pushes alerts to Alertmanager's API v2 (`POST /api/v2/alerts`) the way
 * Prometheus does: every evaluation, every firing alert with an `endsAt` a
 * few evaluation intervals ahead (so Alertmanager resolves it by itself if
 * jobslo stops), and every alert resolved in the last 15 minutes with its
 * real end. Alertmanager deduplicates by labels, so several replicas may
 * push the same alerts; routing, grouping, inhibition and silences are its own.
 * Not queued: a failed push is logged and the next evaluation sends again.
 */
import { JOBSLO_VERSION, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { AlertmanagerTarget } from '../slo/index.js';
import type { AlertClock } from './clock.js';
import { postableAlert } from './payload.js';
import type { PostableAlert } from './payload.js';
import { postJson, retryDelayMillis } from './retry.js';
import type { DeliveryOutcome } from './retry.js';
import { RESOLVED_RETENTION_MILLIS } from './state.js';
import type { AlertState } from './state.js';

/** What a push did, per Alertmanager. */
export interface AlertmanagerPushResult {
  /** Alertmanagers that took the alerts. */
  sent: number;
  /** Alertmanagers that did not (logged). */
  failed: number;
  /** Alerts in each push. */
  alerts: number;
}

/** Options of {@link pushToAlertmanagers}. */
export interface AlertmanagerPushOptions {
  clock: AlertClock;
  /** How long a firing alert stays firing in Alertmanager without a new push. */
  firingValidMillis: number;
  externalUrl: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Attempts per Alertmanager. @default 3 */
  maxAttempts?: number;
  /** @default Math.random */
  random?: () => number;
}

/** The alert list of one push: firing alerts, then those resolved within the retention. */
export function alertmanagerAlerts(state: AlertState, nowMillis: number, firingValidMillis: number, externalUrl: string): PostableAlert[] {
  const ctx = { receiver: '', externalUrl };
  const out: PostableAlert[] = [];
  for (const f of Object.values(state.firing)) out.push(postableAlert(f, nowMillis + firingValidMillis, ctx));
  for (const r of Object.values(state.resolved ?? {})) {
    if (nowMillis - r.endsAtMillis < RESOLVED_RETENTION_MILLIS) out.push(postableAlert(r, r.endsAtMillis, ctx));
  }
  return out;
}

function post(target: AlertmanagerTarget, body: string, clock: AlertClock, signal?: AbortSignal): Promise<DeliveryOutcome> {
  const headers = { 'content-type': 'application/json', 'user-agent': `jobslo/${JOBSLO_VERSION}` };
  return postJson(`${target.url}/api/v2/alerts`, headers, body, target.timeoutMillis, () => clock.now(), signal);
}

/** Pushes the current SLO alerts to every Alertmanager (nothing is sent when there is nothing to report). */
export function pushToAlertmanagers(targets: readonly AlertmanagerTarget[], state: AlertState, o: AlertmanagerPushOptions): Promise<AlertmanagerPushResult> {
  return pushAlerts(targets, alertmanagerAlerts(state, o.clock.now(), o.firingValidMillis, o.externalUrl), o);
}

/** Pushes these alerts to every Alertmanager, with retries (nothing is sent for an empty list). */
export async function pushAlerts(targets: readonly AlertmanagerTarget[], alerts: readonly PostableAlert[], o: Omit<AlertmanagerPushOptions, 'firingValidMillis' | 'externalUrl'>): Promise<AlertmanagerPushResult> {
  const logger = o.logger ?? noopLogger;
  const result: AlertmanagerPushResult = { sent: 0, failed: 0, alerts: alerts.length };
  if (alerts.length === 0 || targets.length === 0) return result;
  const body = JSON.stringify(alerts);
  await Promise.all(
    targets.map(async (t) => {
      const max = o.maxAttempts ?? 3;
      for (let attempt = 1; attempt <= max; attempt++) {
        const outcome = await post(t, body, o.clock, o.signal);
        if (outcome.kind === 'success') {
          result.sent++;
          return;
        }
        if (outcome.kind === 'failure' || attempt === max) {
          result.failed++;
          logger.error('Alertmanager did not take the alerts; the next evaluation sends them again', { alertmanager: t.name, reason: outcome.reason, alerts: alerts.length });
          return;
        }
        await o.clock.sleep(retryDelayMillis(attempt, { baseDelayMillis: 500, maxDelayMillis: 5_000 }, o.random ?? Math.random, outcome.retryInMillis), o.signal);
      }
    }),
  );
  return result;
}
