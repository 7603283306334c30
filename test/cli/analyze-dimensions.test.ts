/**
 * `jobslo analyze --where KEY=VALUE --group-by KEY`: runs filtered and
 * grouped by their dimensions (resource attributes such as service.name and
 * deployment.environment.name), on a real DuckDB store, through the
 * analyzer API and through the command itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze, formatTable } from '../../analyzer/index.js';
import type { Analysis } from '../../analyzer/index.js';
import { parseWhere } from '../../cli/commands/analyze.js';
import { dispatch } from '../../cli/main.js';
import { createLineLogger } from '../../contracts/index.js';
import type { Attributes, SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };

/** One run of `job` with these resource attributes. */
function run(job: string, ok: boolean, resource: Attributes, i: number): SpanRecord[] {
  const spans = runSpans({
    job,
    startMillis: T0 - 600_000 + i * 1_000,
    outcome: ok ? 'succeeded' : 'failed',
    attempts: [{ startOffsetMillis: 0, durationMillis: 100, outcome: ok ? 'succeeded' : 'failed', exitCode: ok ? 0 : 1 }],
  });
  return spans.map((s) => ({ ...s, resourceAttributes: resource }));
}

// etl: prod/billing 2 ok + 1 failed; staging/billing 1 failed; prod/search 1 ok; one run without either attribute (ok)
const prodBilling = { 'service.name': 'billing', 'deployment.environment.name': 'prod' };
const stagingBilling = { 'service.name': 'billing', 'deployment.environment.name': 'staging' };
const prodSearch = { 'service.name': 'search', 'deployment.environment.name': 'prod' };
const spans: SpanRecord[] = [
  ...run('etl', true, prodBilling, 0),
  ...run('etl', true, prodBilling, 1),
  ...run('etl', false, prodBilling, 2),
  ...run('etl', false, stagingBilling, 3),
  ...run('etl', true, prodSearch, 4),
  ...run('etl', true, {}, 5),
  ...run('report', true, stagingBilling, 6),
];

const counts = (a: Analysis): unknown[] => a.jobs.map((j) => ({ job: j.job, ...(j.group === undefined ? {} : { group: j.group }), runs: j.runs, succeeded: j.succeeded, failed: j.failed }));

describe('analyze by dimension', () => {
  let dir: string;
  let path: string;
  let store: DuckDbStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jobslo-dims-'));
    path = join(dir, 'dims.duckdb');
    store = await DuckDbStore.open({ path });
    await store.migrate();
    await store.insertSpans(spans);
  });

  afterAll(async () => {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('without a filter counts every run, and says nothing of dimensions', async () => {
    const a = await analyze(store, RANGE);
    expect(counts(a)).toEqual([
      { job: 'etl', runs: 6, succeeded: 4, failed: 2 },
      { job: 'report', runs: 1, succeeded: 1, failed: 0 },
    ]);
    expect(a.where).toBeUndefined();
    expect(a.group_by).toBeUndefined();
  });

  it('--where keeps only the runs with every given value', async () => {
    expect(counts(await analyze(store, RANGE, { where: { 'deployment.environment.name': 'prod' } }))).toEqual([{ job: 'etl', runs: 4, succeeded: 3, failed: 1 }]);
    const both = await analyze(store, RANGE, { where: { 'deployment.environment.name': 'prod', 'service.name': 'billing' } });
    expect(counts(both)).toEqual([{ job: 'etl', runs: 3, succeeded: 2, failed: 1 }]);
    expect(both.where).toEqual({ 'deployment.environment.name': 'prod', 'service.name': 'billing' });
    expect(counts(await analyze(store, RANGE, { where: { 'deployment.environment.name': 'dev' } }))).toEqual([]);
  });

  it('--group-by gives one row per job and value, "" for runs without the key', async () => {
    const a = await analyze(store, RANGE, { groupBy: 'service.name' });
    expect(a.group_by).toBe('service.name');
    expect(counts(a)).toEqual([
      { job: 'etl', group: '', runs: 1, succeeded: 1, failed: 0 },
      { job: 'etl', group: 'billing', runs: 4, succeeded: 2, failed: 2 },
      { job: 'etl', group: 'search', runs: 1, succeeded: 1, failed: 0 },
      { job: 'report', group: 'billing', runs: 1, succeeded: 1, failed: 0 },
    ]);
    expect(counts(await analyze(store, RANGE, { where: { 'deployment.environment.name': 'staging' }, groupBy: 'service.name' }))).toEqual([
      { job: 'etl', group: 'billing', runs: 1, succeeded: 0, failed: 1 },
      { job: 'report', group: 'billing', runs: 1, succeeded: 1, failed: 0 },
    ]);
  });

  it('the table shows the group column and the filter', async () => {
    const table = formatTable(await analyze(store, RANGE, { where: { 'deployment.environment.name': 'prod' }, groupBy: 'service.name' }));
    expect(table).toContain(' where deployment.environment.name=prod\n');
    expect(table).toMatch(/^JOB\s+SERVICE\.NAME\s+RUNS/m);
    expect(table).toMatch(/^etl\s+billing\s+3\s+2\s+1\s+66\.67%/m);
    expect(table).toMatch(/^etl\s+search\s+1\s+1\s+0\s+100\.00%/m);
  });

  it('jobslo analyze --where --group-by --format json on the store file', async () => {
    await store.close();
    let out = '';
    let err = '';
    const ctx = {
      out: (t: string) => void (out += t),
      err: (t: string) => void (err += t),
      logger: createLineLogger(() => undefined, 'error'),
      env: {},
      cwd: dir,
      signal: new AbortController().signal,
    };
    const argv = ['analyze', '--store', `duckdb:${path}`, '--since', '2h', '--until', new Date(T0 + 3_600_000).toISOString(), '--format', 'json'];
    const code = await dispatch([...argv, '--where', 'deployment.environment.name=prod', '--where', 'service.name=billing', '--group-by', 'service.name'], ctx);
    expect(code, err).toBe(0);
    const a = JSON.parse(out) as Analysis;
    expect(a.where).toEqual({ 'deployment.environment.name': 'prod', 'service.name': 'billing' });
    expect(a.group_by).toBe('service.name');
    expect(counts(a)).toEqual([{ job: 'etl', group: 'billing', runs: 3, succeeded: 2, failed: 1 }]);

    err = '';
    expect(await dispatch([...argv, '--where', 'prod'], ctx)).toBe(2);
    expect(err).toContain('--where: "prod" is not KEY=VALUE');
    store = await DuckDbStore.open({ path });
  });
});

describe('--where parsing', () => {
  it.each([
    [[], {}],
    [['a=b'], { a: 'b' }],
    [['a=b=c'], { a: 'b=c' }],
    [[' a =b '], { a: 'b ' }],
    [['a='], { a: '' }],
    [['a=1', 'b=2', 'a=1'], { a: '1', b: '2' }],
  ])('%j gives %j', (flags, want) => {
    expect(parseWhere(flags)).toEqual(want);
  });
  it.each([
    [['a'], /"a" is not KEY=VALUE/],
    [['=b'], /"=b" is not KEY=VALUE/],
    [['a=1', 'a=2'], /a is given twice with different values/],
  ])('%j is refused', (flags, message) => {
    expect(() => parseWhere(flags)).toThrow(message);
  });
});
