import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { Analysis } from '../analyzer/index.js';
import { checksView, freshness, indexView, jobView, oncallView, sloView } from './_views.js';
import type { SitePaths } from './_views.js';
import type { ReportData } from './model.js';
import { assignSlugs, reportSlug } from './slug.js';

/** Finds `reports/templates` both from source (vitest) and from `dist/reports` (the CLI). */
function templatesDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const candidate of [join(here, 'templates'), join(here, '..', '..', 'reports', 'templates')]) {
    if (existsSync(join(candidate, 'layout.hbs'))) return candidate;
  }
  throw new Error(`report templates not found next to ${here}`);
}

type Page = 'index' | 'oncall' | 'checks' | 'job' | 'slo';

interface Compiled {
  layout: Handlebars.TemplateDelegate;
  pages: Record<Page, Handlebars.TemplateDelegate>;
  css: string;
  csp: string;
}

let compiled: Compiled | undefined;

function templates(): Compiled {
  if (compiled) return compiled;
  const dir = templatesDir();
  const hb = Handlebars.create();
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  for (const f of readdirSync(join(dir, 'partials'))) {
    if (f.endsWith('.hbs')) hb.registerPartial(f.slice(0, -4), read(join('partials', f)));
  }
  // strict: a misspelt field is an error at render time, not an empty cell.
  const compile = (name: string): Handlebars.TemplateDelegate => hb.compile(read(name), { strict: true });
  const css = read('style.css');
  if (/<\/style/i.test(css)) throw new Error('style.css must not contain "</style"');
  // Only this exact stylesheet may apply: no inline style attributes, no injected <style>, no scripts at all.
  const hash = createHash('sha256').update(css, 'utf8').digest('base64');
  compiled = {
    layout: compile('layout.hbs'),
    pages: { index: compile('index.hbs'), oncall: compile('oncall.hbs'), checks: compile('checks.hbs'), job: compile('job.hbs'), slo: compile('slo.hbs') },
    css,
    csp: `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'`,
  };
  return compiled;
}

interface LayoutArgs {
  title: string;
  heading: string;
  crumb: string;
  root: '' | '../';
  active: 'index' | 'oncall' | 'checks' | '';
  job: string;
  body: string;
}

function page(d: ReportData, a: LayoutArgs): string {
  const t = templates();
  return t.layout({
    ...a,
    css: t.css,
    csp: t.csp,
    nav: [
      { href: `${a.root}index.html`, label: 'Overview', current: a.active === 'index' },
      { href: `${a.root}oncall.html`, label: 'On-call', current: a.active === 'oncall' },
      ...(d.checks === null ? [] : [{ href: `${a.root}checks.html`, label: 'Checks', current: a.active === 'checks' }]),
    ],
    fresh: freshness(d),
    version: d.version,
    storeLocation: d.storeLocation,
  });
}

/**
 * Renders the whole report site from collected data: path (relative, `/`
 * separated) -> HTML. `index.html` (executive view), `oncall.html`,
 * `checks.html` (when checks were given: the job check list), one
 * `jobs/<slug>.html` per job in the window and one `slos/<slug>.html` per
 * SLO given. Every page is self-contained (inline CSS and SVG, no scripts,
 * a CSP that allows nothing but its own stylesheet). Pure: no I/O besides
 * reading the templates once.
 * @throws {Error} when the templates are missing or do not match the view models
 */
export function renderReportSite(data: ReportData): Map<string, string> {
  const t = templates();
  const jobSlugs = assignSlugs(data.analysis.jobs.map((j) => j.job));
  const sloSlugs = assignSlugs((data.slos ?? []).map((s) => s.input.name));
  const paths: SitePaths = {
    job: (name) => `jobs/${jobSlugs.get(name) ?? reportSlug(name)}.html`,
    slo: (name) => `slos/${sloSlugs.get(name) ?? reportSlug(name)}.html`,
  };
  const site = new Map<string, string>();
  const index = indexView(data, paths);
  site.set(
    'index.html',
    page(data, { title: 'Job SLO report', heading: 'Job SLO report', crumb: '', root: '', active: 'index', job: '', body: t.pages.index({ ...index, jobsBeforeWindow: data.jobsBeforeWindow }) }),
  );
  site.set(
    'oncall.html',
    page(data, { title: 'On-call', heading: 'On-call', crumb: '', root: '', active: 'oncall', job: '', body: t.pages.oncall({ ...oncallView(data, paths), jobsBeforeWindow: data.jobsBeforeWindow }) }),
  );
  if (data.checks !== null) {
    site.set('checks.html', page(data, { title: 'Checks', heading: 'Checks', crumb: '', root: '', active: 'checks', job: '', body: t.pages.checks(checksView(data, paths)) }));
  }
  const details = new Map(data.details.map((x) => [x.job, x]));
  for (const j of data.analysis.jobs) {
    const view = jobView(data, j, details.get(j.job), paths);
    site.set(paths.job(j.job), page(data, { title: `${j.job} · job`, heading: j.job, crumb: 'Job', root: '../', active: '', job: j.job, body: t.pages.job(view) }));
  }
  for (const s of data.slos ?? []) {
    const view = sloView(s, data, paths);
    site.set(paths.slo(s.input.name), page(data, { title: `${s.input.name} · SLO`, heading: s.input.name, crumb: 'SLO', root: '../', active: '', job: '', body: t.pages.slo(view) }));
  }
  return site;
}

/**
 * Writes a rendered site into `outDir` (created if missing; existing files
 * with the same names are replaced, others are left alone). Resolves to the
 * path of `index.html`.
 */
export async function writeReportSite(outDir: string, data: ReportData): Promise<string> {
  const site = renderReportSite(data);
  for (const [path, html] of site) {
    const file = join(outDir, ...path.split('/'));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, html, 'utf8');
  }
  return join(outDir, 'index.html');
}

/** What a report page says about where its numbers came from (the index-only input of {@link renderIndex}). */
export interface ReportContext {
  analysis: Analysis;
  /** Store the numbers came from (no credentials). */
  storeLocation: string;
  /** When the report was made. @default new Date() */
  generatedAt?: Date;
  /** jobslo version shown in the page footer. */
  version: string;
}

/** Report data from an analysis alone: no previous period, no time series, no run lists. */
function fromAnalysis(ctx: ReportContext): ReportData {
  const from = Date.parse(ctx.analysis.from);
  const to = Date.parse(ctx.analysis.to);
  return {
    window: { fromMillis: from, toMillis: to },
    previousWindow: { fromMillis: from - (to - from), toMillis: from },
    generatedAtMillis: (ctx.generatedAt ?? new Date()).getTime(),
    version: ctx.version,
    storeLocation: ctx.storeLocation,
    analysis: ctx.analysis,
    previous: { from: new Date(from - (to - from)).toISOString(), to: ctx.analysis.from, jobs: [] },
    details: [],
    latestFailures: [],
    latestRunEndMillis: null,
    jobsBeforeWindow: 0,
    slos: null,
    freshness: null,
    checks: null,
  };
}

/**
 * Renders `index.html` from an analysis alone (no store access, so no
 * charts, run lists or previous-period changes).
 * @deprecated Use {@link collectReportData} and {@link renderReportSite}.
 */
export function renderIndex(ctx: ReportContext): string {
  return renderReportSite(fromAnalysis(ctx)).get('index.html') as string;
}

/**
 * Writes the site rendered from an analysis alone; resolves to the path of `index.html`.
 * @deprecated Use {@link collectReportData} and {@link writeReportSite}.
 */
export async function writeReport(outDir: string, ctx: ReportContext): Promise<string> {
  return writeReportSite(outDir, fromAnalysis(ctx));
}
