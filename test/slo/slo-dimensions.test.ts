/**
 * SLOs and monitors selected by dimension (`where:` in jobslo.yaml): a
 * staging failure does not burn the production SLO, and a job that stopped
 * running in staging leaves the production freshness SLO and monitor green.
 * Evaluated on a real DuckDB store and, when it is up, on ClickHouse, through
 * both evaluation paths (one SLO, and every SLO in one `windowCountsMany`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/index.js';
import type { Attributes, SpanRecord } from '../../contracts/index.js';
import { evaluateSlo, evaluateSlos, parseConfig } from '../../analyzer/slo/index.js';
import { describeSchedule, describeUnmatched, evaluateMonitors, findUnmatchedSelectors, unmatchedJson } from '../../analyzer/monitors/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import type { Store } from '../../store/index.js';
import { runSpans } from '../support/spans.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
const AT = T0 + 3_600_000;

function run(job: string, ok: boolean, resource: Attributes, i: number, durationMillis = 100): SpanRecord[] {
  return runSpans({
    job,
    startMillis: T0 - 600_000 + i * 1_000,
    outcome: ok ? 'succeeded' : 'failed',
    attempts: [{ startOffsetMillis: 0, durationMillis, outcome: ok ? 'succeeded' : 'failed', exitCode: ok ? 0 : 1 }],
  }).map((s) => ({ ...s, resourceAttributes: resource }));
}

const prod = { 'service.name': 'billing', 'deployment.environment.name': 'prod' };
const staging = { 'service.name': 'billing', 'deployment.environment.name': 'staging' };
// etl: 3 prod runs, all good (one slow); 2 staging runs, both failed.
const spans: SpanRecord[] = [
  ...run('etl', true, prod, 0),
  ...run('etl', true, prod, 1),
  ...run('etl', true, prod, 2, 5_000),
  ...run('etl', false, staging, 3),
  ...run('etl', false, staging, 4),
];

// nightly runs at five past every hour from T0 - 6h to T0 in prod; in staging
// only at the first two ticks, then it stopped.
const HOUR = 3_600_000;
const tick = (k: number): number => T0 - 6 * HOUR + k * HOUR;
for (let k = 0; k <= 6; k++) {
  for (const [env, resource] of [['prod', prod], ['staging', staging]] as const) {
    if (env === 'staging' && k > 1) continue;
    spans.push(
      ...runSpans({ job: 'nightly', startMillis: tick(k) + 300_000, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 1_000, outcome: 'succeeded' }] }).map((sp) => ({
        ...sp,
        resourceAttributes: resource,
      })),
    );
  }
}
const START = new Date(tick(0)).toISOString();

// report: one run of service a in prod, one of service b in staging.
spans.push(...run('report', true, { 'service.name': 'a', 'deployment.environment.name': 'prod' }, 0), ...run('report', true, { 'service.name': 'b', 'deployment.environment.name': 'staging' }, 1));

const UNMATCHED = `slos:
  - name: etl-typo
    job: etl
    where: { deployment.environment.name: prdo }
    objective: 0.99
    window: 1d
  - name: etl-nowhere
    job: etl
    where: { deployment.environment.name: qa }
    objective: 0.99
    window: 1d
  - name: etl-prod
    job: etl
    where: { deployment.environment.name: prod }
    objective: 0.99
    window: 1d
  - name: report-mixed
    job: report
    where: { service.name: a, deployment.environment.name: staging }
    objective: 0.99
    window: 1d
  - name: glob-typo
    job: "*"
    where: { service.name: bilING }
    objective: 0.99
    window: 1d
monitors:
  - name: nightly-stg
    job: nightly
    where: { deployment.environment.name: stagin }
    cron: "0 * * * *"
  - name: nightly-typo
    job: nigthly
    where: { deployment.environment.name: staging }
    cron: "0 * * * *"
`;

const FRESHNESS = `slos:
  - name: nightly-prod
    job: nightly
    where: { deployment.environment.name: prod }
    sli: freshness
    freshness: { cron: "0 * * * *", grace: 10m, start: ${START} }
    objective: 0.9
    window: 1d
  - name: nightly-staging
    job: nightly
    where: { deployment.environment.name: staging }
    sli: freshness
    freshness: { cron: "0 * * * *", grace: 10m, start: ${START} }
    objective: 0.9
    window: 1d
  - name: nightly-all
    job: nightly
    sli: freshness
    freshness: { cron: "0 * * * *", grace: 10m }
    objective: 0.9
    window: 1d
  - name: nightly-staging-first-seen
    job: nightly
    where: { deployment.environment.name: staging }
    sli: freshness
    freshness: { cron: "0 * * * *", grace: 10m }
    objective: 0.9
    window: 1d
monitors:
  - name: nightly-prod-check
    job: nightly
    where: { deployment.environment.name: prod }
    cron: "0 * * * *"
    grace: 10m
    start: ${START}
  - name: nightly-staging-check
    job: nightly
    where: { deployment.environment.name: staging }
    cron: "0 * * * *"
    grace: 10m
    start: ${START}
  - name: nightly-check
    job: nightly
    cron: "0 * * * *"
    grace: 10m
    start: ${START}
`;

const CONFIG = `slos:
  - name: etl-prod
    job: etl
    where: { deployment.environment.name: prod }
    objective: 0.99
    window: 1d
  - name: etl-staging
    job: etl
    where:
      deployment.environment.name: staging
      service.name: billing
    objective: 0.99
    window: 1d
  - name: etl-all
    job: etl
    objective: 0.99
    window: 1d
  - name: etl-prod-latency
    job: etl
    where: { deployment.environment.name: prod }
    sli: latency
    latency: { threshold: 1s }
    objective: 0.5
    window: 1d
  - name: etl-nowhere
    job: etl
    where: { deployment.environment.name: qa }
    objective: 0.99
    window: 1d
`;

function defineStoreCases(name: string, open: () => Promise<Store>): void {
  describe(`${name}: SLOs selected by dimension`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
      await store.migrate();
      await store.insertSpans(spans);
    });
    afterAll(async () => {
      await store?.close().catch(() => undefined);
    });

    it("counts only the runs with the SLO's dimension values: staging failures do not burn the prod SLO", async () => {
      const { slos } = parseConfig(CONFIG);
      const evals = await evaluateSlos(store, slos, AT);
      expect(evals.map((e) => [e.slo.name, e.good, e.total])).toEqual([
        ['etl-prod', 3, 3],
        ['etl-staging', 0, 2],
        ['etl-all', 3, 5],
        ['etl-prod-latency', 2, 3],
        ['etl-nowhere', 0, 0],
      ]);
      expect(evals[0]?.budgetRemaining).toBe(1);
      expect(evals[0]?.tiers.some((t) => t.firing)).toBe(false);
      expect(evals[1]?.tiers.some((t) => t.firing)).toBe(true);
    });

    it('judges freshness ticks from the runs with the dimension values only', async () => {
      const { slos } = parseConfig(FRESHNESS);
      // Ticks judged at AT (T0 + 1h, grace 10m): T0 - 6h .. T0, seven of them.
      const evals = await evaluateSlos(store, slos, AT);
      expect(evals.map((e) => [e.slo.name, e.good, e.total])).toEqual([
        ['nightly-prod', 7, 7],
        ['nightly-staging', 2, 7],
        ['nightly-all', 7, 7],
        // Without start:, accounting starts at the first staging run seen.
        ['nightly-staging-first-seen', 2, 7],
      ]);
      for (const slo of slos) {
        const one = await evaluateSlo(store, slo, AT);
        expect([slo.name, one.good, one.total]).toEqual([slo.name, evals.find((e) => e.slo.name === slo.name)?.good, evals.find((e) => e.slo.name === slo.name)?.total]);
      }
    });

    it('keeps a monitor of one environment up while the same job stopped in another is down', async () => {
      const { monitors } = parseConfig(FRESHNESS);
      // Half past T0: the T0 tick's run came, the next tick is not due.
      const evals = await evaluateMonitors(store, monitors, T0 + 1_800_000);
      // The freshness SLOs imply no monitor: each job and where: is covered by one above.
      expect(evals.map((e) => [e.monitor.name, e.status])).toEqual([
        ['nightly-prod-check', 'up'],
        ['nightly-staging-check', 'down'],
        ['nightly-check', 'up'],
      ]);
      expect(evals[1]?.lastRun?.startMillis).toBe(tick(1) + 300_000);
      expect(evals[0]?.lastRun?.startMillis).toBe(tick(6) + 300_000);
      expect(describeSchedule(monitors[1] as (typeof monitors)[number])).toBe('cron "0 * * * *" UTC, grace 10m, where deployment.environment.name=staging');
    });

    it('reports a where: that matches no run of its job, with the values seen and the closest one', async () => {
      const config = parseConfig(UNMATCHED);
      const unmatched = await findUnmatchedSelectors(store, config, AT);
      expect(unmatched.map(unmatchedJson)).toEqual([
        { kind: 'slo', name: 'etl-typo', job: 'etl', where: { 'deployment.environment.name': 'prdo' }, dimension: 'deployment.environment.name', values_seen: ['prod', 'staging'], suggestions: ['prod'] },
        { kind: 'slo', name: 'etl-nowhere', job: 'etl', where: { 'deployment.environment.name': 'qa' }, dimension: 'deployment.environment.name', values_seen: ['prod', 'staging'], suggestions: [] },
        { kind: 'slo', name: 'report-mixed', job: 'report', where: { 'service.name': 'a', 'deployment.environment.name': 'staging' }, suggestions: [] },
        // Values of every job the glob selects; the closest value seen is suggested.
        { kind: 'slo', name: 'glob-typo', job: '*', where: { 'service.name': 'bilING' }, dimension: 'service.name', values_seen: ['billing', 'a', 'b'], suggestions: ['billing'] },
        { kind: 'monitor', name: 'nightly-stg', job: 'nightly', where: { 'deployment.environment.name': 'stagin' }, dimension: 'deployment.environment.name', values_seen: ['prod', 'staging'], suggestions: ['staging'] },
        // A job that matches nothing is reported as such, whatever its where: says.
        { kind: 'monitor', name: 'nightly-typo', job: 'nigthly', suggestions: ['nightly'] },
      ]);
      expect(unmatched.map(describeUnmatched)).toEqual([
        'SLO "etl-typo": no run of job "etl" in the last 1d has deployment.environment.name: "prdo" (values seen: "prod", "staging"), so its SLI has no data; did you mean deployment.environment.name: "prod"?',
        'SLO "etl-nowhere": no run of job "etl" in the last 1d has deployment.environment.name: "qa" (values seen: "prod", "staging"), so its SLI has no data',
        'SLO "report-mixed": no run of job "report" in the last 1d has all of service.name: "a", deployment.environment.name: "staging" (each is seen on its own), so its SLI has no data; check the where: combination',
        'SLO "glob-typo": no run of job "*" in the last 1d has service.name: "bilING" (values seen: "billing", "a", "b"), so its SLI has no data; did you mean service.name: "billing"?',
        'monitor "nightly-stg": no run of job "nightly" in the last 35d has deployment.environment.name: "stagin" (values seen: "prod", "staging"), so it stays new (never pages) until one runs; did you mean deployment.environment.name: "staging"?',
        'monitor "nightly-typo": job "nigthly" matches no job that ran in the last 35d, so it stays new (never pages) until one runs; did you mean "nightly"?',
      ]);
    });

    it('gives the same counts one SLO at a time', async () => {
      const { slos } = parseConfig(CONFIG);
      for (const slo of slos) {
        const one = await evaluateSlo(store, slo, AT);
        const [many] = await evaluateSlos(store, [slo], AT);
        expect([one.good, one.total]).toEqual([many?.good, many?.total]);
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'jobslo-slo-dims-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
defineStoreCases('DuckDB', () => DuckDbStore.open({ path: join(dir, 'slo-dims.duckdb') }));

const chUrl = clickhouseUrl();
const chUp = await requireService('ClickHouse', () => probeClickHouse(chUrl), 'SLO dimensions on ClickHouse (test/slo/slo-dimensions.test.ts)');
if (chUp) {
  const database = `jobslo_slo_dims_${randomUUID().replaceAll('-', '')}`;
  afterAll(async () => {
    await clickhouseExec(`DROP DATABASE IF EXISTS ${database}`, chUrl);
  });
  defineStoreCases('ClickHouse', () => ClickHouseStore.open({ url: chUrl, database }));
}

describe('where: in jobslo.yaml', () => {
  const fail = (text: string): ConfigError => {
    try {
      parseConfig(text);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error('no error');
  };
  const slo = (fields: string): string => `slos:\n  - name: s\n    job: j\n    objective: 0.99\n${fields}`;

  it('reads dimension keys as attribute names and values as strings', () => {
    const { slos } = parseConfig(slo('    where:\n      deployment.environment.name: prod\n      shard: 3\n      canary: false\n      region: ""\n'));
    expect(slos[0]?.where).toEqual({ 'deployment.environment.name': 'prod', shard: '3', canary: 'false', region: '' });
    expect(parseConfig(slo('')).slos[0]?.where).toBeUndefined();
    expect(parseConfig(slo('    where: {}\n')).slos[0]?.where).toBeUndefined();
  });

  it.each([
    ['a list', slo('    where: [prod]\n'), 'slos[0].where', 'must be a mapping, got a list (jobslo.yaml:5:12)'],
    ['a word', slo('    where: prod\n'), 'slos[0].where', 'must be a mapping, got "prod"'],
    ['a null value', slo('    where:\n      deployment.environment.name:\n'), 'slos[0].where.deployment.environment.name', 'must be a string'],
    ['a mapping value', slo('    where:\n      env: { name: prod }\n'), 'slos[0].where.env', 'must be a string (the dimension\'s exact value, e.g. prod), got a mapping (jobslo.yaml:6:12)'],
    ['a key with a space', slo('    where:\n      "deployment environment": prod\n'), 'slos[0].where.deployment environment', 'is not a dimension key'],
  ])('rejects %s, naming %s', (_name, text, path, message) => {
    const err = fail(text);
    expect(err.code).toBe('JOBSLO_ERR_CONFIG');
    expect(err.path).toBe(path);
    expect(err.message).toContain(message);
  });

  it('takes where: on a freshness SLO and gives its implied monitor the same where:', () => {
    const { slos, monitors } = parseConfig(slo('    sli: freshness\n    freshness: { cron: "0 2 * * *" }\n    where: { deployment.environment.name: prod }\n'));
    expect(slos[0]?.where).toEqual({ 'deployment.environment.name': 'prod' });
    expect(monitors.map((m) => [m.name, m.job, m.where, m.source])).toEqual([['s', 'j', { 'deployment.environment.name': 'prod' }, 'freshness_slo']]);
  });

  it('refuses max_runtime beside where: on a monitor, naming why', () => {
    const err = fail('monitors:\n  - job: j\n    cron: "0 2 * * *"\n    where: { deployment.environment.name: prod }\n    max_runtime: 1h\n');
    expect(err.path).toBe('monitors[0].max_runtime');
    expect(err.message).toContain('cannot be combined with where:');
    expect(err.message).toContain('jobslo.yaml:5:18');
  });
});
