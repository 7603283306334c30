/**
 * Webhook bodies: Prometheus Alertmanager webhook (version "4"), Slack
 * incoming-webhook (`text` + `blocks`), plain JSON, and the alert list of
 * Alertmanager's API v2 (`POST /api/v2/alerts`). Pure.
 */
import type { WebhookFormat } from '../slo/index.js';
import { formatPercent } from './describe.js';
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

/** The SLO's page (the `slo_url` annotation), else the report's front page, else ''. */
const generatorUrl = (n: Pick<AlertNotification, 'annotations'>, ctx: PayloadContext): string =>
  n.annotations['slo_url'] ?? (ctx.externalUrl === '' ? '' : `${ctx.externalUrl}/report/`);

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
        generatorURL: generatorUrl(n, ctx),
        fingerprint: n.fingerprint,
      },
    ],
  };
}

/** A URL inside Slack's `<url|text>`: the characters that would end it escaped. */
const slackLink = (url: string): string => slackEscape(url).replace(/\|/g, '%7C');

/** Escapes `&`, `<` and `>` as Slack's mrkdwn requires. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A Slack incoming-webhook message: `text` (fallback) and `blocks`. */
export function slackPayload(n: AlertNotification, ctx: PayloadContext): Record<string, unknown> {
  const l = n.labels;
  const a = n.annotations;
  // The summary names the SLO already; the head adds only status and severity.
  const head = `${n.status === 'firing' ? ':rotating_light: FIRING' : ':white_check_mark: RESOLVED'} [${l['severity'] ?? ''}]`;
  const text = `${head} ${a['summary'] ?? l['slo'] ?? ''}`;
  const remaining = Number(a['error_budget_remaining']);
  // Job monitors (analyzer/monitors) label `monitor` instead of `slo` and have no SLI windows or budget.
  const fields = l['monitor'] !== undefined ? [
    `*Job:* ${l['job'] ?? ''}`,
    `*State:* ${a['state'] ?? ''}`,
    `*Schedule:* ${a['schedule'] ?? ''}`,
    `*Last success:* ${a['last_success'] ?? ''}`,
    `*Since:* ${iso(n.startsAtMillis)}`,
    n.endsAtMillis === null ? `*Missed in a row:* ${a['missed_in_a_row'] ?? ''}` : `*Resolved:* ${iso(n.endsAtMillis)}`,
  ] : [
    `*Job:* ${l['job'] ?? ''}`,
    `*SLI:* ${l['sli'] ?? ''}`,
    `*Windows:* ${l['long_window'] ?? ''} / ${l['short_window'] ?? ''}`,
    ...(a['error_budget_remaining'] !== undefined && Number.isFinite(remaining) ? [`*Budget left:* ${formatPercent(remaining)}`] : []),
    `*Since:* ${iso(n.startsAtMillis)}`,
    n.endsAtMillis === null ? `*Fingerprint:* ${n.fingerprint}` : `*Resolved:* ${iso(n.endsAtMillis)}`,
  ];
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: slackEscape(text) } },
    { type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: slackEscape(f) })) },
  ];
  if (a['description']) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(a['description']) }] });
  const links: string[] = [];
  const page = generatorUrl(n, ctx);
  if (page !== '') links.push(`<${slackLink(page)}|SLO page>`);
  if (a['job_url']) links.push(`<${slackLink(a['job_url'])}|job page>`);
  if (a['runbook_url']) links.push(`<${slackLink(a['runbook_url'])}|runbook>`);
  if (links.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: links.join(' · ') }] });
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
    generatorURL: generatorUrl(n, ctx),
  };
}

/** The request body for a webhook format, as JSON text. */
export function renderPayload(format: WebhookFormat, n: AlertNotification, ctx: PayloadContext): string {
  const doc = format === 'alertmanager' ? alertmanagerPayload(n, ctx) : format === 'slack' ? slackPayload(n, ctx) : jsonPayload(n, ctx);
  return JSON.stringify(doc);
}

/** One alert as Alertmanager's API v2 takes it (`postableAlert`). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/**
 * An alert for `POST /api/v2/alerts`. A firing alert ends at `endsAtMillis`
 * (a few intervals ahead, so Alertmanager resolves it by itself if jobslo stops
 * sending); a resolved one at the time it resolved.
 */
export function postableAlert(a: { labels: Record<string, string>; annotations: Record<string, string>; startsAtMillis: number }, endsAtMillis: number, ctx: PayloadContext): PostableAlert {
  return { labels: a.labels, annotations: a.annotations, startsAt: iso(a.startsAtMillis), endsAt: iso(endsAtMillis), generatorURL: generatorUrl(a, ctx) };
}
