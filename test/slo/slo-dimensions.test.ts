/**
 * SLOs selected by dimension (`where:` in jobslo.yaml): a staging failure
 * does not burn the production SLO. Evaluated on a real DuckDB store and, when
 * it is up, on ClickHouse, through both evaluation paths (one SLO, and every
 * SLO in one `windowCountsMany`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/index.js';
import type { Attributes, SpanRecord } from '../../contracts/index.js';
import { evaluateSlo, evaluateSlos, parseConfig } from '../../analyzer/slo/index.js';
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
    ['a freshness SLO', slo('    sli: freshness\n    freshness: { cron: "0 2 * * *" }\n    where: { deployment.environment.name: prod }\n'), 'slos[0].where', 'only applies to sli: success and sli: latency'],
  ])('rejects %s, naming %s', (_name, text, path, message) => {
    const err = fail(text);
    expect(err.code).toBe('JOBSLO_ERR_CONFIG');
    expect(err.path).toBe(path);
    expect(err.message).toContain(message);
  });
});
