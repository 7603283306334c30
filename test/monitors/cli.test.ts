/** Misconfiguration is loud: a typo'd job selector, a store path that does not exist, an empty webhook list. */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError, noopLogger } from '../../contracts/index.js';
import { dispatch } from '../../cli/main.js';
import type { CliContext } from '../../cli/command.js';
import { openExistingStore } from '../../cli/_store.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { HOUR, MINUTE, startReceiver, steadyRuns, tempDir } from '../slo/helpers.js';

const clickhouseUp = await requireService('ClickHouse', () => probeClickHouse(), 'read-only commands on a ClickHouse database that does not exist');

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function ctxFor(cwd: string): CliContext & { stdout: string; stderr: string } {
  const ctx = {
    stdout: '',
    stderr: '',
    out(t: string) {
      ctx.stdout += t;
    },
    err(t: string) {
      ctx.stderr += t;
    },
    logger: noopLogger,
    env: {},
    cwd,
    signal: new AbortController().signal,
  };
  return ctx;
}

async function seed(dir: string): Promise<string> {
  const path = join(dir, 'demo.duckdb');
  const store = await DuckDbStore.open({ path });
  await store.migrate();
  const now = Date.now();
  await store.insertSpans([...steadyRuns('flaky-sync', now - 2 * HOUR, now - 1000, 10 * MINUTE, 0.5), ...steadyRuns('nightly', now - 2 * HOUR, now - 1000, HOUR, 0)]);
  await store.close();
  return `duckdb:${path}`;
}

describe('a job selector that matches no job', () => {
  it('analyze names the SLO, the selector and the closest job, and exits 1', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = await seed(t.dir);
    writeFileSync(join(t.dir, 'jobslo.yaml'), `store: ${store}\nslos:\n  - {name: sync-ok, job: flaky-synk, objective: 0.99}\nmonitors:\n  - {job: nightly, period: 1h}\n`);
    const ctx = ctxFor(t.dir);
    expect(await dispatch(['analyze'], ctx)).toBe(1);
    expect(ctx.stderr).toBe(
      'jobslo analyze: warning: SLO "sync-ok": job "flaky-synk" matches no job that ran in the last 30d, so its SLI has no data; did you mean "flaky-sync"?\n',
    );
    const json = ctxFor(t.dir);
    expect(await dispatch(['analyze', '--format', 'json'], json)).toBe(1);
    expect((JSON.parse(json.stdout) as { unmatched: unknown }).unmatched).toEqual([{ kind: 'slo', name: 'sync-ok', job: 'flaky-synk', suggestions: ['flaky-sync'] }]);
  });

  it("analyze names a where: that no run of the job has, and the values its runs have", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = await seed(t.dir);
    writeFileSync(join(t.dir, 'jobslo.yaml'), `store: ${store}\nslos:\n  - {name: sync-prod, job: flaky-sync, where: {deployment.environment.name: production}, objective: 0.99}\n`);
    const ctx = ctxFor(t.dir);
    expect(await dispatch(['analyze'], ctx)).toBe(1);
    expect(ctx.stderr).toBe(
      'jobslo analyze: warning: SLO "sync-prod": no run of job "flaky-sync" in the last 30d has deployment.environment.name: "production" (values seen: (unset)), so its SLI has no data\n',
    );
    const json = ctxFor(t.dir);
    expect(await dispatch(['analyze', '--format', 'json'], json)).toBe(1);
    expect((JSON.parse(json.stdout) as { unmatched: unknown }).unmatched).toEqual([
      { kind: 'slo', name: 'sync-prod', job: 'flaky-sync', where: { 'deployment.environment.name': 'production' }, dimension: 'deployment.environment.name', values_seen: [''], suggestions: [] },
    ]);
  });

  it('alerts --once warns and exits 1 even when nothing fires', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = await seed(t.dir);
    writeFileSync(join(t.dir, 'jobslo.yaml'), `store: ${store}\nslos:\n  - {name: sync-ok, job: flaky-synk, objective: 0.5}\n  - {name: nightly-ok, job: nightly, objective: 0.5}\n`);
    const ctx = ctxFor(t.dir);
    expect(await dispatch(['alerts', '--once'], ctx)).toBe(1);
    expect(ctx.stdout).toContain('0 alert(s) firing, 0 monitor(s) down or running too long');
    expect(ctx.stderr).toContain('jobslo alerts: warning: SLO "sync-ok": job "flaky-synk" matches no job that ran in the last 30d');
    writeFileSync(join(t.dir, 'jobslo.yaml'), `store: ${store}\nslos:\n  - {name: nightly-ok, job: nightly, objective: 0.5}\n`);
    expect(await dispatch(['alerts', '--once'], ctxFor(t.dir))).toBe(0);
  });

  it('the report flags it on the SLO page', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = await seed(t.dir);
    writeFileSync(join(t.dir, 'jobslo.yaml'), `store: ${store}\nslos:\n  - {name: sync-ok, job: flaky-synk, objective: 0.99}\n`);
    const ctx = ctxFor(t.dir);
    expect(await dispatch(['report', '--out', join(t.dir, 'site')], ctx)).toBe(0);
    const page = readdirSync(join(t.dir, 'site', 'slos')).find((f) => f.startsWith('sync-ok-'));
    expect(readFileSync(join(t.dir, 'site', 'slos', page ?? 'missing'), 'utf8')).toContain('job &quot;flaky-synk&quot; matches no job that ran in the last 30d');
  });
});

describe('a store that does not exist', () => {
  it.each([
    ['a typo in the file name', (dir: string) => `duckdb:${join(dir, 'demo.duckbd')}`, /stores in .*: demo\.duckdb/],
    ['a folder that does not exist', () => 'duckdb:/nonexistent/dir/x.duckdb', /the folder \/nonexistent\/dir does not exist either/],
  ])('%s: analyze, report, alerts and serve exit 2 naming the path, and create nothing', async (_name, value, hint) => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    await seed(t.dir);
    const url = value(t.dir);
    writeFileSync(join(t.dir, 'jobslo.yaml'), 'slos:\n  - {name: s, job: nightly, objective: 0.9}\n');
    for (const args of [['analyze'], ['report', '--out', join(t.dir, 'site')], ['alerts', '--once'], ['serve', '--port', '0']]) {
      const ctx = ctxFor(t.dir);
      expect(await dispatch([...args, '--store', url], ctx), args[0]).toBe(2);
      const path = url.slice('duckdb:'.length);
      expect(ctx.stderr).toContain(`jobslo ${args[0]}: --store: no store at ${path}`);
      expect(ctx.stderr).toMatch(hint);
      expect(ctx.stderr).toContain('This command only reads');
      expect(existsSync(path)).toBe(false);
    }
    expect(existsSync('/nonexistent')).toBe(false);
  });
});

describe('alerts without webhooks', () => {
  it('says no webhook is configured and does not claim notifications were queued', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = await seed(t.dir);
    writeFileSync(join(t.dir, 'jobslo.yaml'), `store: ${store}\nslos:\n  - {name: sync, job: flaky-sync, objective: 0.99, alerting: {tiers: [{severity: page, long: 2h, short: 1h, factor: 2}]}}\n`);
    const ctx = ctxFor(t.dir);
    expect(await dispatch(['alerts', '--once'], ctx)).toBe(1);
    expect(ctx.stdout).toContain('1 alert(s) firing, 0 monitor(s) down or running too long; no webhook is configured (alerts.webhooks in');
    expect(ctx.stdout).toContain('so 1 notification(s) were not sent');
    expect(ctx.stdout).not.toContain('queued');
    expect(ctx.stderr).toContain('jobslo alerts: warning: no webhook is configured');
    const json = ctxFor(t.dir);
    await dispatch(['alerts', '--once', '--format', 'json', '--state-dir', join(t.dir, 'other-state')], json);
    expect(JSON.parse(json.stdout)).toMatchObject({ notifications: 1, queued: 0, webhooks: 0 });
  });

  it('with a webhook, a monitor going down is delivered and counted as queued', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const store = await seed(t.dir);
    writeFileSync(join(t.dir, 'jobslo.yaml'), `store: ${store}\nmonitors:\n  - {job: flaky-sync, period: 10m, grace: 1m}\nalerts:\n  webhooks:\n    - {name: ops, url: "${r.url}", format: json}\n`);
    const ctx = ctxFor(t.dir);
    expect(await dispatch(['alerts', '--once'], ctx)).toBe(1);
    expect(ctx.stdout).toMatch(/flaky-sync\s+flaky-sync\s+DOWN/);
    expect(ctx.stdout).toContain('0 alert(s) firing, 1 monitor(s) down or running too long; 1 notification(s) queued for 1 webhook(s); delivered 1');
    expect(r.requests.map((q) => (JSON.parse(q.body) as { labels: Record<string, string> }).labels['alertname'])).toEqual(['JobsloJobDown']);
  });
});

describe.skipIf(!clickhouseUp)('a ClickHouse database that does not exist (ClickHouse 18.16)', () => {
  it('analyze, report, alerts and serve exit 2 with JOBSLO_ERR_STORE_MISSING naming the database, and create nothing', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const database = `jobslo_test_missing_${randomUUID().replaceAll('-', '')}`;
    cleanups.push(() => clickhouseExec(`DROP DATABASE IF EXISTS ${database}`).then(() => undefined));
    const url = `clickhouse:${clickhouseUrl()}/${database}`;
    const exists = async (): Promise<string> => (await clickhouseExec(`SELECT count() FROM system.databases WHERE name = '${database}'`)).trim();
    writeFileSync(join(t.dir, 'jobslo.yaml'), 'slos:\n  - {name: s, job: nightly, objective: 0.9}\nmonitors:\n  - {job: nightly, cron: "0 2 * * *"}\n');
    const err = await openExistingStore(url, { cwd: t.dir, env: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('JOBSLO_ERR_STORE_MISSING');
    for (const args of [['analyze'], ['report', '--out', join(t.dir, 'site')], ['alerts', '--once'], ['serve', '--port', '0']]) {
      const ctx = ctxFor(t.dir);
      expect(await dispatch([...args, '--store', url], ctx), args[0]).toBe(2);
      expect(ctx.stderr).toContain(`jobslo ${args[0]}: --store: no database ${database} on the ClickHouse server`);
      expect(ctx.stderr).toContain('This command only reads');
      expect(await exists(), args[0]).toBe('0');
    }
    expect(existsSync(join(t.dir, 'site'))).toBe(false);
  });
});
