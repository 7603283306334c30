/** What an on-call engineer reads: rounded text, exact machine values, routing labels and deep links in every format. */
import { describe, expect, it } from 'vitest';
import { formatBurnRate, formatPercent, formatSpan, planNotifications, renderPayload, emptyAlertState } from '../../analyzer/alerts/index.js';
import { evaluateFromCounts, parseConfig } from '../../analyzer/slo/index.js';
import { reportSlug } from '../../reports/index.js';
import { DAY, HOUR, MINUTE } from './helpers.js';

const T0 = Date.UTC(2026, 8, 1, 10);

const cfg = parseConfig(
  [
    'slos:',
    '  - name: export-success',
    '    job: broken-export',
    '    objective: 0.99',
    '    window: 30d',
    '    labels: {team: data}',
    '    annotations: {dashboard: "https://grafana.example/d/{{ slo }}?burn={{ burn_rate_long }}"}',
    '    runbook_url: https://wiki.example/export',
    '    alerting:',
    '      tiers:',
    '        - {severity: page, long: 1h, short: 5m, factor: 14.4}',
    '',
  ].join('\n'),
);
const slo = cfg.slos[0];
if (!slo) throw new Error('no slo');

function plan(good: number, total: number) {
  const e = evaluateFromCounts(slo as NonNullable<typeof slo>, T0, [
    { windowMillis: 30 * DAY, good, total },
    { windowMillis: HOUR, good: 0, total: 20 },
    { windowMillis: 5 * MINUTE, good: 0, total: 3 },
  ]);
  let i = 0;
  return Object.assign(planNotifications([e], emptyAlertState(), { nowMillis: T0, repeatIntervalMillis: HOUR, newId: () => `id-${++i}`, externalUrl: 'https://jobslo.example' }).notifications, {
    evaluation: e,
  });
}

describe('human numbers', () => {
  it.each([
    [100, '100x'],
    [14.4, '14.4x'],
    [20.0, '20x'],
    [0.3333, '0.33x'],
    [null, 'n/a'],
  ])('burn rate %s reads %s', (v, want) => expect(formatBurnRate(v)).toBe(want));
  it.each([
    [-99, '-9,900%'],
    [0.31, '31%'],
    [0.042, '4.2%'],
    [1, '100%'],
  ])('ratio %s reads %s', (v, want) => expect(formatPercent(v)).toBe(want));
  it.each([
    [45 * MINUTE, '45 min'],
    [2.5 * HOUR, '2.5 h'],
    [3.21 * DAY, '3.2 d'],
  ])('span %s ms reads %s', (v, want) => expect(formatSpan(v)).toBe(want));
});

describe('alert text', () => {
  it('names the SLO once, shows budgets as percentages, says a spent budget is spent, and keeps exact values for machines', () => {
    // 1 good of 100 over 30 days at 99%: 99x burn, budget -9,800%.
    const planned = plan(1, 100);
    const [n] = planned;
    if (!n) throw new Error('no notification');
    expect(n.annotations['summary']).toBe('export-success is burning its error budget at 100x over 1h and 100x over 5m (page above 14.4x)');
    expect(n.annotations['description']).toBe('Runs of broken-export are failing (objective 99% over 30d). The 30d error budget is already spent: 9,900% of it is used.');
    // Exact, not rounded: the evaluation's own numbers.
    expect(n.annotations['error_budget_remaining']).toBe(String(planned.evaluation.budgetRemaining));
    expect(Number(n.annotations['error_budget_remaining'])).toBeCloseTo(-98, 9);
    expect(n.annotations['burn_rate_long']).toBe(String(planned.evaluation.tiers[0]?.burnRateLong));
    expect(n.annotations['factor']).toBe('14.4');
    const slack = JSON.parse(renderPayload('slack', n, { receiver: 'chat', externalUrl: 'https://jobslo.example' })) as { text: string; blocks: { fields?: { text: string }[]; elements?: { text: string }[] }[] };
    expect(slack.text.split('export-success')).toHaveLength(2);
    const fields = slack.blocks.flatMap((b) => b.fields ?? []).map((f) => f.text);
    expect(fields).toContain('*Budget left:* -9,800%');
  });

  it('projects when a partly spent budget runs out', () => {
    const [n] = plan(995, 1000);
    // 50% left at the 1h burn of 100x: 0.5 × 30d / 100 = 3.6 h.
    expect(n?.annotations["description"]).toMatch(/50% of the 30d error budget is left; at the current burn rate it runs out in 3\.6 h\.$/);
  });

  it('carries the SLO labels, rendered annotation templates, runbook and deep links into every format', () => {
    const [n] = plan(1, 100);
    if (!n) throw new Error('no notification');
    const sloUrl = `https://jobslo.example/report/slos/${reportSlug('export-success')}.html`;
    const jobUrl = `https://jobslo.example/report/jobs/${reportSlug('broken-export')}.html`;
    expect(n.labels).toMatchObject({ team: 'data', slo: 'export-success', severity: 'page', alertname: 'JobsloErrorBudgetBurn' });
    expect(n.annotations).toMatchObject({
      runbook_url: 'https://wiki.example/export',
      dashboard: 'https://grafana.example/d/export-success?burn=100x',
      slo_url: sloUrl,
      job_url: jobUrl,
    });
    const ctx = { receiver: 'r', externalUrl: 'https://jobslo.example' };
    const am = JSON.parse(renderPayload('alertmanager', n, ctx)) as { commonLabels: Record<string, string>; alerts: { generatorURL: string; annotations: Record<string, string> }[] };
    expect(am.commonLabels['team']).toBe('data');
    expect(am.alerts[0]?.generatorURL).toBe(sloUrl);
    expect(am.alerts[0]?.annotations['runbook_url']).toBe('https://wiki.example/export');
    const json = JSON.parse(renderPayload('json', n, ctx)) as { labels: Record<string, string>; annotations: Record<string, string>; generatorURL: string };
    expect(json.labels['team']).toBe('data');
    expect(json.annotations['dashboard']).toContain('burn=100x');
    expect(json.generatorURL).toBe(sloUrl);
    const slack = renderPayload('slack', n, ctx);
    expect(slack).toContain(`<${sloUrl}|SLO page>`);
    expect(slack).toContain(`<${jobUrl}|job page>`);
    expect(slack).toContain('<https://wiki.example/export|runbook>');
  });
});
