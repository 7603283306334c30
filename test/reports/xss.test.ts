import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReportSite } from '../../reports/index.js';
import type { DuckDbStore } from '../../store/duckdb.js';
import { attrs, decode, tagBalanceProblem } from './_html.js';
import { memoryStore } from './_fixture.js';
import { EVIL_ERROR, EVIL_JOB, EVIL_MESSAGE, EVIL_SLO, GLOB_JOB, fillHostile, hostileData } from './_hostile.js';

let store: DuckDbStore;
let site: Map<string, string>;

beforeAll(async () => {
  store = await memoryStore();
  await fillHostile(store);
  site = renderReportSite(await hostileData(store));
});
afterAll(async () => {
  await store.close();
});

const ESCAPED_JOB = '&lt;script&gt;alert(1)&lt;/script&gt;';
const evilPage = (): [string, string] => {
  const hit = [...site.entries()].find(([p, h]) => p.startsWith('jobs/') && attrs(/<main\b[^>]*>/.exec(h)?.[0] ?? '')['data-job'] === EVIL_JOB);
  if (!hit) throw new Error('no page for the hostile job');
  return hit;
};

describe('report site: untrusted text', () => {
  it('emits no markup from job names, error types, messages, SLO texts or attributes on any page', () => {
    expect(site.size).toBe(2 + 3 + 1);
    for (const [path, html] of site) {
      const lower = html.toLowerCase();
      expect(lower, path).not.toContain('<script');
      expect(lower, path).not.toContain('<img');
      expect(lower, path).not.toContain('<b>');
      expect(lower, path).not.toContain('<i>');
      expect(lower, path).not.toMatch(/<svg[^>]*onload/);
      expect(lower, path).not.toMatch(/\son[a-z]+=/);
      expect(html.match(/<style>/g), path).toHaveLength(1);
      expect(tagBalanceProblem(html), path).toBeNull();
    }
  });

  it('shows a job named <script>alert(1)</script> as that text in the page title, heading, tables, charts and links', () => {
    const [path, html] = evilPage();
    expect(path).toMatch(/^jobs\/script-alert-1-script-[0-9a-f]{10}\.html$/);
    expect(html).toContain(`<title>${ESCAPED_JOB} · job · jobslo</title>`);
    expect(html).toContain(`<h1>${ESCAPED_JOB}</h1>`);
    expect(html).toContain(`<main id="main" data-job="${ESCAPED_JOB}">`);
    const chartTitles = [...html.matchAll(/<title id="c\d+-t">([^<]*)<\/title>/g)].map((m) => m[1] as string);
    expect(chartTitles.length).toBeGreaterThanOrEqual(5);
    for (const t of chartTitles.slice(0, 5)) expect(t).toContain(ESCAPED_JOB);
    const index = site.get('index.html') as string;
    expect(index).toContain(`<a href="${path}">${ESCAPED_JOB}</a>`);
    expect(decode(index)).toContain(EVIL_JOB);
  });

  it('escapes error types and messages in run tables and failure modes, keeping their text', () => {
    const oncall = site.get('oncall.html') as string;
    expect(oncall).toContain('&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(oncall).toContain('&lt;/q&gt;&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;&lt;style&gt;body{display:none}&lt;/style&gt;&#x27; &quot; &#x60; &#x3D; &amp;amp;');
    const q = [...oncall.matchAll(/<q title="([^"]*)">([^<]*)<\/q>/g)].find((m) => (m[2] as string).includes('alert(2)'));
    expect(decode(q?.[2] ?? '')).toBe(EVIL_MESSAGE);
    expect(decode(q?.[1] ?? '')).toBe(EVIL_MESSAGE);
    const [, html] = evilPage();
    expect(decode(/<tr data-mode="([^"]*)">/.exec(html)?.[1] ?? '')).toBe(EVIL_ERROR);
    expect(html).toContain('<title>&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;: 6 (100%)</title>');
  });

  it('escapes SLO names, tier names, summaries, descriptions, freshness details, the version and the store location', () => {
    const all = [...site.values()].join('\n');
    expect(all).toContain('&lt;svg onload&#x3D;alert(3)&gt;');
    expect(all).toContain('&lt;b&gt;page&lt;/b&gt;');
    expect(all).toContain('jobslo &lt;i&gt;v&lt;/i&gt;');
    expect(all).toContain('duckdb:&lt;b&gt;evil&lt;/b&gt;.duckdb');
    const slo = [...site.entries()].find(([p]) => p.startsWith('slos/'));
    expect(slo?.[0]).toMatch(/^slos\/svg-onload-alert-3-[0-9a-f]{10}\.html$/);
    expect(slo?.[1]).toContain(`<title>&lt;svg onload&#x3D;alert(3)&gt; · SLO · jobslo</title>`);
    expect(decode(slo?.[1] ?? '')).toContain(EVIL_SLO);
  });

  it('keeps a job whose name has glob characters to its own runs with the batch queries', () => {
    const hit = [...site.values()].find((h) => h.includes(`<h1>${GLOB_JOB}</h1>`)) ?? '';
    expect(hit).not.toContain('exit code 9');
    expect(hit).toContain('No run of this job failed in this window.');
    expect(hit).toMatch(/<title id="c1-t">Success rate of etl-\* per 2h<\/title><desc id="c1-d">Success rate: 12 points, lowest 100.0%/);
  });
});
