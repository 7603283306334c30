/**
 * Labels and annotations of an SLO alert. Text for people is rounded
 * (`20x`, `31%`, `2.5 h`); the machine-readable annotations carry the exact
 * values. The SLO's own labels, annotation templates and runbook are merged
 * in. Pure.
 */
import { formatDurationMillis } from '../../contracts/index.js';
import { renderTemplate } from '../slo/index.js';
import type { SloEvaluation, TierEvaluation } from '../slo/index.js';
import { reportSlug } from '../../reports/slug.js';

/** `alertname` label of every jobslo SLO alert. */
export const ALERT_NAME = 'JobsloErrorBudgetBurn';

/** A burn rate for people: `20x`, `14.4x`, `0.33x`; `n/a` without events. */
export function formatBurnRate(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return `${trim(v.toFixed(digits))}x`;
}

/** A ratio as a percentage for people: `31%`, `4.2%`, `-9,900%`. */
export function formatPercent(ratio: number): string {
  const p = ratio * 100;
  const a = Math.abs(p);
  if (a >= 100) return `${Math.round(p).toLocaleString('en-US')}%`;
  return `${trim(p.toFixed(a >= 10 ? 0 : 1))}%`;
}

/** An objective as a percentage: `99.9%`, `99.95%`. */
export function formatObjective(o: number): string {
  return `${trim((o * 100).toFixed(3))}%`;
}

/** A span of time for people, rounded to its largest unit: `45 min`, `2.5 h`, `3.2 d`. */
export function formatSpan(ms: number): string {
  if (ms < 60_000) return `${Math.max(0, Math.round(ms / 1000))} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${trim((ms / 3_600_000).toFixed(1))} h`;
  return `${trim((ms / 86_400_000).toFixed(1))} d`;
}

const trim = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);

/** Where a notification's links point. */
export interface LinkContext {
  /** Base URL of `jobslo serve`, or '' when unknown (no links). */
  externalUrl: string;
}

/** Link of an SLO's page in the report site of `jobslo serve`; '' without an external URL. */
export function sloPageUrl(externalUrl: string, slo: string): string {
  return externalUrl === '' ? '' : `${externalUrl}/report/slos/${reportSlug(slo)}.html`;
}

/** Link of a job's page; '' without an external URL or for a glob selector (no single page). */
export function jobPageUrl(externalUrl: string, job: string): string {
  return externalUrl === '' || /[*?]/.test(job) ? '' : `${externalUrl}/report/jobs/${reportSlug(job)}.html`;
}

function whatIsBad(e: SloEvaluation): string {
  const job = e.slo.job;
  if (e.slo.sli === 'freshness') return `Scheduled runs of ${job} are missed, late or failing`;
  if (e.slo.sli === 'latency') return `Runs of ${job} are failing or slower than ${formatDurationMillis(e.slo.latencyThresholdMillis ?? 0)}`;
  return `Runs of ${job} are failing`;
}

function budgetSentence(e: SloEvaluation): string {
  const window = formatDurationMillis(e.slo.windowMillis);
  if (e.budgetRemaining <= 0) return `The ${window} error budget is already spent: ${formatPercent(1 - e.budgetRemaining)} of it is used.`;
  const left = `${formatPercent(e.budgetRemaining)} of the ${window} error budget is left`;
  if (e.budgetExhaustedAtMillis === null) return `${left}.`;
  return `${left}; at the current burn rate it runs out in ${formatSpan(e.budgetExhaustedAtMillis - e.atMillis)}.`;
}

/** Labels and annotations of the alert of one tier of an evaluated SLO. */
export function describeAlert(e: SloEvaluation, t: TierEvaluation, links: LinkContext): { labels: Record<string, string>; annotations: Record<string, string> } {
  const long = formatDurationMillis(t.tier.longWindowMillis);
  const short = formatDurationMillis(t.tier.shortWindowMillis);
  const slo = e.slo;
  const labels: Record<string, string> = {
    ...slo.labels,
    alertname: ALERT_NAME,
    slo: slo.name,
    job: slo.job,
    sli: slo.sli,
    severity: t.tier.severity,
    long_window: long,
    short_window: short,
  };
  const vars: Record<string, string> = {
    slo: slo.name,
    job: slo.job,
    sli: slo.sli,
    severity: t.tier.severity,
    objective: formatObjective(slo.objective),
    window: formatDurationMillis(slo.windowMillis),
    long_window: long,
    short_window: short,
    burn_rate_long: formatBurnRate(t.burnRateLong),
    burn_rate_short: formatBurnRate(t.burnRateShort),
    factor: formatBurnRate(t.tier.factor),
    error_budget_remaining: formatPercent(e.budgetRemaining),
    runbook_url: slo.runbookUrl ?? '',
  };
  const summary = t.firing
    ? `${slo.name} is burning its error budget at ${vars['burn_rate_long']} over ${long} and ${vars['burn_rate_short']} over ${short} (${t.tier.severity} above ${vars['factor']})`
    : `${slo.name} no longer burns its error budget above ${vars['factor']} over ${long} and ${short}`;
  const description = t.firing
    ? `${whatIsBad(e)} (objective ${vars['objective']} over ${vars['window']}). ${budgetSentence(e)}`
    : `The ${t.tier.severity} tier (${long}/${short}) stopped firing. ${budgetSentence(e)}`;
  const annotations: Record<string, string> = { summary, description };
  for (const [k, text] of Object.entries(slo.annotations)) annotations[k] = renderTemplate(text, vars);
  Object.assign(annotations, {
    objective: String(slo.objective),
    burn_rate_long: t.burnRateLong === null ? 'NaN' : String(t.burnRateLong),
    burn_rate_short: t.burnRateShort === null ? 'NaN' : String(t.burnRateShort),
    factor: String(t.tier.factor),
    error_budget_remaining: String(e.budgetRemaining),
    sli_value: e.sli === null ? 'NaN' : String(e.sli),
  });
  if (slo.runbookUrl !== undefined) annotations['runbook_url'] = slo.runbookUrl;
  const sloUrl = sloPageUrl(links.externalUrl, slo.name);
  if (sloUrl !== '') annotations['slo_url'] = sloUrl;
  const jobUrl = jobPageUrl(links.externalUrl, slo.job);
  if (jobUrl !== '') annotations['job_url'] = jobUrl;
  return { labels, annotations };
}
