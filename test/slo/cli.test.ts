/** The alerts, serve and analyze commands end to end, on a DuckDB file and a real receiver. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { noopLogger } from '../../contracts/index.js';
import { dispatch } from '../../cli/main.js';
import type { CliContext } from '../../cli/command.js';
import { startSloServer } from '../../cli/commands/serve.js';
import { escapeLabelValue, formatPrometheus, loadConfig } from '../../analyzer/slo/index.js';
import { FileAlertBackend, runAlertCycle } from '../../analyzer/alerts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { HOUR, MINUTE, fakeClock, startReceiver, steadyRuns, tempDir } from './helpers.js';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function ctxFor(cwd: string, env: NodeJS.ProcessEnv = {}): CliContext & { stdout: string; stderr: string } {
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
    env,
    cwd,
    signal: new AbortController().signal,
  };
  return ctx;
}

/** A DuckDB file with a healthy job and a failing job, runs ending just before now. */
async function seed(dir: string): Promise<string> {
  const path = join(dir, 'store.duckdb');
  const store = await DuckDbStore.open({ path });
  await store.migrate();
  const now = Date.now();
  await store.insertSpans([...steadyRuns('healthy', now - 2 * HOUR, now - 1000, MINUTE, 0), ...steadyRuns('broken', now - 2 * HOUR, now - 1000, MINUTE, 1)]);
  await store.close();
  return `duckdb:${path}`;
}

function writeConfig(dir: string, store: string, body: string): string {
  const file = join(dir, 'jobslo.yaml');
  writeFileSync(file, `store: ${store}\n${body}`);
  return file;
}

describe('jobslo alerts --once', () => {
  it('exits 0 when nothing fires, 1 when an alert fires and delivers it, 2 on a bad config', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const store = await seed(t.dir);
    const hooks = `alerts:\n  webhooks:\n    - {name: oncall, url: "${r.url}/hook", format: json, secret: "env:HOOK_SECRET"}\n`;
    const ok = writeConfig(t.dir, store, `slos:\n  - {name: healthy, job: healthy, objective: 0.99}\n${hooks}`);
    const ctx = ctxFor(t.dir, { HOOK_SECRET: 'x' });
    expect(await dispatch(['alerts', '--once', '--config', ok, '--state-dir', join(t.dir, 'state')], ctx)).toBe(0);
    expect(r.requests).toHaveLength(0);

    const firing = writeConfig(t.dir, store, `slos:\n  - {name: broken, job: broken, objective: 0.99}\n${hooks}`);
    const ctx2 = ctxFor(t.dir, { HOOK_SECRET: 'x' });
    expect(await dispatch(['alerts', '--once', '--config', firing, '--state-dir', join(t.dir, 'state'), '--format', 'json'], ctx2)).toBe(1);
    const doc = JSON.parse(ctx2.stdout) as { slos: { name: string; alerts: { firing: boolean }[] }[]; delivery: { delivered: number } };
    expect(doc.slos[0]?.alerts.map((a) => a.firing)).toEqual([true, true, true, true]);
    expect(doc.delivery.delivered).toBe(4);
    expect(r.requests).toHaveLength(4);

    const bad = writeConfig(t.dir, store, 'slos:\n  - {name: b, job: b, objective: 1.5}\n');
    const ctx3 = ctxFor(t.dir);
    expect(await dispatch(['alerts', '--once', '--config', bad], ctx3)).toBe(2);
    expect(ctx3.stderr).toContain('slos[0].objective: must be between 0 and 1 (exclusive), got 1.5');
    expect(await dispatch(['alerts', '--config', ok], ctxFor(t.dir))).toBe(2);
  });
});

describe('jobslo analyze with a config', () => {
  it('adds slos[] to the JSON and leaves jobs[] as it was', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = await seed(t.dir);
    const plain = ctxFor(t.dir);
    expect(await dispatch(['analyze', '--store', store, '--format', 'json'], plain)).toBe(0);
    const before = JSON.parse(plain.stdout) as Record<string, unknown>;
    expect(before['slos']).toBeUndefined();

    // A jobslo.yaml in the working directory is picked up without --config.
    writeConfig(t.dir, store, 'slos:\n  - {name: broken-success, job: broken, objective: 0.99, window: 1d}\n');
    const withSlos = ctxFor(t.dir);
    expect(await dispatch(['analyze', '--format', 'json'], withSlos)).toBe(0);
    const after = JSON.parse(withSlos.stdout) as { jobs: unknown[]; slos: Record<string, unknown>[] };
    expect(after.jobs).toEqual(before['jobs']);
    const [slo] = after.slos;
    expect(Object.keys(slo ?? {})).toEqual(
      expect.arrayContaining(['name', 'job', 'sli', 'objective', 'window', 'sli_value', 'error_budget_remaining', 'burn_rates', 'budget_exhausted_at', 'alerts']),
    );
    expect(slo).toMatchObject({ name: 'broken-success', job: 'broken', sli: 'success', objective: 0.99, window: '1d', sli_value: 0 });
    expect(Object.keys(slo?.['burn_rates'] as object)).toEqual(['5m', '30m', '1h', '2h', '6h', '1d', '3d']);
    expect(typeof slo?.['budget_exhausted_at']).toBe('string');
  });
});

describe('jobslo serve', () => {
  it('serves Prometheus metrics per SLO and the HTML report', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const storeUrl = await seed(t.dir);
    const file = writeConfig(t.dir, storeUrl, 'slos:\n  - {name: broken, job: broken, objective: 0.99}\n  - {name: "we\\"ird\\\\name", job: healthy, objective: 0.99}\n');
    const config = loadConfig(file);
    const store = await DuckDbStore.open({ path: storeUrl.slice('duckdb:'.length) });
    cleanups.push(() => store.close());
    const server = await startSloServer({ store, config, backend: new FileAlertBackend({ dir: join(t.dir, 'state') }), port: 0, intervalMillis: HOUR, logger: noopLogger });
    cleanups.push(() => server.close());

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('# HELP jobslo_slo_sli_ratio ');
    expect(text).toContain('# TYPE jobslo_slo_sli_ratio gauge');
    expect(text).toContain('jobslo_slo_sli_ratio{slo="broken",jobslo_job="broken",sli="success"} 0\n');
    expect(text).toContain('jobslo_slo_burn_rate{slo="broken",jobslo_job="broken",sli="success",window="1h"} 100\n');
    expect(text).toContain('jobslo_slo_alert_firing{slo="broken",jobslo_job="broken",sli="success",severity="page",long_window="1h",short_window="5m"} 1\n');
    expect(text).toContain('jobslo_slo_error_budget_remaining_ratio{slo="we\\"ird\\\\name",jobslo_job="healthy",sli="success"} 1\n');
    expect(text).toContain('# TYPE jobslo_slo_evaluations_total counter\njobslo_slo_evaluations_total 1\n');
    // Every family has exactly one HELP and one TYPE line, before its samples.
    const families = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(new Set(families).size).toBe(families.length);
    for (const line of text.trim().split('\n')) {
      if (line.startsWith('#')) continue;
      expect(line).toMatch(/^[a-z_]+(\{.*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/);
    }

    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    const index = await page.text();
    expect(index).toContain('<html');
    expect((await fetch(`${server.url}/report/`)).status).toBe(200);
    // The site's pages, linked relatively, are served under / and /report/, SLO pages included.
    const sloLink = /href="(slos\/[^"]+\.html)"/.exec(index)?.[1];
    expect(sloLink).toBeDefined();
    const sloPage = await fetch(`${server.url}/report/${sloLink ?? ''}`);
    expect(sloPage.status).toBe(200);
    expect(await sloPage.text()).toContain('broken');
    expect((await fetch(`${server.url}/${sloLink ?? ''}`)).status).toBe(200);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('escapes label values and spells non-finite values', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(formatPrometheus([])).toBe('');
  });
});

describe('delivery like Alertmanager: 5xx retried, 4xx dead letters, requeue', () => {
  it('delivers every notification through five 500s, dead-letters a 400, and requeue sends it once the receiver is fixed', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const store = await seed(t.dir);
    const stateDir = join(t.dir, 'state');
    const config = writeConfig(
      t.dir,
      store,
      `slos:\n  - {name: broken, job: broken, objective: 0.99, alerting: {tiers: [{severity: page, long: 1h, short: 5m, factor: 14.4}, {severity: ticket, long: 6h, short: 30m, factor: 6}]}}\nalerts:\n  webhooks:\n    - {name: oncall, url: "${r.url}/hook", format: json}\n`,
    );
    let fivehundreds = 5;
    r.respond = () => (fivehundreds-- > 0 ? { status: 500 } : { status: 200 });
    // In process with a clock that sleeps at once; the same state folder the CLI uses below.
    const clock = fakeClock(Date.now());
    const cfg = loadConfig(config);
    const open = await DuckDbStore.open({ path: store.slice('duckdb:'.length) });
    const backend = new FileAlertBackend({ dir: stateDir });
    try {
      const first = await runAlertCycle({ store: open, config: cfg, backend, clock, delivery: { random: () => 1 } });
      expect(first.notifications).toHaveLength(2);
      // Five 500s use the first entry's attempts of this drain: it waits for its backoff, not in dead letters.
      expect(first.drain).toEqual({ delivered: 0, deadLettered: 0, pending: 2 });
      clock.set(clock.now() + 60_000);
      const second = await runAlertCycle({ store: open, config: cfg, backend, clock });
      expect(second.drain).toEqual({ delivered: 2, deadLettered: 0, pending: 0 });
    } finally {
      await open.close();
    }
    expect(r.requests.filter((q) => q.status === 500)).toHaveLength(5);
    const accepted = r.requests.filter((q) => q.status === 200).map((q) => String(q.headers['idempotency-key']));
    expect(accepted).toHaveLength(2);
    expect(new Set(accepted).size).toBe(2);

    // A 400 is permanent: a dead letter, listed with its reason.
    r.respond = () => ({ status: 400 });
    const resolveConfig = writeConfig(t.dir, store, `slos: []\nalerts:\n  webhooks:\n    - {name: oncall, url: "${r.url}/hook", format: json}\n`);
    const c2 = ctxFor(t.dir);
    expect(await dispatch(['alerts', '--once', '--config', resolveConfig, '--state-dir', stateDir, '--format', 'json'], c2)).toBe(0);
    expect((JSON.parse(c2.stdout) as { delivery: { deadLettered: number } }).delivery.deadLettered).toBe(2);
    const list = ctxFor(t.dir);
    expect(await dispatch(['alerts', 'dead-letters', 'list', '--config', resolveConfig, '--state-dir', stateDir, '--format', 'json'], list)).toBe(0);
    const dead = (JSON.parse(list.stdout) as { dead_letters: { id: string; reason: string; webhook: string; idempotency_key: string }[] }).dead_letters;
    expect(dead.map((d) => [d.reason, d.webhook])).toEqual([
      ['HTTP 400', 'oncall'],
      ['HTTP 400', 'oncall'],
    ]);
    const table = ctxFor(t.dir);
    expect(await dispatch(['alerts', 'dead-letters', 'list', '--config', resolveConfig, '--state-dir', stateDir], table)).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+WEBHOOK\s+REASON\s+ATTEMPTS\s+DEAD SINCE\n/);

    // Fixed: requeue one by id, then the rest; the next cycle sends them, each key once.
    r.respond = () => ({ status: 200 });
    const before = r.requests.length;
    const rq = ctxFor(t.dir);
    expect(await dispatch(['alerts', 'dead-letters', 'requeue', dead[0]?.id ?? '', '--config', resolveConfig, '--state-dir', stateDir], rq)).toBe(0);
    expect(rq.stdout).toBe('1 dead letter(s) requeued\n');
    expect(await dispatch(['alerts', 'dead-letters', 'requeue', '--all', '--config', resolveConfig, '--state-dir', stateDir], ctxFor(t.dir))).toBe(0);
    expect(await dispatch(['alerts', 'dead-letters', 'requeue', 'no-such-id', '--config', resolveConfig, '--state-dir', stateDir], ctxFor(t.dir))).toBe(2);
    expect(await dispatch(['alerts', '--once', '--config', resolveConfig, '--state-dir', stateDir], ctxFor(t.dir))).toBe(0);
    const resent = r.requests.slice(before).map((q) => String(q.headers['idempotency-key']));
    expect(resent.sort()).toEqual(dead.map((d) => d.idempotency_key).sort());
    const empty = ctxFor(t.dir);
    expect(await dispatch(['alerts', 'dead-letters', 'list', '--config', resolveConfig, '--state-dir', stateDir], empty)).toBe(0);
    expect(empty.stdout).toContain('No dead letters');
  });
});
