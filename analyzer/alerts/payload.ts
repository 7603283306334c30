/**
 * Webhook bodies: Prometheus Alertmanager webhook (version "4"), Slack
 * incoming-webhook (`text` + `blocks`), and plain JSON. Pure.
 */
import type { WebhookFormat } from '../slo/index.js';
import { ALERT_NAME } from './state.js';
import type { AlertNotification } from './state.js';

/** Alertmanager's "zero time" for `endsAt` of a firing alert. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Where a body is going, for the fields that name it. */
export interface PayloadContext {
  /** Webhook name, the Alertmanager `receiver`. */
  receiver: string;
  /** Base URL of `jobslo serve`, or ''. */
  externalUrl: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

const generatorUrl = (ctx: PayloadContext): string => (ctx.externalUrl === '' ? '' : `${ctx.externalUrl}/report/`);

/** The Alertmanager webhook receiver document (version "4"), one alert per notification. */
export function alertmanagerPayload(n: AlertNotification, ctx: PayloadContext): Record<string, unknown> {
  const groupLabels = { alertname: n.labels['alertname'] ?? ALERT_NAME, slo: n.labels['slo'] ?? '' };
  return {
    version: '4',
    groupKey: `{}:{alertname=${JSON.stringify(groupLabels.alertname)}, slo=${JSON.stringify(groupLabels.slo)}}`,
    truncatedAlerts: 0,
    status: n.status,
    receiver: ctx.receiver,
    groupLabels,
    commonLabels: n.labels,
    commonAnnotations: n.annotations,
    externalURL: ctx.externalUrl,
    alerts: [
      {
        status: n.status,
        labels: n.labels,
        annotations: n.annotations,
        startsAt: iso(n.startsAtMillis),
        endsAt: n.endsAtMillis === null ? ZERO_TIME : iso(n.endsAtMillis),
        generatorURL: generatorUrl(ctx),
        fingerprint: n.fingerprint,
      },
    ],
  };
}

/** Escapes `&`, `<` and `>` as Slack's mrkdwn requires. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A Slack incoming-webhook message: `text` (fallback) and `blocks`. */
export function slackPayload(n: AlertNotification, ctx: PayloadContext): Record<string, unknown> {
  const l = n.labels;
  const head = `${n.status === 'firing' ? ':rotating_light: FIRING' : ':white_check_mark: RESOLVED'} [${l['severity'] ?? ''}] SLO ${l['slo'] ?? ''}`;
  const text = `${head}: ${n.annotations['summary'] ?? ''}`;
  const fields = [
    `*Job:* ${l['job'] ?? ''}`,
    `*SLI:* ${l['sli'] ?? ''}`,
    `*Windows:* ${l['long_window'] ?? ''} / ${l['short_window'] ?? ''}`,
    `*Budget left:* ${n.annotations['error_budget_remaining'] ?? ''}`,
    `*Since:* ${iso(n.startsAtMillis)}`,
    n.endsAtMillis === null ? `*Fingerprint:* ${n.fingerprint}` : `*Resolved:* ${iso(n.endsAtMillis)}`,
  ];
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: slackEscape(text) } },
    { type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: slackEscape(f) })) },
  ];
  if (n.annotations['description']) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(n.annotations['description']) }] });
  if (ctx.externalUrl !== '') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${generatorUrl(ctx)}|SLO report>` }] });
  return { text: slackEscape(text), blocks };
}

/** The plain JSON notification (`version: "jobslo.alert/v1"`). */
export function jsonPayload(n: AlertNotification, ctx: PayloadContext): Record<string, unknown> {
  return {
    version: 'jobslo.alert/v1',
    id: n.id,
    status: n.status,
    fingerprint: n.fingerprint,
    receiver: ctx.receiver,
    labels: n.labels,
    annotations: n.annotations,
    startsAt: iso(n.startsAtMillis),
    endsAt: n.endsAtMillis === null ? null : iso(n.endsAtMillis),
    generatorURL: generatorUrl(ctx),
  };
}

/** The request body for a webhook format, as JSON text. */
export function renderPayload(format: WebhookFormat, n: AlertNotification, ctx: PayloadContext): string {
  const doc = format === 'alertmanager' ? alertmanagerPayload(n, ctx) : format === 'slack' ? slackPayload(n, ctx) : jsonPayload(n, ctx);
  return JSON.stringify(doc);
}
