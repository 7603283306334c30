/**
 * Alert state per (SLO, tier): which alerts fire, since when, and when they
 * were last sent. Transitions become notifications: a new firing alert is
 * sent at once, a firing one again every `repeat_interval`, and a resolve
 * when it stops firing. The state is a small JSON file written atomically.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { JobsloError, errorMessage, formatDurationMillis } from '../../contracts/index.js';
import type { SloEvaluation, TierEvaluation } from '../slo/index.js';
import type { BurnRateTier } from '../slo/index.js';

/** `alertname` label of every jobslo alert. */
export const ALERT_NAME = 'JobsloErrorBudgetBurn';

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

/** The state file. */
export interface AlertState {
  version: 1;
  /** Firing alerts by fingerprint. */
  firing: Record<string, FiringAlert>;
}

/** An empty state. */
export const emptyAlertState = (): AlertState => ({ version: 1, firing: {} });

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

const fmtRate = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(2));

function describeAlert(e: SloEvaluation, t: TierEvaluation): { labels: Record<string, string>; annotations: Record<string, string> } {
  const long = formatDurationMillis(t.tier.longWindowMillis);
  const short = formatDurationMillis(t.tier.shortWindowMillis);
  const what = e.slo.sli === 'freshness' ? 'scheduled runs are missed or late' : e.slo.sli === 'latency' ? 'runs are failing or slow' : 'runs are failing';
  return {
    labels: {
      alertname: ALERT_NAME,
      slo: e.slo.name,
      job: e.slo.job,
      sli: e.slo.sli,
      severity: t.tier.severity,
      long_window: long,
      short_window: short,
    },
    annotations: {
      summary: `SLO ${e.slo.name} (${e.slo.job}) burns its error budget ${fmtRate(t.burnRateLong)}x over ${long} and ${fmtRate(t.burnRateShort)}x over ${short} (threshold ${t.tier.factor.toFixed(2)}x)`,
      description: `${what}; at this rate the ${formatDurationMillis(e.slo.windowMillis)} budget of ${e.slo.name} (objective ${e.slo.objective}) is spent early. Error budget remaining: ${(e.budgetRemaining * 100).toFixed(1)}%.`,
      objective: String(e.slo.objective),
      burn_rate_long: fmtRate(t.burnRateLong),
      burn_rate_short: fmtRate(t.burnRateShort),
      factor: t.tier.factor.toFixed(4),
      error_budget_remaining: e.budgetRemaining.toFixed(4),
      sli_value: e.sli === null ? 'n/a' : e.sli.toFixed(6),
    },
  };
}

/** Options of {@link planNotifications}. */
export interface PlanOptions {
  nowMillis: number;
  /** A firing alert is sent again after this long. */
  repeatIntervalMillis: number;
  /** Makes notification ids. @default randomUUID */
  newId?: () => string;
}

/**
 * Compares evaluations with the previous state and returns the notifications
 * to send and the next state. An alert whose SLO or tier is no longer
 * evaluated (removed from the config, or disabled) is resolved. Pure but for `newId`.
 */
export function planNotifications(evals: readonly SloEvaluation[], prev: AlertState, options: PlanOptions): { notifications: AlertNotification[]; state: AlertState } {
  const newId = options.newId ?? randomUUID;
  const now = options.nowMillis;
  const next: AlertState = { version: 1, firing: {} };
  const notifications: AlertNotification[] = [];
  const seen = new Set<string>();
  for (const e of evals) {
    for (const t of e.tiers) {
      const fp = alertFingerprint(e.slo.name, t.tier);
      seen.add(fp);
      const before = prev.firing[fp];
      const { labels, annotations } = describeAlert(e, t);
      if (t.firing) {
        const startsAtMillis = before?.startsAtMillis ?? now;
        const due = before === undefined || now - before.lastSentMillis >= options.repeatIntervalMillis;
        next.firing[fp] = { labels, annotations, startsAtMillis, lastSentMillis: due ? now : (before?.lastSentMillis ?? now) };
        if (due) notifications.push({ id: newId(), fingerprint: fp, status: 'firing', labels, annotations, startsAtMillis, endsAtMillis: null, createdAtMillis: now });
      } else if (before) {
        notifications.push({ id: newId(), fingerprint: fp, status: 'resolved', labels, annotations, startsAtMillis: before.startsAtMillis, endsAtMillis: now, createdAtMillis: now });
      }
    }
  }
  for (const [fp, before] of Object.entries(prev.firing)) {
    if (seen.has(fp)) continue;
    notifications.push({
      id: newId(),
      fingerprint: fp,
      status: 'resolved',
      labels: before.labels,
      annotations: { ...before.annotations, description: 'This SLO or alert tier is no longer configured.' },
      startsAtMillis: before.startsAtMillis,
      endsAtMillis: now,
      createdAtMillis: now,
    });
  }
  return { notifications, state: next };
}

/**
 * Reads the state file; an empty state when it does not exist.
 * @throws {JobsloError} `JOBSLO_ERR_CONFIG` when it exists but is not a state file
 */
export function loadAlertState(path: string): AlertState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyAlertState();
    throw new JobsloError('JOBSLO_ERR_CONFIG', `cannot read alert state ${path}`, { cause: err });
  }
  try {
    const v = JSON.parse(text) as Partial<AlertState>;
    if (v.version !== 1 || typeof v.firing !== 'object' || v.firing === null) throw new Error('not a version 1 alert state');
    return { version: 1, firing: v.firing };
  } catch (err) {
    throw new JobsloError('JOBSLO_ERR_CONFIG', `alert state ${path} is damaged (${errorMessage(err)}); move it away to start with no firing alerts`, { cause: err });
  }
}

/** Writes the state file atomically (temporary file, then rename). */
export function saveAlertState(path: string, state: AlertState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}
