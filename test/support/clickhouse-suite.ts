/**
 * The ClickHouse store's tests against a server, shared by the ClickHouse
 * 18.16 suite (test/store/clickhouse.test.ts, the dev/CI server) and the
 * current-release suite (test/store/clickhouse-current.test.ts, chDB behind
 * scripts/chdb_http.py), and the launcher of that shim.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { StoreError } from '../../contracts/index.js';
import { openStore } from '../../store/index.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import type { ClickHouseRollups } from '../../store/rollup/clickhouse.js';
import { clickHouseErrorCode } from '../../store/_clickhouse.js';
import { defineStoreConformance } from '../store/conformance.js';
import { defineRollupConformance } from '../rollup/conformance.js';
import { clickhouseExec } from './services.js';
import { runSpans } from './spans.js';

export interface ClickHouseServerSuiteOptions {
  /** Name of the store conformance suite, e.g. `ClickHouse`. */
  name: string;
  /** HTTP URL of the server, without a trailing slash; called inside tests, so it may be set by a `beforeAll`. */
  url(): string;
}

/**
 * Defines, in the calling `describe`, the store conformance suite and the
 * ClickHouse-only checks (migrations, quoting round trip, merges, partitions,
 * 64-bit times, error codes) against the server at `options.url()`. Each test
 * gets a fresh database, dropped after it.
 */
export function defineClickHouseServerSuite(options: ClickHouseServerSuiteOptions): void {
  /** Databases created by this suite's tests, dropped after each test. */
  let databases: string[] = [];
  const freshDatabase = (): string => {
    const db = `jobslo_test_${randomUUID().replaceAll('-', '')}`;
    databases.push(db);
    return db;
  };
  const exec = (sql: string): Promise<string> => clickhouseExec(sql, options.url());

  async function openFresh(): Promise<ClickHouseStore> {
    const store = await ClickHouseStore.open({ url: options.url(), database: freshDatabase() });
    await store.migrate();
    return store;
  }

  afterEach(async () => {
    const drop = databases;
    databases = [];
    for (const db of drop) await exec(`DROP DATABASE IF EXISTS ${db}`);
  });

  defineStoreConformance(options.name, {
    open: openFresh,
    async forgetJobRows(store) {
      const ch = store as ClickHouseStore;
      await exec(`TRUNCATE TABLE ${ch.jobRowsTable}`);
      await exec(`TRUNCATE TABLE ${ch.spansTable.replace(/\.spans$/, '.unformed_spans')}`);
      await exec(`DROP TABLE ${ch.spansTable.replace(/\.spans$/, '.jobslo_migrations')}`);
      // A release before job rows had no rollups either.
      for (const t of ['rollup_minute', 'rollup_hour', 'rollup_marks', 'rollup_state']) await exec(`TRUNCATE TABLE ${ch.spansTable.replace(/\.spans$/, `.${t}`)}`);
    },
    // Same interpolation as DuckDB's quantile_cont, computed by ClickHouse: exact up to float rounding.
    latencyTolerance: 0,
  });

  defineRollupConformance(options.name, {
    async open(rollups) {
      // A long request timeout: the chDB shim runs one query at a time, so the raw queries of freshness SLOs evaluated 4 at once queue.
      const store = await ClickHouseStore.open({ url: options.url(), database: freshDatabase(), rollups, requestTimeoutMillis: 300_000 });
      await store.migrate();
      return store;
    },
    async writeMinutes(store, minutes) {
      await (store as unknown as { rollups: ClickHouseRollups }).rollups.writeBuckets(minutes, [], BigInt(Date.now()) * 1_000_000n);
    },
    async toFormat1(store) {
      const db = (store as ClickHouseStore).jobRowsTable.replace(/\.job_rows$/, '');
      await exec(
        `ALTER TABLE ${db}.rollup_minute DROP COLUMN start_ns, DROP COLUMN has_start, DROP COLUMN trace_id, DROP COLUMN span_id, DROP COLUMN exit_code, DROP COLUMN message, DROP COLUMN outcome_text`,
      );
      await exec(`ALTER TABLE ${db}.rollup_hour DROP COLUMN first_start_ns, DROP COLUMN has_first_start, DROP COLUMN ss_minute_ns, DROP COLUMN ss_lo_ns, DROP COLUMN ss_hi_ns`);
      await exec(`TRUNCATE TABLE ${db}.rollup_state`);
      await exec(`INSERT INTO ${db}.rollup_state VALUES ('built', 1)`);
    },
  });

  it('openStore opens clickhouse: URLs and migrates; migrating again is a no-op', async () => {
    const db = freshDatabase();
    const store = await openStore(`clickhouse:${options.url()}/${db}`);
    try {
      expect(store.kind).toBe('clickhouse');
      await store.migrate();
      const versions = await exec(`SELECT version FROM ${db}.jobslo_migrations ORDER BY version FORMAT TSV`);
      expect(versions.trim().split('\n')).toEqual(['1', '2', '3', '4']);
      const engine = await exec(`SELECT engine FROM system.tables WHERE database = '${db}' AND name = 'spans' FORMAT TSV`);
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
      expect(await exec(`SELECT count() FROM ${store.spansTable} FORMAT TSV`)).toBe(`${names.length * 2}\n`);
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
      expect(await exec(`SELECT count() FROM ${store.spansTable} FORMAT TSV`)).toBe('8\n');
      expect(await exec(`SELECT count() FROM ${store.jobRowsTable} FORMAT TSV`)).toBe('8\n');
      await exec(`OPTIMIZE TABLE ${store.spansTable} FINAL`);
      await exec(`OPTIMIZE TABLE ${store.jobRowsTable} FINAL`);
      expect(await exec(`SELECT count() FROM ${store.spansTable} FORMAT TSV`)).toBe('3\n');
      expect(await exec(`SELECT count() FROM ${store.jobRowsTable} FORMAT TSV`)).toBe('3\n');
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
      const parts = async (table = 'spans'): Promise<string[]> =>
        (await exec(`SELECT DISTINCT partition_id FROM system.parts WHERE database = '${store.spansTable.split('.')[0]?.replaceAll('`', '')}' AND table = '${table}' AND active ORDER BY partition_id FORMAT TSV`))
          .trim()
          .split('\n');
      expect(await parts()).toEqual(['20261116', '20261117', '20261118', '20261119', '20261120']);
      expect(await parts('job_rows')).toEqual(['20261116', '20261117', '20261118', '20261119', '20261120']);
      // Partition pruning: a query over the last hour reads the partitions of the lookback day and today only.
      for (const table of [store.spansTable, store.jobRowsTable]) {
        const res = await fetch(`${options.url()}/`, { method: 'POST', body: `SELECT count() FROM ${table} WHERE end_ns >= ${BigInt(T0 - DAY) * 1_000_000n} FORMAT JSON` });
        const stats = ((await res.json()) as { statistics: { rows_read: number } }).statistics;
        expect(stats.rows_read, table).toBe(4);
      }
      expect(await store.dropBefore(T0 - 2 * DAY)).toEqual({ rawDays: 2, rollupPartitions: 0 });
      expect(await parts()).toEqual(['20261118', '20261119', '20261120']);
      expect(await parts('job_rows')).toEqual(['20261118', '20261119', '20261120']);
      expect(await store.dropBefore(T0 - 2 * DAY)).toEqual({ rawDays: 0, rollupPartitions: 0 });
      expect(await store.jobNames({ fromMillis: T0 - 10 * DAY, toMillis: T0 + DAY })).toEqual(['d0', 'd1', 'd2']);
    } finally {
      await store.close();
    }
  });

  it('reads nanosecond times back exactly (64-bit integers must not pass through a JS number)', async () => {
    const store = await openFresh();
    try {
      // Hour-aligned T0: 1 ns after T0 and 1 ns before T0 + 4 ms are the values a
      // double rounds to T0 and T0 + 4 ms (ties at multiples of 256 ns here).
      const T0 = Date.UTC(2026, 10, 1, 12);
      const startNs = BigInt(T0) * 1_000_000n + 1n;
      const endNs = BigInt(T0 + 4) * 1_000_000n - 1n;
      expect(BigInt(Number(endNs)), 'the fixture must be a value a double cannot hold').not.toBe(endNs);
      const spans = runSpans({ job: 'ns', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 4, outcome: 'succeeded', exitCode: 0 }] }).map((s) => ({
        ...s,
        startTimeUnixNano: startNs,
        endTimeUnixNano: endNs,
      }));
      await store.insertSpans(spans);
      const [row] = await store.query(`SELECT min(start_ns) AS s, max(end_ns) AS e FROM ${store.spansTable}`);
      expect([String(row?.['s']), String(row?.['e'])]).toEqual([startNs.toString(), endNs.toString()]);
      const [run] = await store.listRuns({ fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000, jobs: 'ns' });
      expect(run).toMatchObject({ startMillis: T0, endMillis: T0 + 3, latencyMillis: Number(endNs - startNs) / 1e6 });
    } finally {
      await store.close();
    }
  });

  it('reports a server error as JOBSLO_ERR_STORE_QUERY carrying the server error code', async () => {
    const store = await openFresh();
    try {
      const err = await store.query(`SELECT no_such_column FROM ${store.spansTable}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('JOBSLO_ERR_STORE_QUERY');
      // 47 UNKNOWN_IDENTIFIER on 18.16 and on current releases.
      expect(clickHouseErrorCode((err as StoreError).cause)).toBe(47);
    } finally {
      await store.close();
    }
  });
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** chDB's package version and the ClickHouse engine version it embeds. */
export interface ChdbVersions {
  chdb: string;
  engine: string;
}

/**
 * The installed chDB, from `python3 -c 'import chdb'`, or undefined with the
 * reason when it cannot be imported. Synchronous, so a test file can name its
 * suites with the versions.
 */
export function chdbVersions(): ChdbVersions | { error: string } {
  const res = spawnSync('python3', ['-c', "import chdb; print(chdb.__version__, getattr(chdb, 'engine_version', '?'))"], { encoding: 'utf8', timeout: 60_000 });
  if (res.error) return { error: `python3 did not run: ${res.error.message}` };
  if (res.status !== 0) return { error: `python3 -c 'import chdb' failed: ${(res.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}` };
  const [chdb = '?', engine = '?'] = res.stdout.trim().split(/\s+/);
  return { chdb, engine };
}

/** A running scripts/chdb_http.py. */
export interface ChdbShim {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Stops the shim (SIGTERM, then SIGKILL after 5 s) and removes its data dir. Idempotent. */
  stop(): Promise<void>;
}

/** Starts scripts/chdb_http.py on a free port with a fresh temp data dir; resolves when it listens. */
export async function startChdbShim(readyTimeoutMillis = 60_000): Promise<ChdbShim> {
  const dir = mkdtempSync(join(tmpdir(), 'jobslo-test-chdb-'));
  // --exit-on-stdin-eof: the shim exits with this process even if afterAll never runs.
  const child = spawn('python3', [join(REPO, 'scripts', 'chdb_http.py'), '--port', '0', '--data', dir, '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 20_000) stderr += d;
  });
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`scripts/chdb_http.py did not listen within ${readyTimeoutMillis} ms; stderr: ${stderr.trim()}`)), readyTimeoutMillis);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`scripts/chdb_http.py exited (${code ?? signal}) before listening; stderr: ${stderr.trim()}`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    await stopChild(child, exited);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
