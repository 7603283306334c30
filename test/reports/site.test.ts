import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../analyzer/index.js';
import type { Analysis, JobSlis } from '../../analyzer/index.js';
import { ConfigError } from '../../contracts/index.js';
import { collectReportData, renderIndex, renderReportSite, writeReportSite } from '../../reports/index.js';
import type { ReportData, ReportSloInput } from '../../reports/index.js';
import type { DuckDbStore } from '../../store/duckdb.js';
import { RemoteStore } from '../../store/index.js';
import { StoreSink, startCollector } from '../../collector/index.js';
import { attrs, dataCells, decode, tagBalanceProblem } from './_html.js';
import { DAY, FRESHNESS, HOUR, RANGE, T_END, fillFixture, fixtureSlos, memoryStore } from './_fixture.js';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GENERATED = new Date(T_END + 60_000);

/** The analyzer JSON value at a dotted path (`latency_ms.p95`). */
function at(job: JobSlis, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | null)?.[k], job);
}

/** A `data-value` as the number it stands for (`''` is null). */
const num = (v: string): number | null => (v === '' ? null : Number(v));

const pageText = (html: string): string => decode(html.replace(/<style>[\s\S]*?<\/style>/, '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');

let store: DuckDbStore;
let slos: ReportSloInput[];
let analysis: Analysis;
let previous: Analysis;
let withSlos: ReportData;
let site: Map<string, string>;
let plain: Map<string, string>;

beforeAll(async () => {
  store = await memoryStore();
  await fillFixture(store);
  slos = await fixtureSlos(store);
  analysis = await analyze(store, RANGE);
  previous = await analyze(store, { fromMillis: RANGE.fromMillis - DAY, toMillis: RANGE.fromMillis });
  withSlos = await collectReportData(store, { range: RANGE, version: '9.9.9', generatedAt: GENERATED, slos, freshness: FRESHNESS });
  site = renderReportSite(withSlos);
  plain = renderReportSite(await collectReportData(store, { range: RANGE, version: '9.9.9', generatedAt: GENERATED }));
});
afterAll(async () => {
  await store.close();
});

const jobPage = (s: Map<string, string>, job: string): string => {
  for (const [path, html] of s) if (path.startsWith('jobs/') && attrs(/<main\b[^>]*>/.exec(html)?.[0] ?? '')['data-job'] === job) return html;
  throw new Error(`no page for job ${job}`);
};

describe('report site: pages', () => {
  it('has an overview, an on-call page, one page per job and one per SLO', () => {
    const paths = [...site.keys()].sort();
    expect(paths.filter((p) => !p.includes('/'))).toEqual(['index.html', 'oncall.html']);
    expect(paths.filter((p) => p.startsWith('jobs/'))).toHaveLength(analysis.jobs.length);
    expect(paths.filter((p) => p.startsWith('slos/'))).toHaveLength(slos.length);
    for (const p of paths) expect(p).toMatch(/^(index|oncall)\.html$|^(jobs|slos)\/[a-z0-9-]+\.html$/);
  });

  it('links from the overview to every job page and every SLO page, relative to the site root', () => {
    const index = site.get('index.html') as string;
    const hrefs = new Set([...index.matchAll(/href="([^"]+)"/g)].map((m) => decode(m[1] as string)));
    for (const p of site.keys()) if (p !== 'index.html') expect(hrefs, p).toContain(p);
    const job = jobPage(site, 'payments-sync');
    expect(job).toContain('href="../index.html"');
    expect(job).toContain('href="../oncall.html"');
  });

  it('makes every page self-contained: a strict CSP, inline CSS only, no scripts, no external references', () => {
    for (const [path, html] of site) {
      const csp = attrs(/<meta http-equiv="Content-Security-Policy"[^>]*>/.exec(html)?.[0] ?? '')['content'];
      expect(csp, path).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; base-uri 'none'; form-action 'none'$/);
      expect(html.toLowerCase()).not.toContain('<script');
      expect(html).not.toMatch(/\s(src|srcset|action)=/i);
      expect(html).not.toMatch(/\sstyle=/i);
      expect(html).not.toMatch(/\son[a-z]+=/i);
      expect(html).not.toMatch(/(href|xlink:href)="(https?:)?\/\//i);
      expect(html).not.toMatch(/<link\b/i);
      expect(html.match(/<style>/g)).toHaveLength(1);
      expect(tagBalanceProblem(html), path).toBeNull();
    }
  });

  it('states the window, the previous period and the generation time on every page', () => {
    for (const [path, html] of site) {
      const text = pageText(html);
      expect(text, path).toContain('Window 2026-11-28 12:00 UTC to 2026-11-29 12:00 UTC (24h)');
      expect(text, path).toContain('the previous 24h, 2026-11-27 12:00 UTC to 2026-11-28 12:00 UTC');
      expect(text, path).toContain('Generated 2026-11-29 12:01:00 UTC');
      expect(text, path).toMatch(/Latest run ended 2026-11-29 \d\d:\d\d:\d\d UTC/);
    }
  });

  it('gives every chart a screen-reader title and description', () => {
    for (const [path, html] of site) {
      for (const m of html.matchAll(/<svg\b[^>]*class="chart[^"]*"[^>]*>/g)) {
        const a = attrs(m[0]);
        expect(a['role'], path).toBe('img');
        for (const id of (a['aria-labelledby'] ?? '').split(' ')) expect(html, `${path} #${id}`).toMatch(new RegExp(`<(title|desc) id="${id}">[^<]+<`));
      }
    }
  });
});

describe('report site: executive view (index)', () => {
  it('shows each job\'s figures exactly as the analyzer\'s JSON has them', () => {
    const cells = dataCells(site.get('index.html') as string).filter((c) => c.context !== null);
    const byJob = new Map(analysis.jobs.map((j) => [j.job, j]));
    expect(cells.length).toBeGreaterThan(analysis.jobs.length * 10);
    for (const c of cells) {
      const job = byJob.get(c.context as string);
      expect(job, c.context ?? '').toBeDefined();
      expect(num(c.value), `${c.context} ${c.field}`).toBe(at(job as JobSlis, c.field));
    }
  });

  it('shows overall success rate, runs, failed runs and total cost computed from the analyzer\'s jobs', () => {
    const tiles = new Map(dataCells(site.get('index.html') as string).filter((c) => c.tag.startsWith('<div')).map((c) => [c.field, num(c.value)]));
    const runs = analysis.jobs.reduce((s, j) => s + j.runs, 0);
    const succeeded = analysis.jobs.reduce((s, j) => s + j.succeeded, 0);
    expect(tiles.get('runs')).toBe(runs);
    expect(tiles.get('failed')).toBe(analysis.jobs.reduce((s, j) => s + j.failed, 0));
    expect(tiles.get('success_rate')).toBeCloseTo(succeeded / runs, 12);
    expect(tiles.get('cost_total')).toBeCloseTo(analysis.jobs.reduce((s, j) => s + (j.cost_total ?? 0), 0), 9);
  });

  it('compares each figure with the previous period of the same length', () => {
    const index = site.get('index.html') as string;
    const prevFailed = previous.jobs.reduce((s, j) => s + j.failed, 0);
    const nowFailed = analysis.jobs.reduce((s, j) => s + j.failed, 0);
    const tile = /<div class="tile" data-field="failed"[\s\S]*?<\/div>/.exec(index)?.[0] ?? '';
    expect(pageText(tile)).toContain(`+${nowFailed - prevFailed} (+${(((nowFailed - prevFailed) / prevFailed) * 100).toFixed(1)}%)`);
    // broken-export's success rate fell: its row says by how many percentage points, as bad news.
    const now = analysis.jobs.find((j) => j.job === 'broken-export') as JobSlis;
    const before = previous.jobs.find((j) => j.job === 'broken-export') as JobSlis;
    const pp = (((now.success_rate as number) - (before.success_rate as number)) * 100).toFixed(2).replace('-', '\u2212');
    const row = /<tr data-job="broken-export" class="[a-z]+">[\s\S]*?<\/tr>/.exec(index)?.[0] ?? '';
    expect(row).toContain(`<span class="delta down bad" title="change against the previous period">${pp} pp</span>`);
  });

  it('lists the jobs that failed most, most failures first', () => {
    const index = site.get('index.html') as string;
    const section = /<section aria-labelledby="failed-h">[\s\S]*?<\/section>/.exec(index)?.[0] ?? '';
    const order = [...section.matchAll(/<tr data-job="([^"]+)"/g)].map((m) => m[1]);
    const want = analysis.jobs.filter((j) => j.failed > 0).sort((a, b) => b.failed - a.failed).map((j) => j.job);
    expect(order).toEqual(want);
  });

  it('lists cost per job, most expensive first, with the total', () => {
    const index = site.get('index.html') as string;
    const section = /<section aria-labelledby="cost-h">[\s\S]*?<\/section>/.exec(index)?.[0] ?? '';
    const costs = dataCells(section).filter((c) => c.field === 'cost_total').map((c) => num(c.value) as number);
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    const total = dataCells(section).find((c) => c.field === 'cost_total_all');
    expect(num(total?.value ?? '')).toBeCloseTo(costs.reduce((s, c) => s + c, 0), 9);
  });

  it('shows the SLO compliance table, least budget left first, only when SLO data is given', () => {
    const index = site.get('index.html') as string;
    const budgets = dataCells(index, 'data-slo').filter((c) => c.field === 'error_budget_remaining');
    expect(budgets.map((c) => c.context)).toEqual([...slos].sort((a, b) => (a.errorBudgetRemaining as number) - (b.errorBudgetRemaining as number)).map((s) => s.name));
    for (const c of budgets) expect(num(c.value)).toBe(slos.find((s) => s.name === c.context)?.errorBudgetRemaining);
    const plainIndex = plain.get('index.html') as string;
    expect(plainIndex).not.toContain('SLO compliance');
    expect([...plain.keys()].some((p) => p.startsWith('slos/'))).toBe(false);
  });
});

describe('report site: on-call view', () => {
  it('lists the latest failures with error type, exit code, message excerpt and trace and span ids', async () => {
    const oncall = site.get('oncall.html') as string;
    const runs = await store.listRuns({ jobs: '*', ...RANGE, filter: 'failed', order: 'latest', limit: 50 });
    const rows = [...oncall.matchAll(/<tr data-run="([^"]+)">([\s\S]*?)<\/tr>/g)];
    expect(rows.map((m) => m[1])).toEqual(runs.map((r) => r.runId));
    for (const [i, r] of runs.entries()) {
      const row = rows[i]?.[2] ?? '';
      expect(row).toContain(`<code data-trace-id="${r.traceId}">${r.traceId}</code>`);
      expect(row).toContain(`span <code>${r.spanId}</code>`);
      expect(pageText(row)).toContain(r.errorType);
      if (r.exitCode !== null) expect(row).toContain(`exit code ${r.exitCode}`);
    }
    // The long upstream message is cut to 200 characters and escaped.
    const long = runs.find((r) => r.message.length > 200);
    expect(long).toBeDefined();
    const q = /<q title="[^"]*">([^<]*)<\/q>/.exec(rows.find((m) => m[1] === long?.runId)?.[2] ?? '')?.[1] ?? '';
    expect(Array.from(decode(q))).toHaveLength(200);
    expect(decode(q).endsWith('…')).toBe(true);
    expect(q).toContain('&quot;maintenance&quot;');
  });

  it('shows firing alerts with burn rates and recently resolved ones, only when SLO data is given', () => {
    const oncall = site.get('oncall.html') as string;
    expect(oncall.match(/<tr data-alert="firing">/g)).toHaveLength(slos.flatMap((s) => s.alerts).filter((a) => a.state === 'firing').length);
    expect(oncall.match(/<tr data-alert="resolved">/g)).toHaveLength(1);
    expect(pageText(oncall)).toContain('5 min 100×, 1h 100× (≥ 14.4×)');
    expect(pageText(plain.get('oncall.html') as string)).toContain('No SLO data was given to this report');
    expect(plain.get('oncall.html')).not.toContain('data-alert=');
  });

  it('shows late and missed jobs when given, and queue delay per job', () => {
    const text = pageText(site.get('oncall.html') as string);
    expect(text).toContain('weekly-archive missed 2026-11-29 09:00 UTC (3.0 h ago) never seen 2');
    expect(text).toContain('cron 5 */2 * * *');
    expect(pageText(plain.get('oncall.html') as string)).not.toContain('Late or missed jobs');
    const queue = dataCells(site.get('oncall.html') as string).filter((c) => c.field.startsWith('queue_'));
    const sync = analysis.jobs.find((j) => j.job === 'payments-sync') as JobSlis;
    expect(sync.queue_depth).toEqual({ now: 3, max: 3 });
    expect(queue.map((c) => [c.context, c.field, num(c.value)])).toEqual([
      ['payments-sync', 'queue_depth.now', sync.queue_depth.now],
      ['payments-sync', 'queue_depth.max', sync.queue_depth.max],
      ['payments-sync', 'queue_delay_ms.p50', sync.queue_delay_ms.p50],
      ['payments-sync', 'queue_delay_ms.p95', sync.queue_delay_ms.p95],
    ]);
  });

  it('skips the queue depth read when asked (the previous period a report compares with)', async () => {
    const without = await analyze(store, RANGE, { queueDepths: false });
    expect(without.jobs.find((j) => j.job === 'payments-sync')?.queue_depth).toEqual({ now: 0, max: 0 });
    // Everything else is the same.
    const zero = (a: Analysis) => a.jobs.map((j) => ({ ...j, queue_depth: { now: 0, max: 0 } }));
    expect(zero(without)).toEqual(zero(analysis).filter((j) => j.runs > 0 || without.jobs.some((w) => w.job === j.job)));
  });
});

describe('report site: debug view (job pages)', () => {
  it('shows each job\'s figures exactly as the analyzer\'s JSON has them', () => {
    for (const j of analysis.jobs) {
      const tiles = dataCells(jobPage(site, j.job)).filter((c) => c.tag.startsWith('<div'));
      expect(tiles.length).toBe(13);
      for (const t of tiles) expect(num(t.value), `${j.job} ${t.field}`).toBe(at(j, t.field));
    }
  });

  it('shows the failure-mode breakdown with the analyzer\'s counts', () => {
    for (const j of analysis.jobs) {
      const html = jobPage(site, j.job);
      const modes = Object.fromEntries([...html.matchAll(/<tr data-mode="([^"]*)">[\s\S]*?data-value="([^"]*)"/g)].map((m) => [decode(m[1] as string), Number(m[2])]));
      expect(modes, j.job).toEqual(j.failure_modes);
    }
  });

  it('draws success rate and latency over time, a latency histogram, retries and failure modes', () => {
    const html = jobPage(site, 'payments-sync');
    const titles = [...html.matchAll(/<title id="c\d+-t">([^<]*)<\/title>/g)].map((m) => decode(m[1] as string));
    expect(titles).toEqual([
      'Success rate of payments-sync per 1h',
      'Run latency of payments-sync per 1h: p50, p95, p99',
      'Run latency histogram of payments-sync',
      'Attempts per run of payments-sync',
      'Failed runs by failure mode of payments-sync'.replace('Failed runs by failure mode', 'Failure modes'),
      'Error budget left: payments freshness',
      'Burn rate: payments freshness',
    ]);
    const j = analysis.jobs.find((x) => x.job === 'payments-sync') as JobSlis;
    const bars = [...html.matchAll(/<rect class="bar"[^>]*><title>[^<]*: (\d+)<\/title>/g)].reduce((s, m) => s + Number(m[1]), 0);
    expect(bars).toBe(j.runs);
    const attempts = [...html.matchAll(/<title>(\d) attempts? \([^)]*\): (\d+) runs<\/title>/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(attempts.reduce((s, [k, n]) => s + ((k as number) - 1) * (n as number), 0) / j.runs).toBeCloseTo(j.retries_per_run, 6);
  });

  it('draws each alert tier\'s threshold on the burn-rate chart of the SLOs covering the job', () => {
    const html = jobPage(site, 'broken-export');
    expect(html).toContain('>page ≥ 14.4× (1h + 5 min)</text>');
    expect(html).toContain('>ticket ≥ 6.00× (6h + 30 min)</text>');
    expect(html).toContain('>budget spent</text>');
    expect(jobPage(plain, 'broken-export')).not.toContain('SLOs covering this job');
  });

  it('lists the slowest and the failed runs with their trace ids', async () => {
    const html = jobPage(site, 'payments-sync');
    const slowest = (await store.listRuns({ jobs: 'payments-sync', ...RANGE, order: 'slowest', limit: 10 })).map((r) => r.traceId);
    const failed = (await store.listRuns({ jobs: 'payments-sync', ...RANGE, filter: 'failed', limit: 20 })).map((r) => r.traceId);
    const section = (id: string): string[] => [...(new RegExp(`<section aria-labelledby="${id}">[\\s\\S]*?</section>`).exec(html)?.[0] ?? '').matchAll(/data-trace-id="([0-9a-f]+)"/g)].map((m) => m[1] as string);
    expect(section('slow-h')).toEqual(slowest);
    expect(section('failed-runs-h')).toEqual(failed);
  });
});

describe('report site: SLO pages', () => {
  it('shows the SLI and budget left as given, the tiers, the alerts and the jobs covered', () => {
    for (const s of slos) {
      const html = [...site.entries()].find(([p, h]) => p.startsWith('slos/') && h.includes(`<h1>${s.name}</h1>`))?.[1] ?? '';
      const tiles = new Map(dataCells(html).filter((c) => c.tag.startsWith('<div')).map((c) => [c.field, num(c.value)]));
      expect(tiles.get('sli_value')).toBe(s.sliValue);
      expect(tiles.get('error_budget_remaining')).toBe(s.errorBudgetRemaining);
      expect(html.match(/<tr data-alert=/g) ?? []).toHaveLength(s.alerts.length);
      expect(html).toContain('Burn rate and alert thresholds');
    }
  });

  it('ends the burn-down where the budget left over the SLO window is', () => {
    const s = withSlos.slos?.find((x) => x.input.name === 'payments freshness');
    const last = s?.budgetSeries[s.budgetSeries.length - 1];
    expect(last?.remaining).toBeCloseTo(s?.input.errorBudgetRemaining as number, 9);
  });

  it('computes burn rates per window that match the store\'s window counts at the end', async () => {
    const s = withSlos.slos?.find((x) => x.input.name === 'export availability');
    for (const b of s?.burnSeries ?? []) {
      const last = b.points[b.points.length - 1];
      const [c] = await store.windowCounts({ jobs: 'broken-export', criterion: { kind: 'success' }, endMillis: last?.atMillis as number, windowsMillis: [b.windowMillis] });
      const want = c && c.total > 0 ? (1 - c.good / c.total) / 0.01 : null;
      expect(last?.rate, `${b.windowMillis}`).toBeCloseTo(want as number, 6);
    }
    expect(s?.burnSeries.map((b) => b.windowMillis)).toEqual([HOUR, 6 * HOUR]);
  });

  it('rejects SLO input it cannot draw, naming the field', async () => {
    const good = slos[0] as ReportSloInput;
    await expect(collectReportData(store, { range: RANGE, version: 'x', slos: [{ ...good, objective: 1 }] })).rejects.toThrow(new ConfigError('slos[0].objective', '1 is not a fraction between 0 and 1 (e.g. 0.99)'));
    await expect(collectReportData(store, { range: RANGE, version: 'x', slos: [good, good] })).rejects.toBeInstanceOf(ConfigError);
    await expect(collectReportData(store, { range: { fromMillis: 5, toMillis: 5 }, version: 'x' })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('report site: empty store and compatibility', () => {
  it('renders a page that says how to send data, not an error, when the store is empty', async () => {
    const empty = await memoryStore();
    try {
      const data = await collectReportData(empty, { range: RANGE, version: '9.9.9', generatedAt: GENERATED });
      const out = renderReportSite(data);
      expect([...out.keys()]).toEqual(['index.html', 'oncall.html']);
      for (const html of out.values()) {
        const text = pageText(html);
        expect(text).toContain('No job runs in this window yet');
        expect(text).toContain('jobslo collector --store duckdb:.jobslo/jobslo.duckdb');
        expect(text).toContain('jobslo run --job my-job -- ./my-script.sh');
        expect(text).toContain('Latest run ended no runs in this window');
        expect(tagBalanceProblem(html)).toBeNull();
      }
    } finally {
      await empty.close();
    }
  });

  it('says to widen the window when the store has runs only before it', async () => {
    const data = await collectReportData(store, { range: { fromMillis: T_END + DAY, toMillis: T_END + 2 * DAY }, version: '9.9.9' });
    expect(pageText(renderReportSite(data).get('index.html') as string)).toContain('The store has runs of 4 job(s) from the year before this window. Try a longer window');
  });

  it('says so too when it reads a DuckDB file through the collector that holds it', async () => {
    const held = await memoryStore();
    await fillFixture(held);
    // Closing the collector closes its sink, and so the store.
    const collector = await startCollector({ sink: new StoreSink(held), port: 0, readStore: held });
    try {
      const remote = new RemoteStore(collector.url, 'duckdb::memory:');
      const data = await collectReportData(remote, { range: { fromMillis: T_END + DAY, toMillis: T_END + 2 * DAY }, version: '9.9.9' });
      expect(data.jobsBeforeWindow).toBe(4);
    } finally {
      await collector.close();
    }
  });

  it('writes the site to a folder and returns the path of index.html', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobslo-report-'));
    try {
      const path = await writeReportSite(dir, withSlos);
      expect(path).toBe(join(dir, 'index.html'));
      expect(readFileSync(path, 'utf8')).toBe(site.get('index.html'));
      expect(readdirSync(join(dir, 'jobs'))).toHaveLength(analysis.jobs.length);
      expect(readdirSync(join(dir, 'slos'))).toHaveLength(slos.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('still renders index.html from an analysis alone (renderIndex)', () => {
    const html = renderIndex({ analysis, storeLocation: ':memory:', version: '9.9.9', generatedAt: GENERATED });
    const all = /<section aria-labelledby="jobs-h">[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    const cells = dataCells(all).filter((c) => c.context !== null && c.field === 'success_rate');
    expect(cells.map((c) => num(c.value))).toEqual(analysis.jobs.map((j) => j.success_rate));
  });
});
