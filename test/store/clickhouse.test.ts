import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../contracts/index.js';
import { ClickHouseStore, openStore } from '../../store/index.js';
import { interpolatedQuantileSql, quoteString } from '../../store/_clickhouse.js';
import { runSpans } from '../support/spans.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';
import { defineStoreConformance } from './conformance.js';

const URL_ = clickhouseUrl();
const up = await requireService('ClickHouse', () => probeClickHouse(URL_), 'ClickHouse store (test/store/clickhouse.test.ts)');

/** Databases created by this file's tests, dropped after each test. */
let databases: string[] = [];
const freshDatabase = (): string => {
  const db = `jobslo_test_${randomUUID().replaceAll('-', '')}`;
  databases.push(db);
  return db;
};

async function openFresh(): Promise<ClickHouseStore> {
  const store = await ClickHouseStore.open({ url: URL_, database: freshDatabase() });
  await store.migrate();
  return store;
}

afterEach(async () => {
  const drop = databases;
  databases = [];
  if (!up) return;
  for (const db of drop) await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
});

describe('quoteString: ClickHouse literals (no server)', () => {
  const cases: [string, string][] = [
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["x'); DROP TABLE spans; --", "'x\\'); DROP TABLE spans; --'"],
    ['tab\there', "'tab\\there'"],
    ['nl\ncr\r', "'nl\\ncr\\r'"],
    ['nul\0bs\bff\f', "'nul\\0bs\\bff\\f'"],
    ['\x01\x1f\x7f', "'\\x01\\x1F\\x7F'"],
    ['émoji 🚀', "'émoji 🚀'"],
    ['lone \ud800 surrogate \udc00', "'lone \uFFFD surrogate \uFFFD'"],
    ['pair \ud83d\ude80 kept', "'pair 🚀 kept'"],
    ['', "''"],
  ];
  for (const [input, want] of cases) {
    it(`quotes ${JSON.stringify(input)}`, () => {
      expect(quoteString(input)).toBe(want);
    });
  }

  it('builds the interpolated quantile only for q in [0, 1]', () => {
    expect(interpolatedQuantileSql('a', 0.5)).toContain('arrayElement(a');
    expect(() => interpolatedQuantileSql('a', 1.5)).toThrow(RangeError);
    expect(() => interpolatedQuantileSql('a', Number.NaN)).toThrow(RangeError);
  });
});

describe('ClickHouse store: unreachable server (no server needed)', () => {
  it('fails with JOBSLO_ERR_STORE_UNREACHABLE naming the URL without the password and how to fix it', async () => {
    // Port 1 on loopback: nothing listens there.
    const store = await ClickHouseStore.open({ url: 'http://alice:s3cret@127.0.0.1:1', database: 'jobslo', requestTimeoutMillis: 2_000 });
    try {
      const err = await store.migrate().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('JOBSLO_ERR_STORE_UNREACHABLE');
      expect((err as StoreError).message).toContain('http://127.0.0.1:1/jobslo');
      expect((err as StoreError).message).not.toContain('s3cret');
      expect((err as StoreError).message).toMatch(/HTTP interface.*8123/);
      expect(store.location).not.toContain('s3cret');
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!up)('ClickHouse store against the real server', () => {
  defineStoreConformance('ClickHouse', {
    open: openFresh,
    // Same interpolation as DuckDB's quantile_cont, computed by ClickHouse: exact up to float rounding.
    latencyTolerance: 0,
  });

  it('openStore opens clickhouse: URLs and migrates; migrating again is a no-op', async () => {
    const db = freshDatabase();
    const store = await openStore(`clickhouse:${URL_}/${db}`);
    try {
      expect(store.kind).toBe('clickhouse');
      await store.migrate();
      const versions = await clickhouseExec(`SELECT version FROM ${db}.jobslo_migrations ORDER BY version FORMAT TSV`);
      expect(versions.trim().split('\n')).toEqual(['1', '2']);
      const engine = await clickhouseExec(`SELECT engine FROM system.tables WHERE database = '${db}' AND name = 'spans' FORMAT TSV`);
      expect(engine.trim()).toBe('ReplacingMergeTree');
    } finally {
      await store.close();
    }
  });

  it('stores every byte-ish character and hostile text as data and finds it again by exact name and by glob', async () => {
    const store = await openFresh();
    try {
      const T0 = Date.UTC(2026, 10, 1, 12);
      const all = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('');
      const names = [`all-ascii ${all}`, "quote' and \\' and \\\\'", 'ünïcödé ✓ 𝔘', "'; SELECT 1; --", 'star*lit?'];
      for (const job of names) {
        await store.insertSpans(
          runSpans({
            job,
            startMillis: T0,
            outcome: 'failed',
            attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'failed', exitCode: 1 }],
            extraAttributes: { 'error.type': job },
          }),
        );
      }
      const range = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };
      const aggs = await store.jobAggregates(range);
      expect(aggs.map((a) => a.job).sort()).toEqual([...names].sort());
      for (const job of names) {
        // Names with * or ? are globs as selectors; as globs they still match themselves.
        const [w] = await store.windowCounts({ jobs: job, criterion: { kind: 'success' }, endMillis: range.toMillis, windowsMillis: [7_200_000] });
        expect(w?.total, job).toBe(1);
        const runs = await store.listRuns({ ...range, jobs: job });
        expect(runs.map((r) => r.job), job).toEqual([job]);
        expect(aggs.find((a) => a.job === job)?.failureModes).toEqual({ [job]: 1 });
      }
      expect((await store.listRuns({ ...range, jobs: 'star*' })).map((r) => r.job)).toEqual(['star*lit?']);
      expect(await store.listRuns({ ...range, jobs: 'star_lit_' })).toEqual([]);
      expect(await clickhouseExec(`SELECT count() FROM ${store.spansTable} FORMAT TSV`)).toBe(`${names.length * 2}\n`);
    } finally {
      await store.close();
    }
  });

  it('removes redelivered copies when parts merge, and the SLIs are the same before and after', async () => {
    const store = await openFresh();
    try {
      const T0 = Date.UTC(2026, 10, 1, 12);
      const spans = runSpans({
        job: 'dup',
        startMillis: T0,
        outcome: 'succeeded',
        attempts: [
          { startOffsetMillis: 0, durationMillis: 10, outcome: 'failed', exitCode: 1 },
          { startOffsetMillis: 20, durationMillis: 10, outcome: 'succeeded', exitCode: 0 },
        ],
      });
      await store.insertSpans(spans);
      await store.insertSpans(spans);
      await store.insertSpans(spans.slice(1));
      const range = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };
      const before = await store.jobAggregates(range);
      expect(await clickhouseExec(`SELECT count() FROM ${store.spansTable} FORMAT TSV`)).toBe('8\n');
      await clickhouseExec(`OPTIMIZE TABLE ${store.spansTable} FINAL`);
      expect(await clickhouseExec(`SELECT count() FROM ${store.spansTable} FORMAT TSV`)).toBe('3\n');
      expect(await store.jobAggregates(range)).toEqual(before);
      expect(before[0]).toMatchObject({ runs: 1, succeeded: 1, retries: 1 });
    } finally {
      await store.close();
    }
  });

  it('drops old days by partition (system.parts) and reads only the partitions a query needs', async () => {
    const store = await openFresh();
    try {
      const DAY = 86_400_000;
      const T0 = Date.UTC(2026, 10, 20, 12);
      for (let d = 0; d < 5; d++) {
        await store.insertSpans(runSpans({ job: `d${d}`, startMillis: T0 - d * DAY, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] }));
      }
      const parts = async (): Promise<string[]> =>
        (await clickhouseExec(`SELECT DISTINCT partition_id FROM system.parts WHERE database = '${store.spansTable.split('.')[0]?.replaceAll('`', '')}' AND table = 'spans' AND active ORDER BY partition_id FORMAT TSV`))
          .trim()
          .split('\n');
      expect(await parts()).toEqual(['20261116', '20261117', '20261118', '20261119', '20261120']);
      // Partition pruning: a query over the last hour reads the partitions of the lookback day and today only.
      const res = await fetch(`${URL_}/`, { method: 'POST', body: `SELECT count() FROM ${store.spansTable} WHERE end_ns >= ${BigInt(T0 - DAY) * 1_000_000n} FORMAT JSON` });
      const stats = ((await res.json()) as { statistics: { rows_read: number } }).statistics;
      expect(stats.rows_read).toBe(4);
      expect(await store.dropBefore(T0 - 2 * DAY)).toBe(2);
      expect(await parts()).toEqual(['20261118', '20261119', '20261120']);
      expect(await store.dropBefore(T0 - 2 * DAY)).toBe(0);
      expect(await store.jobNames({ fromMillis: T0 - 10 * DAY, toMillis: T0 + DAY })).toEqual(['d0', 'd1', 'd2']);
    } finally {
      await store.close();
    }
  });
});
