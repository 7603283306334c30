/**
 * The SLO, on-call and job pages as an on-call engineer sees them, from the
 * real SLO evaluator and alert state: headless Chromium screenshots at desktop
 * and phone width (test-artifacts/alert-pages/), and checks that the charts
 * tell the truth (a burn-down drawn from bad runs bucketed across the whole
 * window, a burn-rate chart over the longest tier's window), that the
 * on-call table fits a phone, and that failures are grouped and linked.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyAlertState, planNotifications } from '../../analyzer/alerts/index.js';
import { evaluateSlos, parseConfig } from '../../analyzer/slo/index.js';
import { reportSlos } from '../../cli/_report-slos.js';
import { collectReportData, renderReportSite, reportSlug, writeReportSite } from '../../reports/index.js';
import type { ReportData } from '../../reports/index.js';
import { DAY, HOUR, RANGE, T_END, fillFixture, memoryStore } from './_fixture.js';

const CHROMIUM = process.env['JOBSLO_CHROMIUM'] ?? '/usr/bin/chromium';
const REQUIRED = process.env['JOBSLO_REQUIRE_SERVICES'] === '1';
const available = existsSync(CHROMIUM);
const OUT = resolve('test-artifacts', 'alert-pages');
const TRACE_URL = 'http://jaeger.example:16686/trace/{trace_id}';

describe.runIf(!available && REQUIRED)('alert pages in Chromium (required)', () => {
  it('needs Chromium because JOBSLO_REQUIRE_SERVICES=1', () => {
    throw new Error(`JOBSLO_REQUIRE_SERVICES=1 but ${CHROMIUM} does not exist: run scripts/install-browser.sh`);
  });
});

/** Report data of the fixture store, with the default tiers and real alert state (fired 3 h before the end). */
async function data(): Promise<ReportData> {
  const store = await memoryStore();
  try {
    await fillFixture(store);
    const config = parseConfig('slos:\n  - {name: export availability, job: broken-export, objective: 0.99, window: 7d}\n');
    const evaluations = await evaluateSlos(store, config.slos, T_END);
    const { state } = planNotifications(evaluations, emptyAlertState(), { nowMillis: T_END - 3 * HOUR, repeatIntervalMillis: 4 * HOUR });
    return await collectReportData(store, { range: RANGE, version: 'test', generatedAt: new Date(T_END + 60_000), slos: reportSlos(evaluations, state), traceUrlTemplate: TRACE_URL });
  } finally {
    await store.close();
  }
}

describe('SLO charts from the store', () => {
  it('draw the burn-down at every bucket of the window and the burn rate over the longest tier window', async () => {
    const d = await data();
    const s = d.slos?.[0];
    if (!s) throw new Error('no SLO data');
    // 7 days in 2 h buckets: 84 buckets, 85 points, whatever buckets had runs.
    expect(s.budgetSeries).toHaveLength(85);
    expect(s.budgetSeries[0]).toEqual({ atMillis: T_END - 7 * DAY, remaining: 1 });
    expect(s.budgetSeries.at(-1)?.atMillis).toBe(T_END);
    expect(s.budgetSeries.at(-1)?.remaining).toBeCloseTo(s.input.errorBudgetRemaining ?? NaN, 9);
    // Non-increasing: bad runs only spend the budget.
    for (let i = 1; i < s.budgetSeries.length; i++) expect(s.budgetSeries[i]?.remaining).toBeLessThanOrEqual(s.budgetSeries[i - 1]?.remaining as number);
    // The default tiers' longest long window is 3 days: the burn-rate chart covers it, ending at the evaluation.
    expect([s.burnFromMillis, s.burnToMillis]).toEqual([T_END - 3 * DAY, T_END]);
    expect(s.burnSeries.map((b) => b.windowMillis)).toEqual([HOUR, 6 * HOUR, DAY, 3 * DAY]);
    for (const b of s.burnSeries) {
      expect(b.points[0]?.atMillis).toBe(T_END - 3 * DAY);
      expect(b.points.at(-1)?.atMillis).toBe(T_END);
    }
  });
});

describe.runIf(available)('alert pages in Chromium', () => {
  let browser: Browser;
  let site: string;
  let pages: Map<string, string>;

  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const d = await data();
    pages = renderReportSite(d);
    site = join(OUT, 'site');
    await writeReportSite(site, d);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  async function open<T>(path: string, width: number, shot: string, probe: string): Promise<T> {
    const context = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 900 } });
    try {
      const page = await context.newPage();
      await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
      await page.goto(pathToFileURL(join(site, path)).href, { waitUntil: 'load' });
      await page.screenshot({ path: join(OUT, `${shot}.png`), fullPage: true });
      return (await page.evaluate(probe)) as T;
    } finally {
      await context.close();
    }
  }

  const sloPage = `slos/${reportSlug('export availability')}.html`;
  const jobPage = `jobs/${reportSlug('broken-export')}.html`;

  it.each([
    ['desktop', 1280],
    ['phone', 390],
  ])('the SLO page (%s) draws the burn-down with one point per bucket and the burn rate over 3 days', async (name, width) => {
    const facts = await open<{ burndownPoints: number; burnDesc: string; burnSeries: number; overflow: number }>(
      sloPage,
      width,
      `slo-${name}`,
      `({
        burndownPoints: (document.querySelector('svg.chart .series path')?.getAttribute('d')?.match(/[ML]/g) ?? []).length,
        burnDesc: document.querySelectorAll('svg.chart')[1]?.querySelector('desc')?.textContent ?? '',
        burnSeries: document.querySelectorAll('svg.chart')[1]?.querySelectorAll('.series path').length ?? 0,
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      })`,
    );
    expect(facts.burndownPoints).toBe(85);
    expect(facts.burnDesc).toContain('over the last 3d');
    expect(facts.burnSeries).toBe(4);
    expect(facts.overflow).toBeLessThanOrEqual(0);
  });

  it.each([
    ['desktop', 1280],
    ['phone', 390],
  ])('the on-call page (%s) shows every firing alert column in reach, with real fire times and summaries', async (name, width) => {
    const facts = await open<{ rows: number; fits: boolean; cells: string[][]; labels: string[] }>(
      'oncall.html',
      width,
      `oncall-${name}`,
      `(() => {
        const table = document.querySelector('table.stack');
        const rows = [...(table?.querySelectorAll('tbody tr') ?? [])];
        const wrap = table?.parentElement;
        return {
          rows: rows.length,
          fits: !!table && !!wrap && table.scrollWidth <= wrap.clientWidth + 1 && table.getBoundingClientRect().right <= window.innerWidth + 1,
          cells: rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent.trim())),
          labels: [...(rows[0]?.querySelectorAll('td') ?? [])].map((c) => c.getAttribute('data-label') ?? ''),
        };
      })()`,
    );
    expect(facts.rows).toBeGreaterThan(0);
    expect(facts.fits).toBe(true);
    expect(facts.labels).toEqual(['Tier', 'Firing since', 'Burn rate', 'Budget runs out', 'Summary']);
    for (const row of facts.cells) {
      expect(row[1]).toMatch(/^2026-11-29 09:00/);
      expect(row[4]).toContain('export availability is burning its error budget');
      for (const c of row) expect(c).not.toBe('');
    }
  });

  it.each([
    ['desktop', 1280],
    ['phone', 390],
  ])('the job page (%s) groups failures, says the exit code once and links traces', async (name, width) => {
    const facts = await open<{ groups: { error: string; runs: string }[]; failedRows: number; traceLinks: string[] }>(
      jobPage,
      width,
      `job-${name}`,
      `({
        groups: [...document.querySelectorAll('table.failure-groups tbody tr')].map((r) => ({ error: r.querySelector('th').textContent.trim(), runs: r.querySelector('td').textContent.trim() })),
        failedRows: document.querySelectorAll('#failed-runs-h ~ div table.runs tbody tr').length,
        traceLinks: [...document.querySelectorAll('a[href^="http://jaeger.example:16686/trace/"]')].map((a) => a.getAttribute('href')),
      })`,
    );
    expect(facts.groups.length).toBeGreaterThan(0);
    expect(facts.groups.length).toBeLessThan(facts.failedRows);
    expect(facts.groups.reduce((n, g) => n + Number(g.runs.replace(/,/g, '')), 0)).toBe(facts.failedRows);
    expect(facts.traceLinks.length).toBeGreaterThan(0);
    for (const href of facts.traceLinks) expect(href).toMatch(/^http:\/\/jaeger\.example:16686\/trace\/[0-9a-f]{32}$/);
    const html = pages.get(jobPage) ?? '';
    expect(html).not.toMatch(/exit code (\d+)<\/span> <span class="meta">exit code \1/);
    expect(html.replace(/<[^>]+>/g, ' ')).not.toMatch(/exit code (\d+)\s+exit code \1/);
  });
});
