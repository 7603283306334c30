import { describe, expect, it } from 'vitest';
import { assignSlugs, reportSlug } from '../../reports/index.js';

const SAFE = /^[a-z0-9]+(-[a-z0-9]+)*-[0-9a-f]{10,}$/;

describe('reportSlug', () => {
  it.each([
    ['nightly-etl', /^nightly-etl-[0-9a-f]{10}$/],
    ['Nightly ETL (EU)', /^nightly-etl-eu-[0-9a-f]{10}$/],
    ['<script>alert(1)</script>', /^script-alert-1-script-[0-9a-f]{10}$/],
    ['../../etc/passwd', /^etc-passwd-[0-9a-f]{10}$/],
    ['.hidden', /^hidden-[0-9a-f]{10}$/],
    ['CON', /^con-[0-9a-f]{10}$/],
    ['', /^x-[0-9a-f]{10}$/],
    ['日本語ジョブ', /^x-[0-9a-f]{10}$/],
    ['café-résumé', /^cafe-resume-[0-9a-f]{10}$/],
    ['a'.repeat(500), /^a{48}-[0-9a-f]{10}$/],
    ['job\u0000with\nnul', /^job-with-nul-[0-9a-f]{10}$/],
  ])('makes a file-name-safe slug of %j', (name, want) => {
    const slug = reportSlug(name);
    expect(slug).toMatch(want);
    expect(slug).toMatch(SAFE);
    expect(slug.length).toBeLessThanOrEqual(48 + 11);
  });

  it('is stable: the same name always gets the same slug', () => {
    expect(reportSlug('etl/eu')).toBe(reportSlug('etl/eu'));
  });

  it('gives names that sanitize alike different slugs', () => {
    const names = ['a/b', 'a b', 'A-B', 'a--b', 'a_b', 'a.b', 'a\\b'];
    expect(new Set(names.map((n) => reportSlug(n))).size).toBe(names.length);
  });
});

describe('assignSlugs', () => {
  it('maps every distinct name to a unique slug', () => {
    const names = Array.from({ length: 2_000 }, (_, i) => (i % 2 === 0 ? `job ${i}` : `JOB-${i - 1}`));
    const slugs = assignSlugs(names);
    expect(slugs.size).toBe(names.length);
    expect(new Set(slugs.values()).size).toBe(names.length);
    for (const s of slugs.values()) expect(s).toMatch(SAFE);
  });

  it('keeps one slug per name when names repeat', () => {
    const slugs = assignSlugs(['x', 'x', 'y']);
    expect([...slugs.keys()]).toEqual(['x', 'y']);
  });
});
