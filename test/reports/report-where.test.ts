/**
 * `jobslo report --where KEY=VALUE`: the report's job figures, job pages and
 * failure lists from the runs with those dimension values only, on a real
 * DuckDB store, through collectReportData and through the command.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../cli/main.js';
import { createLineLogger } from '../../contracts/index.js';
import type { Attributes, SpanRecord } from '../../contracts/index.js';
import { collectReportData } from '../../reports/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };

function run(job: string, ok: boolean, resource: Attributes, i: number): SpanRecord[] {
  return runSpans({
    job,
    startMillis: T0 - 600_000 + i * 1_000,
    outcome: ok ? 'succeeded' : 'failed',
    attempts: [{ startOffsetMillis: 0, durationMillis: 100, outcome: ok ? 'succeeded' : 'failed', exitCode: ok ? 0 : 1 }],
  }).map((s) => ({ ...s, resourceAttributes: resource }));
}

const prod = { 'deployment.environment.name': 'prod' };
const staging = { 'deployment.environment.name': 'staging' };
// etl: 2 prod runs (ok), 2 staging runs (failed); staging-only-job: 1 failed staging run.
const spans: SpanRecord[] = [...run('etl', true, prod, 0), ...run('etl', true, prod, 1), ...run('etl', false, staging, 2), ...run('etl', false, staging, 3), ...run('staging-only-job', false, staging, 4)];

describe('report filtered by dimension', () => {
  let dir: string;
  let path: string;
  let store: DuckDbStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jobslo-report-where-'));
    path = join(dir, 'report.duckdb');
    store = await DuckDbStore.open({ path });
    await store.migrate();
    await store.insertSpans(spans);
  });

  afterAll(async () => {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the job figures, job pages and failure lists to the selected runs', async () => {
    const all = await collectReportData(store, { range: RANGE, version: 'test' });
    expect(all.analysis.jobs.map((j) => [j.job, j.runs, j.failed])).toEqual([
      ['etl', 4, 2],
      ['staging-only-job', 1, 1],
    ]);
    expect(all.latestFailures).toHaveLength(3);

    const data = await collectReportData(store, { range: RANGE, version: 'test', where: prod });
    expect(data.analysis.jobs.map((j) => [j.job, j.runs, j.failed])).toEqual([['etl', 2, 0]]);
    expect(data.latestFailures).toEqual([]);
    const etl = data.details.find((d) => d.job === 'etl');
    expect(etl?.failures).toEqual([]);
    expect(etl?.series.reduce((n, p) => n + p.runs, 0)).toBe(2);
    expect(etl?.slowest).toHaveLength(2);

    const stagingData = await collectReportData(store, { range: RANGE, version: 'test', where: staging });
    expect(stagingData.latestFailures.map((r) => r.job).sort()).toEqual(['etl', 'etl', 'staging-only-job']);
  });

  it('jobslo report --where writes a site of the selected runs, and refuses a flag that is not KEY=VALUE', async () => {
    await store.close();
    let err = '';
    const ctx = {
      out: () => undefined,
      err: (t: string) => void (err += t),
      logger: createLineLogger(() => undefined, 'error'),
      env: {},
      cwd: dir,
      signal: new AbortController().signal,
    };
    const argv = ['report', '--store', `duckdb:${path}`, '--since', '2h', '--until', new Date(RANGE.toMillis).toISOString(), '--config', join(dir, 'none.yaml')];
    // An empty config, so no jobslo.yaml of the working directory is read.
    writeFileSync(join(dir, 'none.yaml'), 'slos: []\n');
    expect(await dispatch([...argv, '--out', 'all'], ctx), err).toBe(0);
    expect(readFileSync(join(dir, 'all', 'index.html'), 'utf8')).toContain('staging-only-job');
    expect(await dispatch([...argv, '--out', 'prod', '--where', 'deployment.environment.name=prod'], ctx), err).toBe(0);
    expect(readFileSync(join(dir, 'prod', 'index.html'), 'utf8')).not.toContain('staging-only-job');
    expect(readFileSync(join(dir, 'prod', 'index.html'), 'utf8')).toContain('etl');

    err = '';
    expect(await dispatch([...argv, '--out', 'bad', '--where', 'prod'], ctx)).toBe(2);
    expect(err).toContain('--where: "prod" is not KEY=VALUE');
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    store = await DuckDbStore.open({ path });
  });
});
