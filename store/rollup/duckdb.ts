/**
 * The rollup tables of the DuckDB store. Buckets are replaced inside a
 * transaction (delete then insert), so a reader never sees half a bucket;
 * marks are deleted in the same transaction as the buckets they produced.
 */
import { BIGINT, BOOLEAN, VARCHAR } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { appendChunks } from '../_duckdb_chunks.js';
import type { ChunkColumn } from '../_duckdb_chunks.js';
import { StoreError, errorMessage } from '../../contracts/index.js';
import type { JobRow } from '../derive/index.js';
import type { WindowCount, WindowCountsQuery } from '../types.js';
import type { NsRange } from './buckets.js';
import { globToLike, isGlob } from '../_sql.js';
import { rowObjects } from '../_duckdb.js';
import type { DimensionFilter, JobSelector } from '../types.js';
import { HOUR_NS, MINUTE_NS, ROLLUP_FORMAT, ceilDiv, floorDiv } from './buckets.js';
import { OTHER_OUTCOME_CODE, OUTCOME_CODES, outcomeCode } from './content.js';
import type { HourContent, RegisteredThreshold, RunFact } from './content.js';
import { buildRollups, refreshRollups } from './maintain.js';
import type { MinuteContent, RefreshResult, RollupMark } from './maintain.js';
import { coalescedStarts, distinctRanges, onlyJobsCondition, distinctThresholds, rollupRunStartsMany, rollupRunsReadable, rollupSeries, rollupWindowCounts, sumParts } from './read.js';
import type { EdgePart, HourPart, PartCount, RollupReadBackend, RunListRollupQuery, SeriesRollupQuery, StartsQuery } from './read.js';

/** Whether the rollups were built, and the format of their buckets (1 before formats were recorded). */
const STATE_SQL = `SELECT count(*) FILTER (WHERE key = 'built') AS built, coalesce(max(value) FILTER (WHERE key = 'format'), 1) AS format FROM rollup_state`;

/** Rollup tables; created by the store's migrate, idempotently. */
const TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS rollup_marks (seq BIGINT NOT NULL, job VARCHAR NOT NULL, run_id VARCHAR NOT NULL, end_ns BIGINT NOT NULL, terminal BOOLEAN NOT NULL)`,
  // One row per run that a minute bucket holds. Older formats lacked columns: the rebuild that migrate runs for a
  // format below ROLLUP_FORMAT.duckdb creates the table anew (the appender writes columns in this order).
  // outcome_text is the run's outcome when it is none of OUTCOME_CODES (code OTHER_OUTCOME_CODE), else null.
  `CREATE TABLE IF NOT EXISTS rollup_minute_runs (
    job VARCHAR NOT NULL, minute_ns BIGINT NOT NULL, end_ns BIGINT NOT NULL, outcome UTINYINT NOT NULL,
    latency_ns BIGINT, attempts INTEGER NOT NULL, ran BOOLEAN NOT NULL, start_ns BIGINT,
    run_id VARCHAR, dead_lettered BOOLEAN, queued_ns BIGINT, cost DOUBLE, cpu_seconds DOUBLE, max_rss_bytes DOUBLE, error_type VARCHAR,
    trace_id VARCHAR, span_id VARCHAR, exit_code BIGINT, message VARCHAR, outcome_text VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS rollup_hour (
    job VARCHAR NOT NULL, hour_ns BIGINT NOT NULL, succeeded BIGINT NOT NULL, failed BIGINT NOT NULL, timed_out BIGINT NOT NULL,
    cancelled BIGINT NOT NULL, skipped BIGINT NOT NULL, other BIGINT NOT NULL, attempts BIGINT NOT NULL, first_start_ns BIGINT)`,
  // Good runs per registered threshold, a row per threshold the hour counts (zeros included).
  `CREATE TABLE IF NOT EXISTS rollup_hour_good (job VARCHAR NOT NULL, hour_ns BIGINT NOT NULL, threshold_ns BIGINT NOT NULL, good BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS rollup_hour_sketch (job VARCHAR NOT NULL, hour_ns BIGINT NOT NULL, key INTEGER NOT NULL, n BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS rollup_thresholds (jobs VARCHAR NOT NULL, threshold_ns BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS rollup_state (key VARCHAR NOT NULL, value BIGINT NOT NULL)`,
];

/** What the rollups need from the DuckDB store. */
export interface DuckDbRollupHost {
  /** Runs `fn` with the store's connection, after every earlier operation and before any later one. */
  exclusive<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
  /** The raw run derivation of these jobs (null: all) for runs with a final outcome in the range. */
  runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]>;
}

/** The `rollup_marks` columns in table order. */
const MARK_COLUMNS: readonly ChunkColumn<{ seq: bigint; r: JobRow }>[] = [
  { type: BIGINT, value: (m) => m.seq },
  { type: VARCHAR, value: (m) => m.r.job },
  { type: VARCHAR, value: (m) => m.r.runId },
  { type: BIGINT, value: (m) => m.r.endNs },
  { type: BOOLEAN, value: (m) => m.r.terminal },
];

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(String(v)));

/** A string as a DuckDB literal (single quotes doubled). */
function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The DuckDB side of the rollups. */
export class DuckDbRollups implements RollupReadBackend {
  private seq = -1n;

  constructor(private readonly host: DuckDbRollupHost) {}

  private async rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
    try {
      return rowObjects(await conn.runAndReadAll(sql));
    } catch (cause) {
      throw new StoreError('JOBSLO_ERR_STORE_QUERY', `DuckDB rollup query failed: ${errorMessage(cause)}`, { cause });
    }
  }

  private read(sql: string): Promise<Record<string, unknown>[]> {
    return this.host.exclusive((conn) => this.rows(conn, sql));
  }

  /**
   * Creates the rollup tables and, on a store that has job rows but no
   * rollups yet, builds them (reporting each day built).
   */
  async migrate(onProgress?: (done: number, total: number) => void): Promise<void> {
    const state = await this.host.exclusive(async (conn) => {
      for (const t of TABLES) await conn.run(t);
      // Format 3 had no earliest start per hour (the rebuild below fills it).
      await conn.run('ALTER TABLE rollup_hour ADD COLUMN IF NOT EXISTS first_start_ns BIGINT');
      const [r] = await this.rows(conn, STATE_SQL);
      return { built: Number(r?.['built'] ?? 0) > 0, format: Number(r?.['format'] ?? 1) };
    });
    if (state.built && state.format >= ROLLUP_FORMAT.duckdb) return;
    if (state.built) {
      // Buckets of an older format lack columns: rebuild them all from the job rows.
      await this.host.exclusive(async (conn) => {
        await conn.run('DROP TABLE rollup_minute_runs');
        await conn.run(TABLES[1] as string);
        for (const t of ['rollup_hour', 'rollup_hour_good', 'rollup_hour_sketch']) await conn.run(`DELETE FROM ${t}`);
      });
    }
    await buildRollups(this, onProgress);
    await this.host.exclusive(async (conn) => {
      await conn.run(`DELETE FROM rollup_state WHERE key IN ('built', 'format')`);
      await conn.run(`INSERT INTO rollup_state VALUES ('built', ${BigInt(Date.now())}), ('format', ${ROLLUP_FORMAT.duckdb})`);
    });
  }

  private seqRead: Promise<void> | undefined;

  /** Reads the last mark sequence number once; call before {@link reserve}. */
  async ready(): Promise<void> {
    if (this.seq >= 0n) return;
    this.seqRead ??= this.host
      .exclusive(async (conn) => {
        const m = big((await this.rows(conn, 'SELECT coalesce(max(seq), 0) AS m FROM rollup_marks'))[0]?.['m'] ?? 0);
        if (this.seq < 0n) this.seq = m;
      })
      .finally(() => {
        this.seqRead = undefined;
      });
    await this.seqRead;
  }

  /**
   * Reserves `count` sequence numbers and returns the first. Marks must be
   * committed in the order their numbers were reserved (acknowledging marks
   * deletes every number up to the highest one read), so an inserter
   * reserves them in the same synchronous step as its turn to commit.
   */
  reserve(count: number): bigint {
    if (this.seq < 0n) throw new StoreError('JOBSLO_ERR_STORE_QUERY', 'rollup mark sequence read before use (call ready() first)');
    const first = this.seq + 1n;
    this.seq += BigInt(count);
    return first;
  }

  /**
   * Appends a mark per job row on `conn`, numbered from `first` (see
   * {@link reserve}), inside the caller's use of it: the insert's own
   * transaction, so the rows and their marks are committed together.
   */
  async writeMarks(conn: DuckDBConnection, rows: readonly JobRow[], first: bigint): Promise<void> {
    if (rows.length === 0) return;
    const appender = await conn.createAppender('rollup_marks');
    try {
      const marks = rows.map((r, i) => ({ seq: first + BigInt(i), r }));
      appendChunks(appender, MARK_COLUMNS, marks);
      appender.flushSync();
    } catch (cause) {
      throw new StoreError('JOBSLO_ERR_STORE_QUERY', `cannot record rollup marks: ${errorMessage(cause)}`, { cause });
    } finally {
      appender.closeSync();
    }
  }

  /** Applies pending marks. */
  refresh(onStep?: (r: RefreshResult) => void): Promise<RefreshResult> {
    return refreshRollups(this, onStep);
  }

  /** {@link Store.windowCountsMany} from the rollups; null when they cannot answer. */
  windowCountsMany(queries: readonly WindowCountsQuery[]): Promise<WindowCount[][] | null> {
    return rollupWindowCounts(this, queries);
  }

  /** {@link Store.runStartsMany} from the minute buckets; null for each query they cannot answer. */
  runStartsMany(queries: readonly StartsQuery[]): Promise<(number[] | null)[]> {
    return rollupRunStartsMany(this, queries);
  }

  /**
   * The coalesced queries of exact job names in one scan of the minute runs
   * (a join with the queries on the job: the cost of a freshness evaluation
   * cycle then hardly grows with its SLOs); globs and uncoalesced queries one
   * read each.
   */
  async startsOfMany(queries: readonly StartsQuery[]): Promise<number[][]> {
    const out: number[][] = queries.map(() => []);
    const batched: number[] = [];
    for (const [i, q] of queries.entries()) {
      if (!isGlob(q.jobs) && q.coalesceMillis !== undefined) batched.push(i);
      else out[i] = await this.startsOf(q);
    }
    if (batched.length === 0) return out;
    const qs = batched.map((i) => queries[i] as StartsQuery);
    const fromNs = qs.reduce((m, q) => (q.fromNs < m ? q.fromNs : m), qs[0]?.fromNs ?? 0n);
    const toNs = qs.reduce((m, q) => (q.toNs > m ? q.toNs : m), 0n);
    const values = qs.map((q, k) => `(${k}, ${lit(q.jobs)}, ${q.fromNs}::BIGINT, ${q.toNs}::BIGINT, ${q.which === 'succeeded'}, ${Math.trunc(q.coalesceMillis ?? 1)}::BIGINT)`).join(', ');
    // A run ends no earlier than it starts: its minute bucket starts at most a minute before its start.
    const rows = await this.read(
      `SELECT q.k, min(r.start_ns // 1000000) AS lo, max(r.start_ns // 1000000) AS hi
       FROM (
         SELECT job, start_ns, outcome FROM rollup_minute_runs
         WHERE minute_ns >= ${fromNs - 60_000_000_000n} AND job IN (${[...new Set(qs.map((q) => lit(q.jobs)))].join(', ')})
           AND start_ns >= ${fromNs} AND start_ns < ${toNs} AND outcome <> 4
       ) r
       JOIN (VALUES ${values}) q(k, job, from_ns, to_ns, succeeded, width) ON r.job = q.job
       WHERE r.start_ns >= q.from_ns AND r.start_ns < q.to_ns AND (NOT q.succeeded OR r.outcome = 0)
       GROUP BY q.k, (r.start_ns // 1000000) // q.width
       ORDER BY q.k, lo`,
    );
    const byQuery = new Map<number, Record<string, unknown>[]>();
    for (const r of rows) {
      const k = Number(r['k']);
      const list = byQuery.get(k);
      if (list) list.push(r);
      else byQuery.set(k, [r]);
    }
    batched.forEach((i, k) => {
      out[i] = coalescedStarts(byQuery.get(k) ?? []);
    });
    return out;
  }

  /**
   * {@link RollupReadBackend.firstStarts}: the hour buckets from the hour of
   * the earliest minute bucket (hour buckets of earlier days outlive their
   * runs), all selectors in one read.
   */
  async firstStarts(jobs: readonly JobSelector[]): Promise<(bigint | null)[]> {
    if (jobs.length === 0) return [];
    const branches = jobs.map((j, k) => `SELECT ${k} AS k, min(h.first_start_ns) AS lo FROM rollup_hour h, b WHERE h.hour_ns >= b.from_ns AND h.${jobCondition(j)}`);
    const rows = await this.read(
      `WITH b AS (SELECT (min(minute_ns) // ${HOUR_NS}) * ${HOUR_NS} AS from_ns FROM rollup_minute_runs)
       ${branches.join(' UNION ALL ')}`,
    );
    const out: (bigint | null)[] = jobs.map(() => null);
    for (const r of rows) {
      const lo = r['lo'];
      if (lo !== null && lo !== undefined) out[Number(r['k'])] = BigInt(String(lo));
    }
    return out;
  }

  async startsOf(query: StartsQuery): Promise<number[]> {
    const cond = jobCondition(query.jobs);
    const outcome = query.which === 'succeeded' ? 'outcome = 0' : 'outcome <> 4';
    // A run ends no earlier than it starts: its minute bucket starts at most a minute before its start.
    const starts = `SELECT start_ns // 1000000 AS s FROM rollup_minute_runs
         WHERE minute_ns >= ${query.fromNs - 60_000_000_000n} AND ${cond} AND ${outcome}
           AND start_ns >= ${query.fromNs} AND start_ns < ${query.toNs}`;
    if (query.coalesceMillis === undefined) return (await this.read(`${starts} ORDER BY s`)).map((r) => Number(r['s']));
    return coalescedStarts(await this.read(`SELECT min(s) AS lo, max(s) AS hi FROM (${starts}) GROUP BY s // ${Math.trunc(query.coalesceMillis)} ORDER BY lo`));
  }

  /** Time series rows from the minute buckets; null when they cannot answer. */
  series(query: SeriesRollupQuery, where: DimensionFilter | undefined): Promise<Record<string, unknown>[] | null> {
    return rollupSeries(this, query, where);
  }

  seriesOf(q: SeriesRollupQuery): Promise<Record<string, unknown>[]> {
    const good = q.thresholdNs === null ? 'outcome = 0' : `outcome = 0 AND latency_ns <= ${q.thresholdNs}`;
    const job = q.byJob ? 'job, ' : '';
    // The same columns and arithmetic as the raw path's series query, over the kept runs instead of derived ones.
    return this.read(
      `SELECT ${job}((end_ns - 1) // ${q.bucketNs}) * ${q.bucketNs} AS bucket_ns,
         count(*) AS runs,
         count(*) FILTER (WHERE outcome = 0) AS succeeded,
         count(*) FILTER (WHERE ${good}) AS good,
         quantile_cont(latency_ns / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ran) AS latency
       FROM rollup_minute_runs
       WHERE minute_ns >= ${floorDiv(q.fromNs, MINUTE_NS) * MINUTE_NS} AND minute_ns < ${ceilDiv(q.toNs, MINUTE_NS) * MINUTE_NS}
         AND end_ns > ${q.fromNs} AND end_ns <= ${q.toNs} AND outcome IN (0, 1, 2) AND ${jobCondition(q.jobs)}${onlyJobsCondition(q.onlyJobs, lit)}
       GROUP BY ${job}bucket_ns
       ORDER BY ${job}bucket_ns`,
    );
  }

  /**
   * Drops minute buckets before `minuteBeforeNs` (with the job rows' retention)
   * and hour buckets before `hourBeforeNs` (a UTC day start at or before it);
   * resolves to how many UTC days of hour buckets went.
   */
  async dropBefore(minuteBeforeNs: bigint, hourBeforeNs: bigint): Promise<number> {
    return this.host.exclusive(async (conn) => {
      await conn.run(`DELETE FROM rollup_minute_runs WHERE minute_ns < ${minuteBeforeNs}`);
      const days = await conn.runAndReadAll(`SELECT count(DISTINCT hour_ns // ${24n * 3_600_000_000_000n}) AS n FROM rollup_hour WHERE hour_ns < ${hourBeforeNs}`);
      for (const t of ['rollup_hour', 'rollup_hour_good', 'rollup_hour_sketch']) await conn.run(`DELETE FROM ${t} WHERE hour_ns < ${hourBeforeNs}`);
      return Number((days.getRowObjectsJS() as Record<string, unknown>[])[0]?.['n'] ?? 0);
    });
  }

  async pendingMarks(limit: number): Promise<{ marks: RollupMark[]; token: bigint }> {
    const rows = await this.read(`SELECT seq, job, run_id, end_ns, terminal FROM rollup_marks ORDER BY seq LIMIT ${Math.trunc(limit)}`);
    let token = 0n;
    const marks = rows.map((r) => {
      const s = big(r['seq']);
      if (s > token) token = s;
      return { job: String(r['job']), runId: String(r['run_id']), endNs: big(r['end_ns']), terminal: r['terminal'] === true };
    });
    return { marks, token };
  }

  async ackMarks(token: bigint): Promise<void> {
    await this.read(`DELETE FROM rollup_marks WHERE seq <= ${token}`);
  }

  async terminalMinutes(runs: readonly { job: string; runId: string }[], range: NsRange): Promise<{ job: string; minuteNs: bigint }[]> {
    if (runs.length === 0) return [];
    const out: { job: string; minuteNs: bigint }[] = [];
    return this.host.exclusive(async (conn) => {
      await conn.run('CREATE OR REPLACE TEMP TABLE rollup_dirty_runs (job VARCHAR, run_id VARCHAR)');
      const a = await conn.createAppender('rollup_dirty_runs', 'main', 'temp');
      try {
        for (const r of runs) {
          a.appendVarchar(r.job);
          a.appendVarchar(r.runId);
          a.endRow();
        }
        a.flushSync();
      } finally {
        a.closeSync();
      }
      const rows = await this.rows(
        conn,
        `SELECT DISTINCT r.job, ((r.end_ns - 1) // 60000000000) * 60000000000 AS minute_ns
         FROM job_rows r SEMI JOIN rollup_dirty_runs d ON r.job = d.job AND r.run_id = d.run_id
         WHERE r.terminal AND r.end_ns > ${range.loNs} AND r.end_ns <= ${range.hiNs}`,
      );
      for (const r of rows) out.push({ job: String(r['job']), minuteNs: big(r['minute_ns']) });
      return out;
    });
  }

  runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]> {
    return this.host.runFacts(jobs, range);
  }

  async storedRange(): Promise<NsRange | null> {
    const [r] = await this.read('SELECT min(end_ns) AS lo, max(end_ns) AS hi FROM job_rows WHERE terminal');
    if (!r || r['lo'] === null || r['lo'] === undefined) return null;
    return { loNs: big(r['lo']) - 1n, hiNs: big(r['hi']) };
  }

  async rowStartsAfter(ns: bigint): Promise<boolean> {
    return (await this.read(`SELECT 1 AS x FROM job_rows WHERE end_ns > ${ns} AND start_ns > ${ns} LIMIT 1`)).length > 0;
  }

  async runsStraddle(fromNs: bigint, toNs: bigint): Promise<boolean> {
    const rows = await this.read(
      `SELECT 1 AS x FROM job_rows a SEMI JOIN (
         SELECT job, run_id FROM job_rows WHERE end_ns > ${fromNs} AND start_ns <= ${toNs}
       ) b ON a.job = b.job AND a.run_id = b.run_id
       WHERE a.end_ns > ${toNs} AND a.start_ns > ${toNs} LIMIT 1`,
    );
    return rows.length > 0;
  }

  /** True when the minute buckets answer reads of the runs that end in the range (see {@link rollupRunsReadable}). */
  readable(fromNs: bigint, toNs: bigint, where: DimensionFilter | undefined): Promise<boolean> {
    return rollupRunsReadable(this, fromNs, toNs, where);
  }

  /**
   * Queue intervals (job, s = queued, e = first start) of the kept runs queued
   * at or before `toNs` and started in `(fromNs, toNs]`, as the raw queue depth
   * query takes them from derived runs.
   */
  queueIntervalsSql(fromNs: bigint, toNs: bigint): string {
    return `SELECT job, queued_ns AS s, start_ns AS e FROM rollup_minute_runs
      WHERE minute_ns >= ${floorDiv(fromNs, MINUTE_NS) * MINUTE_NS} AND queued_ns IS NOT NULL AND start_ns > queued_ns
        AND start_ns > ${fromNs} AND start_ns <= ${toNs} AND queued_ns <= ${toNs}`;
  }

  /**
   * Per-job aggregate rows of the runs the minute buckets keep that end in
   * `(fromNs, toNs]`: the raw path's columns and arithmetic (see the store's
   * jobAggregates), over kept runs instead of derived ones.
   */
  aggregateRows(fromNs: bigint, toNs: bigint): Promise<Record<string, unknown>[]> {
    const counted = 'outcome IN (0, 1, 2)';
    return this.read(
      `SELECT *, latency[1] AS latency_p50, latency[2] AS latency_p95, latency[3] AS latency_p99,
         queue_delay[1] AS queue_p50, queue_delay[2] AS queue_p95
       FROM (
         SELECT job,
           count(*) FILTER (WHERE ${counted}) AS runs,
           count(*) FILTER (WHERE outcome = 0) AS succeeded,
           count(*) FILTER (WHERE outcome IN (1, 2)) AS failed,
           count(*) FILTER (WHERE outcome = 2) AS timed_out,
           count(*) FILTER (WHERE outcome = 3) AS cancelled,
           count(*) FILTER (WHERE outcome = 4) AS skipped,
           count(*) FILTER (WHERE dead_lettered AND ${counted}) AS n_dead_lettered,
           quantile_cont(latency_ns / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ${counted} AND ran) AS latency,
           coalesce(sum(attempts - 1) FILTER (WHERE ${counted}), 0) AS retries,
           quantile_cont(greatest(start_ns - queued_ns, 0) / 1e6, [0.5, 0.95]) FILTER (WHERE queued_ns IS NOT NULL AND ran) AS queue_delay,
           count(*) FILTER (WHERE queued_ns IS NOT NULL AND ran) AS queued_runs,
           sum(cost) FILTER (WHERE ${counted}) AS cost_total,
           count(cost) FILTER (WHERE ${counted}) AS costed_runs,
           sum(cpu_seconds) FILTER (WHERE ${counted}) AS cpu_total,
           count(cpu_seconds) FILTER (WHERE ${counted}) AS cpu_runs,
           quantile_cont(max_rss_bytes, 0.95) FILTER (WHERE ${counted}) AS rss_p95,
           to_json(list(CASE WHEN error_type <> '' THEN error_type WHEN outcome = 2 THEN 'timeout' ELSE 'failed' END)
             FILTER (WHERE outcome IN (1, 2))) AS modes
         FROM rollup_minute_runs
         WHERE ${minuteRange(fromNs, toNs)}
         GROUP BY job
       )`,
    );
  }

  /**
   * Latency bin (how many of the ascending `edgesSql`, DOUBLE literals, are at
   * or below the latency in ms; 0 without one), attempts and count rows of the
   * kept counted runs of the selected jobs that end in `(fromNs, toNs]`.
   */
  distributionRows(jobs: JobSelector, fromNs: bigint, toNs: bigint, edgesSql: readonly string[]): Promise<Record<string, unknown>[]> {
    const where = `${minuteRange(fromNs, toNs)} AND outcome IN (0, 1, 2) AND ${jobCondition(jobs)}`;
    if (edgesSql.length === 0) return this.read(`SELECT job, 0 AS bin, attempts, count(*) AS n FROM rollup_minute_runs WHERE ${where} GROUP BY ALL`);
    // Bin i starts at edge i-1 (bin 0 at -inf, for runs without a latency too); a run falls in the bin with the
    // greatest start at or below its latency: an ASOF join (a sort-merge, not a list scan or a range join per run).
    const starts = ["'-inf'::DOUBLE", ...edgesSql.map((e) => `${e}::DOUBLE`)].map((lo, i) => `(${i}, ${lo})`);
    return this.read(
      `WITH bins(bin, lo) AS (VALUES ${starts.join(', ')})
       SELECT r.job, b.bin, r.attempts, count(*) AS n
       FROM (SELECT job, attempts, coalesce(latency_ns / 1e6, '-inf'::DOUBLE) AS lat FROM rollup_minute_runs WHERE ${where}) r
       ASOF JOIN bins b ON r.lat >= b.lo
       GROUP BY ALL`,
    );
  }

  private listColumns = false;

  async listColumnsReady(): Promise<boolean> {
    if (this.listColumns) return true;
    const [r] = await this.read(STATE_SQL);
    this.listColumns = Number(r?.['built'] ?? 0) > 0 && Number(r?.['format'] ?? 1) >= ROLLUP_FORMAT.duckdb;
    return this.listColumns;
  }

  /**
   * A run list from the minute buckets alone (format 6 keeps every column a
   * list shows): the latest or slowest `limit` runs ending in the range, in
   * all or per job, in the raw list's order, as run list rows.
   */
  listRows(q: RunListRollupQuery): Promise<Record<string, unknown>[]> {
    const order = q.slowest ? 'latency_ns DESC NULLS LAST, end_ns DESC, run_id, job' : 'end_ns DESC, run_id, job';
    const cond = `${minuteRange(q.fromNs, q.toNs)} AND ${jobCondition(q.jobs)}${q.failed ? ' AND outcome IN (1, 2)' : ''}`;
    const names = `[${OUTCOME_CODES.map(lit).join(', ')}]`;
    const columns = `job, run_id, trace_id, span_id, coalesce(outcome_text, ${names}[outcome + 1]) AS outcome, start_ns AS first_start_ns,
      start_ns + latency_ns AS last_end_ns, attempts, error_type, exit_code, message, dead_lettered`;
    if (!q.perJob) return this.read(`SELECT ${columns} FROM rollup_minute_runs WHERE ${cond} ORDER BY ${order} LIMIT ${q.limit}`);
    // Per job, the window function ranks only the runs at or above the job's limit-th greatest sort key (every run
    // of a job with fewer keys): those hold the first `limit` in the order, ties included, and are few.
    const key = q.slowest ? 'latency_ns' : 'end_ns';
    return this.read(
      `WITH cut AS (
         SELECT job, CASE WHEN count(${key}) >= ${q.limit} THEN list_min(max(${key}, ${q.limit})) END AS lo FROM rollup_minute_runs WHERE ${cond} GROUP BY job
       )
       SELECT ${columns} FROM rollup_minute_runs JOIN cut USING (job)
       WHERE ${cond} AND (cut.lo IS NULL OR ${key} >= cut.lo)
       QUALIFY row_number() OVER (PARTITION BY job ORDER BY ${order}) <= ${q.limit}
       ORDER BY job, ${order}`,
    );
  }

  async minuteRuns(jobs: readonly string[], fromNs: bigint, toNs: bigint): Promise<RunFact[]> {
    if (jobs.length === 0) return [];
    const rows = await this.read(
      `SELECT job, end_ns, start_ns, outcome, latency_ns, attempts, ran FROM rollup_minute_runs
       WHERE minute_ns >= ${fromNs} AND minute_ns < ${toNs} AND job IN (${jobs.map(lit).join(', ')})`,
    );
    return rows.map((r) => ({
      job: String(r['job']),
      runId: '',
      runEndNs: big(r['end_ns']),
      startNs: r['start_ns'] === null || r['start_ns'] === undefined ? null : big(r['start_ns']),
      outcome: OUTCOME_CODES[Number(r['outcome'])] ?? 'other',
      latencyNs: r['latency_ns'] === null || r['latency_ns'] === undefined ? null : big(r['latency_ns']),
      attempts: Number(r['attempts']),
      ran: r['ran'] === true,
    }));
  }

  async writeBuckets(minutes: readonly MinuteContent[], hours: readonly HourContent[]): Promise<void> {
    await this.host.exclusive(async (conn) => {
      await conn.run('BEGIN TRANSACTION');
      try {
        await conn.run('CREATE OR REPLACE TEMP TABLE rollup_keys (kind UTINYINT, job VARCHAR, bucket_ns BIGINT)');
        await append(conn, 'rollup_keys', (a) => {
          for (const m of minutes) row(a, () => (a.appendUTinyInt(0), a.appendVarchar(m.job), a.appendBigInt(m.minuteNs)));
          for (const h of hours) row(a, () => (a.appendUTinyInt(1), a.appendVarchar(h.job), a.appendBigInt(h.hourNs)));
        });
        await conn.run(`DELETE FROM rollup_minute_runs t USING rollup_keys k WHERE k.kind = 0 AND t.job = k.job AND t.minute_ns = k.bucket_ns`);
        for (const t of ['rollup_hour', 'rollup_hour_good', 'rollup_hour_sketch']) {
          await conn.run(`DELETE FROM ${t} t USING rollup_keys k WHERE k.kind = 1 AND t.job = k.job AND t.hour_ns = k.bucket_ns`);
        }
        await append(conn, 'rollup_minute_runs', (a) => {
          for (const m of minutes)
            for (const r of m.runs)
              row(a, () => {
                a.appendVarchar(m.job);
                a.appendBigInt(m.minuteNs);
                a.appendBigInt(r.runEndNs);
                a.appendUTinyInt(outcomeCode(r.outcome));
                if (r.latencyNs === null) a.appendNull();
                else a.appendBigInt(r.latencyNs);
                a.appendInteger(Math.min(2_147_483_647, Math.trunc(r.attempts)));
                a.appendBoolean(r.ran);
                if (r.startNs === null) a.appendNull();
                else a.appendBigInt(r.startNs);
                a.appendVarchar(r.runId);
                a.appendBoolean(r.deadLettered ?? false);
                if (r.queuedNs === null || r.queuedNs === undefined) a.appendNull();
                else a.appendBigInt(r.queuedNs);
                for (const v of [r.cost, r.cpuSeconds, r.maxRssBytes]) {
                  if (v === null || v === undefined) a.appendNull();
                  else a.appendDouble(v);
                }
                a.appendVarchar(r.errorType ?? '');
                a.appendVarchar(r.traceId ?? '');
                a.appendVarchar(r.spanId ?? '');
                if (r.exitCode === null || r.exitCode === undefined) a.appendNull();
                else a.appendBigInt(BigInt(Math.trunc(r.exitCode)));
                a.appendVarchar(r.message ?? '');
                if (outcomeCode(r.outcome) === OTHER_OUTCOME_CODE) a.appendVarchar(r.outcome);
                else a.appendNull();
              });
        });
        await append(conn, 'rollup_hour', (a) => {
          for (const h of hours)
            row(a, () => {
              a.appendVarchar(h.job);
              a.appendBigInt(h.hourNs);
              for (let i = 0; i < 6; i++) a.appendBigInt(BigInt(h.byOutcome[i] ?? 0));
              a.appendBigInt(BigInt(h.attempts));
              if (h.firstStartNs === null) a.appendNull();
              else a.appendBigInt(h.firstStartNs);
            });
        });
        await append(conn, 'rollup_hour_good', (a) => {
          for (const h of hours)
            h.thresholdsNs.forEach((t, i) => row(a, () => (a.appendVarchar(h.job), a.appendBigInt(h.hourNs), a.appendBigInt(t), a.appendBigInt(BigInt(h.good[i] ?? 0)))));
        });
        await append(conn, 'rollup_hour_sketch', (a) => {
          for (const h of hours) for (const [k, n] of h.sketch) row(a, () => (a.appendVarchar(h.job), a.appendBigInt(h.hourNs), a.appendInteger(k), a.appendBigInt(BigInt(n))));
        });
        await conn.run('COMMIT');
      } catch (cause) {
        await conn.run('ROLLBACK');
        throw new StoreError('JOBSLO_ERR_STORE_QUERY', `cannot write rollup buckets: ${errorMessage(cause)}`, { cause });
      }
    });
  }

  async thresholds(): Promise<RegisteredThreshold[]> {
    const rows = await this.read('SELECT DISTINCT jobs, threshold_ns FROM rollup_thresholds');
    return rows.map((r) => ({ jobs: String(r['jobs']), thresholdNs: big(r['threshold_ns']) }));
  }

  async registerThresholds(thresholds: readonly RegisteredThreshold[]): Promise<void> {
    if (thresholds.length === 0) return;
    await this.read(`INSERT INTO rollup_thresholds VALUES ${thresholds.map((t) => `(${lit(t.jobs)}, ${t.thresholdNs})`).join(', ')}`);
  }

  async rolledJobs(): Promise<{ jobs: string[]; fromNs: bigint; toNs: bigint }> {
    const rows = await this.read('SELECT job, min(hour_ns) AS lo, max(hour_ns) AS hi FROM rollup_hour GROUP BY job');
    let lo: bigint | null = null;
    let hi: bigint | null = null;
    for (const r of rows) {
      const a = big(r['lo']);
      const b = big(r['hi']);
      if (lo === null || a < lo) lo = a;
      if (hi === null || b > hi) hi = b;
    }
    return { jobs: rows.map((r) => String(r['job'])), fromNs: lo ?? 0n, toNs: (hi ?? -3_600_000_000_000n) + 3_600_000_000_000n };
  }

  async countHours(parts: readonly HourPart[]): Promise<Map<number, PartCount>> {
    const { ranges, rangeOf } = distinctRanges(parts.map((p) => [p.fromNs, p.toNs]));
    const thresholds = distinctThresholds(parts);
    const sql = `
      WITH rr(rid, lo, hi) AS (VALUES ${ranges.map((r, i) => `(${i}, ${r[0]}::BIGINT, ${r[1]}::BIGINT)`).join(', ')}),
      th(t) AS (VALUES ${thresholds.map((t) => `(${t}::BIGINT)`).join(', ')})
      SELECT h.job, rr.rid, th.t, sum(h.succeeded) AS s, sum(h.failed + h.timed_out) AS b, sum(coalesce(g.good, 0)) AS g,
        count(*) FILTER (WHERE h.succeeded > 0 AND g.good IS NULL) AS miss
      FROM rollup_hour h JOIN rr ON h.hour_ns >= rr.lo AND h.hour_ns < rr.hi CROSS JOIN th
      LEFT JOIN rollup_hour_good g ON g.job = h.job AND g.hour_ns = h.hour_ns AND g.threshold_ns = th.t
      GROUP BY h.job, rr.rid, th.t`;
    return sumParts(parts, await this.read(sql), rangeOf, thresholds);
  }

  async countEdges(parts: readonly EdgePart[]): Promise<Map<number, PartCount>> {
    const { ranges, rangeOf } = distinctRanges(parts.map((p) => [p.loNs, p.hiNs]));
    const thresholds = distinctThresholds(parts);
    // Only the edges' runs (each edge is under an hour), not everything between the first and the last.
    const inEdges = ranges.map((r) => `(end_ns > ${r[0]} AND end_ns <= ${r[1]})`).join(' OR ');
    const sql = `
      WITH rr(rid, lo, hi) AS (VALUES ${ranges.map((r, i) => `(${i}, ${r[0]}::BIGINT, ${r[1]}::BIGINT)`).join(', ')}),
      th(t) AS (VALUES ${thresholds.map((t) => `(${t}::BIGINT)`).join(', ')}),
      runs AS (SELECT job, end_ns, outcome, latency_ns FROM rollup_minute_runs WHERE ${inEdges})
      SELECT r.job, rr.rid, th.t, count(*) FILTER (WHERE r.outcome = 0) AS s, count(*) FILTER (WHERE r.outcome IN (1, 2)) AS b,
        count(*) FILTER (WHERE r.outcome = 0 AND r.latency_ns <= th.t) AS g, 0 AS miss
      FROM runs r JOIN rr ON r.end_ns > rr.lo AND r.end_ns <= rr.hi CROSS JOIN th
      GROUP BY r.job, rr.rid, th.t`;
    return sumParts(parts, await this.read(sql), rangeOf, thresholds);
  }
}

/** The kept runs that end in `(fromNs, toNs]`, through the minute buckets that can hold them. */
function minuteRange(fromNs: bigint, toNs: bigint): string {
  return `minute_ns >= ${floorDiv(fromNs, MINUTE_NS) * MINUTE_NS} AND minute_ns < ${ceilDiv(toNs, MINUTE_NS) * MINUTE_NS} AND end_ns > ${fromNs} AND end_ns <= ${toNs}`;
}

/** A job selector as a condition on `job` (a glob through LIKE, backslash its escape). */
function jobCondition(selector: JobSelector): string {
  return isGlob(selector) ? `job LIKE ${lit(globToLike(selector))} ESCAPE '\\'` : `job = ${lit(selector)}`;
}

function row(a: DuckDBAppender, fill: () => unknown): void {
  fill();
  a.endRow();
}

async function append(conn: DuckDBConnection, table: string, write: (a: DuckDBAppender) => void): Promise<void> {
  const a = await conn.createAppender(table, 'main', table === 'rollup_keys' ? 'temp' : null);
  try {
    write(a);
    a.flushSync();
  } finally {
    a.closeSync();
  }
}
