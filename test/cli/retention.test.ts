/**
 * `--retention-days` and `--rollup-retention-days` (shared by `jobslo ingest`
 * and `jobslo migrate`): validation, and `jobslo migrate` applying them once
 * to a real DuckDB file.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, noopLogger } from '../../contracts/index.js';
import { retentionDays } from '../../cli/_options.js';
import { migrateCommand } from '../../cli/commands/migrate.js';
import type { CliContext } from '../../cli/command.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { runSpans } from '../support/spans.js';

describe('retention flags', () => {
  const cases: [Record<string, string>, ReturnType<typeof retentionDays> | RegExp][] = [
    [{}, undefined],
    [{ 'retention-days': '30' }, { retentionDays: 30 }],
    [{ 'retention-days': '30', 'rollup-retention-days': '400' }, { retentionDays: 30, rollupRetentionDays: 400 }],
    [{ 'retention-days': '30', 'rollup-retention-days': '30' }, { retentionDays: 30, rollupRetentionDays: 30 }],
    [{ 'rollup-retention-days': '400' }, /^--rollup-retention-days: needs --retention-days N/],
    [{ 'retention-days': '30', 'rollup-retention-days': '7' }, /^--rollup-retention-days: 7 is less than --retention-days 30/],
    [{ 'retention-days': '0' }, /^--retention-days: "0" is not a positive whole number/],
    [{ 'retention-days': '30', 'rollup-retention-days': '1.5' }, /^--rollup-retention-days: "1.5" is not a positive whole number/],
    [{ 'retention-days': 'month' }, /^--retention-days: "month" is not a positive whole number/],
  ];
  for (const [values, want] of cases) {
    it(`${JSON.stringify(values)} -> ${want instanceof RegExp ? `error ${want.source}` : JSON.stringify(want)}`, () => {
      if (want instanceof RegExp) {
        let err: unknown;
        try {
          retentionDays(values);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).message).toMatch(want);
      } else {
        expect(retentionDays(values)).toEqual(want);
      }
    });
  }
});

describe('jobslo migrate --retention-days --rollup-retention-days', () => {
  const DAY = 86_400_000;
  const HOUR = 3_600_000;
  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  const context = (): { ctx: CliContext; out: () => string } => {
    let out = '';
    const ctx: CliContext = { out: (t) => (out += t), err: () => undefined, logger: noopLogger, env: {}, cwd: process.cwd(), signal: new AbortController().signal };
    return { ctx, out: () => out };
  };

  it('drops raw days older than N and keeps the hour rollups M days: a long SLO window still counts the old runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobslo-retention-'));
    dirs.push(dir);
    const path = join(dir, 'store.duckdb');
    const now = Date.now();
    const ok = (startMillis: number) => runSpans({ job: 'nightly', startMillis, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] });
    const seed = await DuckDbStore.open({ path });
    await seed.migrate();
    await seed.insertSpans([...ok(now - 20 * DAY), ...ok(now - 2 * HOUR)]);
    await seed.close();

    const { ctx, out } = context();
    expect(await migrateCommand.run(['--store', `duckdb:${path}`, '--retention-days', '10', '--rollup-retention-days', '90'], ctx)).toBe(0);
    expect(out()).toMatch(/retention: dropped 1 day\(s\) of raw data older than 10 days and 0 hour-rollup partition\(s\) older than 90 days/);

    const store = await DuckDbStore.open({ path });
    try {
      expect(await store.listRuns({ jobs: 'nightly', fromMillis: now - 30 * DAY, toMillis: now })).toHaveLength(1);
      expect(await store.windowCounts({ jobs: 'nightly', criterion: { kind: 'success' }, endMillis: now, windowsMillis: [30 * DAY] })).toEqual([{ windowMillis: 30 * DAY, good: 2, total: 2 }]);
    } finally {
      await store.close();
    }
  });

  it('refuses --rollup-retention-days shorter than --retention-days before opening the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobslo-retention-'));
    dirs.push(dir);
    const { ctx } = context();
    await expect(migrateCommand.run(['--store', `duckdb:${join(dir, 'never.duckdb')}`, '--retention-days', '30', '--rollup-retention-days', '7'], ctx)).rejects.toThrow(ConfigError);
    expect(existsSync(join(dir, 'never.duckdb'))).toBe(false);
  });
});
