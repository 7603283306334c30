/**
 * Loads every page of three report sites (the fixture with SLOs, the hostile
 * one and an empty store) in headless Chromium from file://, and checks that
 * nothing but the file itself is requested, nothing is logged as an error
 * (a CSP violation would be), no script runs, no dialog opens, and the
 * stylesheet applies. Saves a screenshot of each view to test-artifacts/.
 *
 * Needs Debian's chromium (scripts/install-browser.sh). Without it the suite
 * is skipped, unless JOBSLO_REQUIRE_SERVICES=1, where it fails.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectReportData, writeReportSite } from '../../reports/index.js';
import type { ReportData } from '../../reports/index.js';
import type { DuckDbStore } from '../../store/duckdb.js';
import { FRESHNESS, RANGE, T_END, fillFixture, fixtureSlos, memoryStore } from './_fixture.js';
import { EVIL_JOB, fillHostile, hostileData } from './_hostile.js';

const CHROMIUM = process.env['JOBSLO_CHROMIUM'] ?? '/usr/bin/chromium';
const REQUIRED = process.env['JOBSLO_REQUIRE_SERVICES'] === '1';
const available = existsSync(CHROMIUM);
const ARTIFACTS = resolve('test-artifacts');
const SHOTS = join(ARTIFACTS, 'report-screenshots');

if (!available && !REQUIRED) {
  console.warn(`report browser tests skipped: ${CHROMIUM} not found (run scripts/install-browser.sh, or set JOBSLO_CHROMIUM)`);
}

describe.runIf(!available && REQUIRED)('report pages in Chromium (required)', () => {
  it('needs Chromium because JOBSLO_REQUIRE_SERVICES=1', () => {
    throw new Error(`JOBSLO_REQUIRE_SERVICES=1 but ${CHROMIUM} does not exist: run scripts/install-browser.sh`);
  });
});

/** What a loaded page says about itself (evaluated in the page; a string because tsconfig has no DOM types). */
const FACTS = `({
  title: document.title,
  h1: document.querySelector('h1')?.textContent ?? '',
  bodyMaxWidth: getComputedStyle(document.body).maxWidth,
  scripts: document.scripts.length,
  chartWidths: [...document.querySelectorAll('svg.chart')].map((e) => e.getBoundingClientRect().width),
})`;

interface Facts {
  title: string;
  h1: string;
  bodyMaxWidth: string;
  scripts: number;
  chartWidths: number[];
}

interface Loaded {
  requests: string[];
  blocked: string[];
  errors: string[];
  dialogs: string[];
}

describe.runIf(available)('report pages in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  const sites: Record<'full' | 'hostile' | 'empty', { dir: string; pages: string[] }> = {
    full: { dir: join(ARTIFACTS, 'report-site'), pages: [] },
    hostile: { dir: join(ARTIFACTS, 'report-site-hostile'), pages: [] },
    empty: { dir: join(ARTIFACTS, 'report-site-empty'), pages: [] },
  };

  beforeAll(async () => {
    for (const s of Object.values(sites)) rmSync(s.dir, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    const list = (dir: string): string[] => ['index.html', 'oncall.html', ...['jobs', 'slos'].flatMap((sub) => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).map((f) => `${sub}/${f}`) : []))];
    const write = async (key: keyof typeof sites, fill: (store: DuckDbStore) => Promise<ReportData>): Promise<void> => {
      const store = await memoryStore();
      try {
        await writeReportSite(sites[key].dir, await fill(store));
        sites[key].pages = list(sites[key].dir);
      } finally {
        await store.close();
      }
    };
    await write('full', async (store) => {
      await fillFixture(store);
      return collectReportData(store, { range: RANGE, version: 'test', generatedAt: new Date(T_END + 60_000), slos: await fixtureSlos(store), freshness: FRESHNESS });
    });
    await write('hostile', async (store) => {
      await fillHostile(store);
      return hostileData(store);
    });
    await write('empty', (store) => collectReportData(store, { range: RANGE, version: 'test', generatedAt: new Date(T_END) }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  /** Opens one page; records every request, blocks all but the page's own file, collects errors and dialogs. */
  async function load(file: string, shot?: { name: string; colorScheme?: 'light' | 'dark'; media?: 'screen' | 'print' }): Promise<Loaded & Facts> {
    const url = pathToFileURL(file).href;
    const page = await context.newPage();
    const out: Loaded = { requests: [], blocked: [], errors: [], dialogs: [] };
    page.on('request', (r) => out.requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') out.errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => out.errors.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      out.dialogs.push(d.message());
      void d.dismiss();
    });
    await page.route('**/*', async (route) => {
      if (route.request().url() === url) await route.continue();
      else {
        out.blocked.push(route.request().url());
        await route.abort();
      }
    });
    try {
      if (shot) await page.emulateMedia({ colorScheme: shot.colorScheme ?? 'light', media: shot.media ?? 'screen' });
      await page.goto(url, { waitUntil: 'load' });
      const facts = (await page.evaluate(FACTS)) as Facts;
      if (shot) await page.screenshot({ path: join(SHOTS, `${shot.name}.png`), fullPage: true });
      return { ...out, ...facts };
    } finally {
      await page.close();
    }
  }

  const expectClean = (path: string, r: Loaded & { bodyMaxWidth: string; scripts: number }, file: string, media: 'screen' | 'print' = 'screen'): void => {
    expect(r.requests, path).toEqual([pathToFileURL(file).href]);
    expect(r.blocked, path).toEqual([]);
    expect(r.errors, path).toEqual([]);
    expect(r.dialogs, path).toEqual([]);
    expect(r.scripts, path).toBe(0);
    // The stylesheet applied (so the CSP's hash matches it), print rules included.
    expect(r.bodyMaxWidth, path).toBe(media === 'print' ? 'none' : '1180px');
  };

  it('loads every page of the full site with no request but the file and no console errors', async () => {
    expect(sites.full.pages.length).toBeGreaterThan(5);
    for (const path of sites.full.pages) {
      const file = join(sites.full.dir, path);
      const r = await load(file);
      expectClean(path, r, file);
      for (const w of r.chartWidths) expect(w, path).toBeGreaterThan(300);
    }
  }, 120_000);

  it('runs nothing from hostile names and messages, and shows them as text', async () => {
    for (const path of sites.hostile.pages) {
      const file = join(sites.hostile.dir, path);
      const r = await load(file);
      expectClean(path, r, file);
      if (r.h1 === EVIL_JOB) expect(r.title).toBe(`${EVIL_JOB} · job · jobslo`);
    }
    const titles = await Promise.all(sites.hostile.pages.map(async (p) => (await load(join(sites.hostile.dir, p))).h1));
    expect(titles).toContain(EVIL_JOB);
    expect(titles).toContain('<svg onload=alert(3)>');
  }, 120_000);

  it('loads the empty-store pages cleanly', async () => {
    expect(sites.empty.pages).toEqual(['index.html', 'oncall.html']);
    for (const path of sites.empty.pages) {
      const file = join(sites.empty.dir, path);
      expectClean(path, await load(file), file);
    }
  }, 60_000);

  it('saves a screenshot of each view, in light, dark and print', async () => {
    const job = (name: string): string => sites.full.pages.find((p) => p.startsWith(`jobs/${name}-`)) as string;
    const slo = (name: string): string => sites.full.pages.find((p) => p.startsWith(`slos/${name}-`)) as string;
    const shots: [keyof typeof sites, string, string, 'light' | 'dark', 'screen' | 'print'][] = [
      ['full', 'index.html', 'executive', 'light', 'screen'],
      ['full', 'index.html', 'executive-dark', 'dark', 'screen'],
      ['full', 'index.html', 'executive-print', 'light', 'print'],
      ['full', 'oncall.html', 'oncall', 'light', 'screen'],
      ['full', job('payments-sync'), 'job-payments-sync', 'light', 'screen'],
      ['full', job('payments-sync'), 'job-payments-sync-dark', 'dark', 'screen'],
      ['full', job('broken-export'), 'job-broken-export', 'light', 'screen'],
      ['full', slo('export-availability'), 'slo-export-availability', 'light', 'screen'],
      ['full', slo('export-availability'), 'slo-export-availability-print', 'light', 'print'],
      ['hostile', sites.hostile.pages.find((p) => p.startsWith('jobs/script-')) as string, 'hostile-job', 'light', 'screen'],
      ['empty', 'index.html', 'empty-store', 'light', 'screen'],
    ];
    for (const [site, path, name, colorScheme, media] of shots) {
      expect(path, name).toBeDefined();
      const file = join(sites[site].dir, path);
      expectClean(path, await load(file, { name, colorScheme, media }), file, media);
      expect(existsSync(join(SHOTS, `${name}.png`)), name).toBe(true);
    }
  }, 120_000);
});
