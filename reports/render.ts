import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { Analysis, JobSlis } from '../analyzer/index.js';

/** What a report page says about where its numbers came from. */
export interface ReportContext {
  analysis: Analysis;
  /** Store the numbers came from (no credentials). */
  storeLocation: string;
  /** When the report was made. @default new Date() */
  generatedAt?: Date;
  /** jobslo version shown in the page header. */
  version: string;
}

/** Finds `reports/templates` both from source (vitest) and from `dist/reports` (the CLI). */
function templatesDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const candidate of [join(here, 'templates'), join(here, '..', '..', 'reports', 'templates')]) {
    if (existsSync(join(candidate, 'layout.hbs'))) return candidate;
  }
  throw new Error(`report templates not found next to ${here}`);
}

interface Compiled {
  layout: Handlebars.TemplateDelegate;
  index: Handlebars.TemplateDelegate;
  css: string;
}

let compiled: Compiled | undefined;

function templates(): Compiled {
  if (compiled) return compiled;
  const dir = templatesDir();
  const hb = Handlebars.create();
  hb.registerHelper('percent', (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(2)}%` : '–'));
  hb.registerHelper('fixed', (v: unknown, digits: unknown) => (typeof v === 'number' ? v.toFixed(typeof digits === 'number' ? digits : 2) : '–'));
  hb.registerHelper('duration', (v: unknown) => {
    if (typeof v !== 'number') return '–';
    if (v >= 60_000) return `${(v / 60_000).toFixed(1)} min`;
    if (v >= 1_000) return `${(v / 1_000).toFixed(2)} s`;
    return `${v.toFixed(v < 10 ? 1 : 0)} ms`;
  });
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  // strict: a typo in a template is an error at render time, not an empty cell.
  compiled = {
    layout: hb.compile(read('layout.hbs'), { strict: true }),
    index: hb.compile(read('index.hbs'), { strict: false }),
    css: read('style.css'),
  };
  return compiled;
}

function health(job: JobSlis): string {
  if (job.success_rate === null) return 'none';
  if (job.success_rate < 0.9) return 'bad';
  if (job.success_rate < 0.99) return 'warn';
  return 'good';
}

/** Renders the self-contained `index.html` (inline CSS, no scripts, no external requests). Pure. */
export function renderIndex(ctx: ReportContext): string {
  const t = templates();
  const jobs = ctx.analysis.jobs.map((j) => ({ ...j, health: health(j) }));
  const body = t.index({ jobs });
  return t.layout({
    title: 'Job SLO report',
    css: t.css,
    body,
    window: { from: ctx.analysis.from, to: ctx.analysis.to },
    generatedAt: (ctx.generatedAt ?? new Date()).toISOString(),
    version: ctx.version,
    storeLocation: ctx.storeLocation,
  });
}

/** Writes the report site into `outDir`; resolves to the path of `index.html`. */
export async function writeReport(outDir: string, ctx: ReportContext): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const path = join(outDir, 'index.html');
  await writeFile(path, renderIndex(ctx), 'utf8');
  return path;
}
