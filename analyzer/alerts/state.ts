/**
 * Alert state per (SLO, tier): which alerts fire, since when, and when they
 * were last sent. Transitions become notifications: a new firing alert is
 * sent at once, a firing one again every `repeat_interval`, and a resolve
 * when it stops firing. Where the state is kept is an {@link AlertStateStore}.
 */
import { createHash, randomUUID } from 'node:crypto';
import { describeAlert } from './describe.js';
import type { SloEvaluation } from '../slo/index.js';
import type { BurnRateTier } from '../slo/index.js';

export { ALERT_NAME } from './describe.js';

/** One alert transition to deliver. */
export interface AlertNotification {
  /** Idempotency key: the same for every delivery attempt of this notification. */
  id: string;
  /** Stable id of the (SLO, tier) alert. */
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAtMillis: number;
  /** When it resolved; null while firing. */
  endsAtMillis: number | null;
  /** When the notification was made. */
  createdAtMillis: number;
}

/** Persisted state of one firing alert. */
export interface FiringAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAtMillis: number;
  lastSentMillis: number;
}

/** An alert that resolved recently: still reported (with its end) to Alertmanager for {@link RESOLVED_RETENTION_MILLIS}. */
export interface ResolvedAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAtMillis: number;
  endsAtMillis: number;
}

/** How long a resolved alert is kept and re-sent as resolved (Prometheus keeps sending resolved alerts for 15 minutes). */
export const RESOLVED_RETENTION_MILLIS = 15 * 60_000;

/** The alert state. */
export interface AlertState {
  version: 1;
  /** Firing alerts by fingerprint. */
  firing: Record<string, FiringAlert>;
  /** Alerts resolved within {@link RESOLVED_RETENTION_MILLIS}, by fingerprint. */
  resolved?: Record<string, ResolvedAlert>;
}

/** An empty state. */
export const emptyAlertState = (): AlertState => ({ version: 1, firing: {} });

/**
 * True when two states record the same alerts: the same firing alerts with
 * the same start and last send, and the same recently resolved ones. (Labels
 * and annotations of a firing alert change with every evaluation and are not
 * compared: a state is written only when what it records changes.)
 */
export function sameAlertState(a: AlertState, b: AlertState): boolean {
  const firing = (s: AlertState): string =>
    JSON.stringify(
      Object.entries(s.firing)
        .map(([fp, f]) => [fp, f.startsAtMillis, f.lastSentMillis])
        .sort(),
    );
  const resolved = (s: AlertState): string =>
    JSON.stringify(
      Object.entries(s.resolved ?? {})
        .map(([fp, r]) => [fp, r.endsAtMillis])
        .sort(),
    );
  return firing(a) === firing(b) && resolved(a) === resolved(b);
}

/**
 * Stable fingerprint of an alert: the first 16 hex digits of
 * sha256(`slo name \0 severity \0 long window ms \0 short window ms`). It does
 * not change when the factor, objective or job selector change.
 */
export function alertFingerprint(sloName: string, tier: Pick<BurnRateTier, 'severity' | 'longWindowMillis' | 'shortWindowMillis'>): string {
  return createHash('sha256')
    .update(`${sloName}\0${tier.severity}\0${tier.longWindowMillis}\0${tier.shortWindowMillis}`)
    .digest('hex')
    .slice(0, 16);
}

/** Options of {@link planNotifications}. */
export interface PlanOptions {
  nowMillis: number;
  /** A firing alert is sent again after this long. */
  repeatIntervalMillis: number;
  /** Makes notification ids. @default randomUUID */
  newId?: () => string;
  /** Base URL of `jobslo serve`, for the SLO and job page links. @default '' */
  externalUrl?: string;
}

/**
 * Compares evaluations with the previous state and returns the notifications
 * to send and the next state. An alert whose SLO or tier is no longer
 * evaluated (removed from the config, or disabled) is resolved. Pure but for `newId`.
 */
export function planNotifications(evals: readonly SloEvaluation[], prev: AlertState, options: PlanOptions): { notifications: AlertNotification[]; state: AlertState } {
  const newId = options.newId ?? randomUUID;
  const now = options.nowMillis;
  const next: AlertState = { version: 1, firing: {}, resolved: {} };
  const resolved = next.resolved as Record<string, ResolvedAlert>;
  const resolve = (fp: string, r: ResolvedAlert): void => {
    resolved[fp] = r;
  };
  const notifications: AlertNotification[] = [];
  const seen = new Set<string>();
  for (const e of evals) {
    for (const t of e.tiers) {
      const fp = alertFingerprint(e.slo.name, t.tier);
      seen.add(fp);
      const before = prev.firing[fp];
      const { labels, annotations } = describeAlert(e, t, { externalUrl: options.externalUrl ?? '' });
      if (t.firing) {
        const startsAtMillis = before?.startsAtMillis ?? now;
        const due = before === undefined || now - before.lastSentMillis >= options.repeatIntervalMillis;
        next.firing[fp] = { labels, annotations, startsAtMillis, lastSentMillis: due ? now : (before?.lastSentMillis ?? now) };
        if (due) notifications.push({ id: newId(), fingerprint: fp, status: 'firing', labels, annotations, startsAtMillis, endsAtMillis: null, createdAtMillis: now });
      } else if (before) {
        notifications.push({ id: newId(), fingerprint: fp, status: 'resolved', labels, annotations, startsAtMillis: before.startsAtMillis, endsAtMillis: now, createdAtMillis: now });
        resolve(fp, { labels, annotations, startsAtMillis: before.startsAtMillis, endsAtMillis: now });
      }
    }
  }
  for (const [fp, before] of Object.entries(prev.firing)) {
    if (seen.has(fp)) continue;
    const annotations = { ...before.annotations, description: 'This SLO or alert tier is no longer configured.' };
    notifications.push({
      id: newId(),
      fingerprint: fp,
      status: 'resolved',
      labels: before.labels,
      annotations,
      startsAtMillis: before.startsAtMillis,
      endsAtMillis: now,
      createdAtMillis: now,
    });
    resolve(fp, { labels: before.labels, annotations, startsAtMillis: before.startsAtMillis, endsAtMillis: now });
  }
  // Earlier resolves are kept for the retention, unless the alert fires again.
  for (const [fp, r] of Object.entries(prev.resolved ?? {})) {
    if (next.firing[fp] === undefined && resolved[fp] === undefined && now - r.endsAtMillis < RESOLVED_RETENTION_MILLIS) resolved[fp] = r;
  }
  return { notifications, state: next };
}
