/** The check list page and the on-call page's check section; `schedules:` monitors. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../analyzer/slo/index.js';
import { noopLogger } from '../../contracts/index.js';
import { withScheduleMonitors } from '../../cli/_monitors.js';
import { collectReportData, renderReportSite } from '../../reports/index.js';
import type { ReportCheckInput } from '../../reports/index.js';
import { HOUR, MINUTE, memoryStore, run, tempDir } from '../slo/helpers.js';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const NOW = Date.UTC(2026, 2, 10, 12);
const check = (name: string, status: ReportCheckInput['status'], sinceMillis: number, extra: Partial<ReportCheckInput> = {}): ReportCheckInput => ({
  name,
  job: name,
  status,
  sinceMillis,
  lastRun: { outcome: 'succeeded', endMillis: NOW - 10 * HOUR },
  lastSuccessMillis: NOW - 10 * HOUR,
  nextExpectedMillis: NOW + HOUR,
  schedule: '0 2 * * * (UTC)',
  graceMillis: 30 * MINUTE,
  missedInARow: 0,
  ...extra,
});

describe('checks in the report', () => {
  it('lists every check on checks.html, down first, and leads the on-call page with down, running-too-long and late jobs', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    await store.insertSpans(run('billing', NOW - 2 * HOUR, true));
    const checks = [
      check('ok-job', 'up', NOW - 5 * HOUR),
      check('late-job', 'late', NOW - 10 * MINUTE, { lateDeadlineMillis: NOW + 20 * MINUTE }),
      check('<b>down-job</b>', 'down', NOW - 3 * HOUR, { missedInARow: 2 }),
      check('new-job', 'new', NOW - HOUR, { lastRun: null, lastSuccessMillis: null, warning: 'job "new-job" matches no job that ran' }),
      check('long-job', 'running_too_long', NOW - 20 * MINUTE, { overdueStartsMillis: [NOW - 3 * HOUR], maxRuntimeMillis: 2 * HOUR }),
      check('billing', 'down', NOW - 6 * HOUR, { missedInARow: 1 }),
    ];
    const data = await collectReportData(store, { range: { fromMillis: NOW - 24 * HOUR, toMillis: NOW }, version: 't', generatedAt: new Date(NOW), checks });
    const site = renderReportSite(data);
    const list = site.get('checks.html') ?? '';
    const order = (html: string): string[] => [...html.matchAll(/<tr data-check="([^"]+)" data-status="([a-z_]+)"/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(order(list)).toEqual(['billing:down', '&lt;b&gt;down-job&lt;/b&gt;:down', 'long-job:running_too_long', 'late-job:late', 'ok-job:up', 'new-job:new']);
    expect(list).toContain('2 scheduled ticks missed since the last success; down until a run succeeds');
    expect(list).toContain('job &quot;new-job&quot; matches no job that ran');
    expect(list).not.toContain('<b>down-job</b>');
    const oncall = site.get('oncall.html') ?? '';
    expect(order(oncall)).toEqual(['billing:down', '&lt;b&gt;down-job&lt;/b&gt;:down', 'long-job:running_too_long', 'late-job:late']);
    expect(oncall.indexOf('Jobs down, running too long or late')).toBeLessThan(oncall.indexOf('Latest failures'));
    expect(oncall).toContain('2 of 6 checks are fine');
    expect(oncall).toContain('href="jobs/billing-');
    expect(site.get('index.html')).toContain('href="checks.html"');
  });

  it('has no check list without checks', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const site = renderReportSite(await collectReportData(store, { range: { fromMillis: NOW - HOUR, toMillis: NOW }, version: 't' }));
    expect(site.has('checks.html')).toBe(false);
    expect(site.get('oncall.html')).not.toContain('Jobs down');
  });
});

describe('schedules: in jobslo.yaml', () => {
  it('gives every job of the schedule file a monitor, keeping declared monitors', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    writeFileSync(
      join(t.dir, 'schedule.yaml'),
      'timezone: Europe/Berlin\njobs:\n  - {name: billing, cron: "0 2 * * *", command: ./billing.sh, deadline: 2h}\n  - {name: sync, cron: "*/15 * * * *", command: ./sync.sh, timeout: 5m}\n  - {name: retried, cron: "0 * * * *", command: x, timeout: 5m, retries: 2}\n  - {name: own, cron: "0 3 * * *", command: x}\n',
    );
    const config = parseConfig('schedules: [schedule.yaml]\nmonitors:\n  - {job: own, cron: "0 3 * * *", grace: 2h}\n', { fileName: join(t.dir, 'jobslo.yaml') });
    const withSchedules = await withScheduleMonitors(config, { cwd: '/', logger: noopLogger });
    expect(withSchedules.monitors.map((m) => [m.name, m.source, m.schedule, m.graceMillis, m.maxRuntimeMillis])).toEqual([
      ['own', 'monitor', { kind: 'cron', cron: '0 3 * * *', timezone: 'UTC' }, 2 * HOUR, undefined],
      ['billing', 'schedule', { kind: 'cron', cron: '0 2 * * *', timezone: 'Europe/Berlin' }, 30 * MINUTE, 2 * HOUR],
      ['sync', 'schedule', { kind: 'cron', cron: '*/15 * * * *', timezone: 'Europe/Berlin' }, 30 * MINUTE, 5 * MINUTE],
      ['retried', 'schedule', { kind: 'cron', cron: '0 * * * *', timezone: 'Europe/Berlin' }, 30 * MINUTE, undefined],
    ]);
  });

  it('names the schedules entry when the file cannot be read, and the field when it is invalid', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const missing = parseConfig('schedules: [nope.yaml]\n', { fileName: join(t.dir, 'jobslo.yaml') });
    await expect(withScheduleMonitors(missing, { cwd: '/', logger: noopLogger })).rejects.toThrow(/^schedules\[0\]: cannot read schedule file .*nope\.yaml/);
    writeFileSync(join(t.dir, 'bad.yaml'), 'jobs:\n  - {name: a, cron: "0 0 31 2 *", command: x}\n');
    const bad = parseConfig('schedules: [bad.yaml]\n', { fileName: join(t.dir, 'jobslo.yaml') });
    await expect(withScheduleMonitors(bad, { cwd: '/', logger: noopLogger })).rejects.toThrow('jobs[0].cron: "0 0 31 2 *" never fires (no date matches it, e.g. February 31st) (bad.yaml:2:21)');
  });
});
