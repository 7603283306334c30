import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BIGINT, BOOLEAN, DATE, DOUBLE, DuckDBInstance, INTEGER, UTINYINT, VARCHAR, dateValue } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBConnection, DuckDBDateValue } from '@duckdb/node-api';
import { appendChunks } from './_duckdb_chunks.js';
import type { ChunkColumn } from './_duckdb_chunks.js';
import { StoreError, errorMessage } from '../contracts/index.js';
import type { LifecycleEventRecord, SpanRecord } from '../contracts/index.js';
import { toSpanRow } from './rows.js';
import type { SpanRow } from './rows.js';
import { DuckDbRollups } from './rollup/duckdb.js';
import { rowObjects } from './_duckdb.js';
import { coalescedStarts, onlyJobsCondition, rollupRunList, seriesByJob, seriesRollupQuery } from './rollup/index.js';
import type { NsRange, RunFact } from './rollup/index.js';
import { checkSpan, deriveSpan } from './derive/index.js';
import type { JobRow } from './derive/index.js';
import { STORED_SPAN_COLUMNS, spanFromStored } from './_backfill.js';
import { compareStrings, int32Column, retentionCutoffs, toUnformedSpans } from './_common.js';
import type { StoredSpan } from './_backfill.js';
import type {
  DimensionFilter,
  DropBeforeOptions,
  DropResult,
  GoodRunCriterion,
  JobAggregatesQuery,
  JobAggregate,
  JobSelector,
  JobSeries,
  ListRunsByJobQuery,
  MigrateOptions,
  ListRunsQuery,
  QueueDepth,
  OpenRun,
  RunDistribution,
  RunDistributionQuery,
  RunStartsOptions,
  RunStartsQuery,
  RunSummary,
  SeriesPoint,
  Store,
  TimeRange,
  TimeSeriesQuery,
  UnformedSpans,
  WindowCount,
  WindowCountsQuery,
} from './types.js';
import { COUNTED_SQL_LIST, EXEC_ROLES_SQL, MAX_OPEN_RUNS, RUN_LOOKBACK_NANOS, TERMINAL_EVENTS_SQL_LIST, RUN_ROLES_SQL, coalesceWidth, globToLike, groupByEnd, isGlob, jobAggregateFromRow, modeCounts, nanosLiteral, numberLiteral, runStartsFrom, thresholdNanos, whereKey } from './_sql.js';

/** Ordered, append-only schema migrations. Never edit a published one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS spans (
    day DATE NOT NULL,
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    parent_span_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    kind UTINYINT NOT NULL,
    start_ns BIGINT NOT NULL,
    end_ns BIGINT NOT NULL,
    status_code UTINYINT NOT NULL,
    status_message VARCHAR NOT NULL,
    service_name VARCHAR NOT NULL,
    job VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    span_type VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    outcome VARCHAR NOT NULL,
    run_attempts INTEGER NOT NULL,
    error_type VARCHAR NOT NULL,
    exit_code INTEGER,
    cost DOUBLE,
    cpu_seconds DOUBLE,
    max_rss_bytes DOUBLE,
    queued_ns BIGINT,
    dead_lettered BOOLEAN NOT NULL,
    attributes VARCHAR NOT NULL,
    resource_attributes VARCHAR NOT NULL,
    events VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS lifecycle_events (
    day DATE NOT NULL,
    event_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    job VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    time_ns BIGINT NOT NULL,
    attempt INTEGER,
    attributes VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL
  )`,
  // Normalized job rows (store/derive), one or more per job span; `day` is the
  // UTC day of the row's end. Filled from the stored spans by backfillJobRows.
  `CREATE TABLE IF NOT EXISTS job_rows (
    day DATE NOT NULL,
    profile VARCHAR NOT NULL,
    job VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    start_ns BIGINT NOT NULL,
    end_ns BIGINT NOT NULL,
    outcome VARCHAR NOT NULL,
    terminal BOOLEAN NOT NULL,
    run_attempts INTEGER NOT NULL,
    error_type VARCHAR NOT NULL,
    exit_code INTEGER,
    message VARCHAR NOT NULL,
    queued_ns BIGINT,
    cost DOUBLE,
    cpu_seconds DOUBLE,
    max_rss_bytes DOUBLE,
    dead_lettered BOOLEAN NOT NULL,
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    dim_keys VARCHAR[] NOT NULL,
    dim_values VARCHAR[] NOT NULL,
    received_ns BIGINT NOT NULL
  )`,
  // Dimensions as one text column (appending two lists per row cost DuckDB
  // inserts two thirds of their speed): `\x1ekey\x1fvalue\x1e...\x1e`, found by
  // `split_part`. The table is re-derived from the stored spans (below).
  `DROP TABLE IF EXISTS job_rows;
  CREATE TABLE job_rows (
    day DATE NOT NULL,
    profile VARCHAR NOT NULL,
    job VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    start_ns BIGINT NOT NULL,
    end_ns BIGINT NOT NULL,
    outcome VARCHAR NOT NULL,
    terminal BOOLEAN NOT NULL,
    run_attempts INTEGER NOT NULL,
    error_type VARCHAR NOT NULL,
    exit_code INTEGER,
    message VARCHAR NOT NULL,
    queued_ns BIGINT,
    cost DOUBLE,
    cpu_seconds DOUBLE,
    max_rss_bytes DOUBLE,
    dead_lettered BOOLEAN NOT NULL,
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    dims VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL
  )`,
  // Spans that look like job telemetry but form no run (store/derive
  // warnings), one row per delivery; \`day\` is the UTC day of the span's end.
  // Filled from the stored spans by backfillUnformedSpans.
  `CREATE TABLE IF NOT EXISTS unformed_spans (
    day DATE NOT NULL,
    end_ns BIGINT NOT NULL,
    profile VARCHAR NOT NULL,
    missing VARCHAR NOT NULL,
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL
  )`,
  // The job values `spans` carried beside `job_rows` (read by no query; every
  // one is in the span's job rows): dropped, which makes each insert append
  // 10 values fewer per span. `job`, `run_id` and `span_type` stay, for
  // ad-hoc lookups of a run's spans, as on ClickHouse (its sorting key).
  ['attempt', 'outcome', 'run_attempts', 'error_type', 'exit_code', 'cost', 'cpu_seconds', 'max_rss_bytes', 'queued_ns', 'dead_lettered']
    .map((c) => `ALTER TABLE spans DROP COLUMN IF EXISTS ${c};`)
    .join('\n'),
];

/** Migrations (1-based versions) after which job rows are re-derived from the stored spans. */
const BACKFILL_AFTER = new Set([4]);
/** Migrations after which the unformed spans are found again in the stored spans. */
const BACKFILL_UNFORMED_AFTER = new Set([5]);
const BACKFILL_BATCH = 10_000;
const INT32_MAX = 2_147_483_647;

/** Positional parameters of one DuckDB statement. */
class Params {
  readonly values: string[] = [];
  /** Adds a value and returns its placeholder (`$n`). */
  add(value: string): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** What a runs CTE selects besides the job selector. */
interface RunsSelection {
  where?: DimensionFilter | undefined;
  groupBy?: string | undefined;
}

const NANOS_PER_DAY = 86_400_000_000_000n;

/** Options of {@link DuckDbStore}. */
export interface DuckDbStoreOptions {
  /** File path, or `:memory:`. Parent folders are created. */
  path: string;
  /**
   * Maintain rollups and answer window counts from them (see
   * docs/storage.md). Off only to measure or check the raw path.
   * @default true
   */
  rollups?: boolean;
}

/** The signal of {@link DuckDbStore.withSignal} for the operations a caller queues. */
const querySignal = new AsyncLocalStorage<AbortSignal>();

/**
 * The embedded default store: one DuckDB file, one writing process.
 * Duplicate spans are stored as delivered and made harmless in queries: every
 * run aggregate (min, max, count distinct) is idempotent under repeats.
 */
export class DuckDbStore implements Store {
  readonly kind = 'duckdb';
  readonly location: string;
  private readonly instance: DuckDBInstance;
  private readonly conn: DuckDBConnection;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** Rollups of the derived runs; null when the store was opened without them. */
  private readonly rollups: DuckDbRollups | null;
  private rollupReads = true;

  /**
   * Answers window counts from the rollups (the default) or from the raw
   * runs; rollups are maintained either way. For benchmarks and checks.
   */
  useRollups(enabled: boolean): void {
    this.rollupReads = enabled;
  }

  private get readRollups(): DuckDbRollups | null {
    return this.rollupReads ? this.rollups : null;
  }

  private constructor(location: string, instance: DuckDBInstance, conn: DuckDBConnection, rollups: boolean) {
    this.location = location;
    this.instance = instance;
    this.conn = conn;
    this.rollups = rollups ? new DuckDbRollups({ exclusive: (fn) => this.serial(() => fn(this.conn)), runFacts: (jobs, range) => this.runFacts(jobs, range) }) : null;
  }

  /**
   * Opens (creating if needed) a DuckDB file.
   * @throws {StoreError} `JOBSLO_ERR_STORE_LOCKED` when another process holds the file
   */
  static async open(options: DuckDbStoreOptions): Promise<DuckDbStore> {
    const path = options.path === ':memory:' ? ':memory:' : resolve(options.path);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path);
    } catch (cause) {
      const msg = errorMessage(cause);
      if (/lock/i.test(msg)) {
        const pid = /PID (\d+)/.exec(msg)?.[1];
        throw new StoreError(
          'JOBSLO_ERR_STORE_LOCKED',
          `the DuckDB file ${path} is in use by another process${pid ? ` (pid ${pid}, probably a running "jobslo collector")` : ''}. ` +
            'DuckDB allows one process per file: stop that process, or point this command at a copy of the file.',
          { cause },
        );
      }
      throw new StoreError('JOBSLO_ERR_STORE_UNREACHABLE', `cannot open DuckDB file ${path}: ${msg}`, { cause });
    }
    const conn = await instance.connect();
    return new DuckDbStore(path, instance, conn, options.rollups ?? true);
  }

  /**
   * Runs `fn`, whose store calls (reads) can be stopped by `signal`: an
   * operation it queued is skipped when the signal has aborted by its turn,
   * and one running then is interrupted (DuckDB's interrupt on the
   * connection); either rejects with a StoreError `JOBSLO_ERR_STORE_QUERY`.
   * Operations queued by others are never affected.
   */
  withSignal<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return querySignal.run(signal, fn);
  }

  /** Runs `fn` after every earlier operation: one connection, one statement at a time. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const signal = querySignal.getStore();
    const fn =
      signal === undefined
        ? work
        : async (): Promise<T> => {
            if (signal.aborted) throw new StoreError('JOBSLO_ERR_STORE_QUERY', 'DuckDB query cancelled before it started', { cause: signal.reason });
            const interrupt = (): void => this.conn.interrupt();
            signal.addEventListener('abort', interrupt, { once: true });
            try {
              return await work();
            } finally {
              signal.removeEventListener('abort', interrupt);
            }
          };
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async migrate(options: MigrateOptions = {}): Promise<void> {
    await this.migrateTables();
    await this.rollups?.migrate((done, total) => options.onProgress?.(`rollups: ${done}/${total} days built`));
  }

  private async migrateTables(): Promise<void> {
    await this.serial(async () => {
      await this.conn.run('CREATE TABLE IF NOT EXISTS jobslo_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)');
      const r = await this.conn.runAndReadAll('SELECT coalesce(max(version), 0) AS v FROM jobslo_migrations');
      const current = Number(r.getRowObjects()[0]?.['v'] ?? 0);
      for (let v = current; v < MIGRATIONS.length; v++) {
        await this.conn.run('BEGIN TRANSACTION');
        try {
          await this.conn.run(MIGRATIONS[v] as string);
          if (BACKFILL_AFTER.has(v + 1)) await this.backfillJobRows();
          if (BACKFILL_UNFORMED_AFTER.has(v + 1)) await this.backfillUnformedSpans();
          await this.conn.run(`INSERT INTO jobslo_migrations VALUES (${v + 1}, now())`);
          await this.conn.run('COMMIT');
        } catch (cause) {
          await this.conn.run('ROLLBACK');
          throw new StoreError('JOBSLO_ERR_STORE_QUERY', `DuckDB migration ${v + 1} failed`, { cause });
        }
      }
    });
  }

  /** Re-derives the job rows of every stored span (inside the migration's transaction). */
  private async backfillJobRows(): Promise<void> {
    await this.conn.run('DELETE FROM job_rows');
    const r = await this.conn.runAndReadAll('SELECT coalesce(max(rowid), -1) AS m FROM spans');
    const maxRowId = Number(r.getRowObjects()[0]?.['m'] ?? -1);
    for (let from = 0; from <= maxRowId; from += BACKFILL_BATCH) {
      const batch = await this.conn.runAndReadAll(
        `SELECT ${STORED_SPAN_COLUMNS}, received_ns FROM spans WHERE rowid >= ${from} AND rowid < ${from + BACKFILL_BATCH}`,
      );
      const rows: { row: JobRow; receivedNs: bigint }[] = [];
      for (const stored of batch.getRowObjectsJS() as unknown as (StoredSpan & { received_ns: bigint })[]) {
        for (const row of deriveSpan(spanFromStored(stored)).rows) rows.push({ row, receivedNs: BigInt(stored.received_ns) });
      }
      if (rows.length === 0) continue;
      const appender = await this.conn.createAppender('job_rows');
      try {
        appendChunks(appender, JOB_ROW_COLUMNS, rows);
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
    }
  }

  /** Finds the unformed spans among every stored span (inside the migration's transaction). */
  private async backfillUnformedSpans(): Promise<void> {
    await this.conn.run('DELETE FROM unformed_spans');
    const r = await this.conn.runAndReadAll('SELECT coalesce(max(rowid), -1) AS m FROM spans');
    const maxRowId = Number(r.getRowObjects()[0]?.['m'] ?? -1);
    for (let from = 0; from <= maxRowId; from += BACKFILL_BATCH) {
      const batch = await this.conn.runAndReadAll(
        `SELECT ${STORED_SPAN_COLUMNS}, received_ns FROM spans WHERE rowid >= ${from} AND rowid < ${from + BACKFILL_BATCH}`,
      );
      const found: { span: SpanRecord; missing: Unformed; receivedNs: bigint }[] = [];
      for (const stored of batch.getRowObjectsJS() as unknown as (StoredSpan & { received_ns: bigint })[]) {
        const span = spanFromStored(stored);
        const d = checkSpan(span);
        if (d.warning !== undefined) found.push({ span, missing: { profile: d.profile ?? '', missing: d.missing ?? '' }, receivedNs: BigInt(stored.received_ns) });
      }
      if (found.length === 0) continue;
      await this.appendNow(this.conn, 'unformed_spans', `${found.length} unformed spans`, (appender) => {
        appendChunks(appender, UNFORMED_COLUMNS, found);
      });
    }
  }

  /** Appends rows to `table` through one appender, after every earlier operation. */
  private append(table: string, what: string, write: (appender: DuckDBAppender) => void): Promise<void> {
    return this.serial(() => this.appendNow(this.conn, table, what, write));
  }

  private async appendNow(conn: DuckDBConnection, table: string, what: string, write: (appender: DuckDBAppender) => void): Promise<void> {
    let appender: DuckDBAppender;
    try {
      appender = await conn.createAppender(table);
    } catch (cause) {
      throw new StoreError('JOBSLO_ERR_STORE_QUERY', `cannot append to DuckDB table ${table} (was the store migrated?)`, { cause });
    }
    try {
      write(appender);
      appender.flushSync();
    } catch (cause) {
      throw new StoreError('JOBSLO_ERR_STORE_QUERY', `insert of ${what} into DuckDB failed: ${errorMessage(cause)}`, { cause });
    } finally {
      appender.closeSync();
    }
  }

  /**
   * Stores the spans, the job rows derived from them (once, here) and their
   * rollup marks in one transaction: all or nothing. The rows are built
   * before waiting for the connection, so that building them overlaps an
   * earlier insert's commit (which runs on DuckDB's threads).
   */
  async insertSpans(spans: readonly SpanRecord[]): Promise<void> {
    if (spans.length === 0) return;
    await this.rollups?.ready();
    // One synchronous step from here to serial(): marks are committed in the order of their numbers.
    const receivedNs = BigInt(Date.now()) * 1_000_000n;
    const rows = new Array<SpanInsert>(spans.length);
    const jobRows: JobRowInsert[] = [];
    let unformed: UnformedInsert[] | undefined;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i] as SpanRecord;
      const d = deriveSpan(span);
      for (const row of d.rows) jobRows.push({ row, receivedNs });
      rows[i] = { row: toSpanRow(span, d.rows[0]), receivedNs };
      if (d.warning !== undefined) (unformed ??= []).push({ span, missing: { profile: d.profile ?? '', missing: d.missing ?? '' }, receivedNs });
    }
    const firstMark = jobRows.length > 0 ? this.rollups?.reserve(jobRows.length) : undefined;
    await this.serial(async () => {
      await this.conn.run('BEGIN TRANSACTION');
      try {
        await this.appendNow(this.conn, 'spans', `${spans.length} spans`, (appender) => {
          appendChunks(appender, SPAN_COLUMNS, rows);
        });
        if (jobRows.length > 0) {
          await this.appendNow(this.conn, 'job_rows', `${jobRows.length} job rows`, (appender) => {
            appendChunks(appender, JOB_ROW_COLUMNS, jobRows);
          });
          if (firstMark !== undefined) await this.rollups?.writeMarks(this.conn, jobRows.map((j) => j.row), firstMark);
        }
        if (unformed !== undefined) {
          const list = unformed;
          await this.appendNow(this.conn, 'unformed_spans', `${list.length} unformed spans`, (appender) => {
            appendChunks(appender, UNFORMED_COLUMNS, list);
          });
        }
        await this.conn.run('COMMIT');
      } catch (err) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** The derived runs of these jobs (null: every job) with a final outcome in `(loNs, hiNs]`, for the rollups. */
  private async runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]> {
    const p = new Params();
    const cond = jobs === null ? "job <> ''" : jobs.length === 0 ? 'false' : `job IN (${jobs.map((j) => p.add(j)).join(', ')})`;
    const ms = (ns: bigint): number => Number(ns / 1_000_000n);
    // Rows that start up to the look-back after the range still shape its runs (a retry scheduled later un-finishes one).
    const sql = `
      WITH ${this.runsCte({ fromMillis: ms(range.loNs), toMillis: ms(range.hiNs + RUN_LOOKBACK_NANOS) }, cond, p)}
      SELECT job, run_id, run_end_ns, first_start_ns, outcome, last_end_ns - first_start_ns AS latency_ns, attempts, ran,
        dead_lettered, queued_ns, cost, cpu_seconds, max_rss_bytes, error_type, trace_id, span_id, exit_code, message FROM runs
      WHERE run_end_ns > ${range.loNs} AND run_end_ns <= ${range.hiNs}`;
    const bigOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(v as bigint));
    return (await this.query(sql, p.values)).map((r) => ({
      job: String(r['job']),
      runId: String(r['run_id']),
      runEndNs: BigInt(r['run_end_ns'] as bigint),
      startNs: bigOrNull(r['first_start_ns']),
      outcome: String(r['outcome']),
      latencyNs: bigOrNull(r['latency_ns']),
      attempts: Number(r['attempts']),
      ran: r['ran'] === true,
      deadLettered: r['dead_lettered'] === true,
      queuedNs: bigOrNull(r['queued_ns']),
      cost: numOrNull(r['cost']),
      cpuSeconds: numOrNull(r['cpu_seconds']),
      maxRssBytes: numOrNull(r['max_rss_bytes']),
      errorType: String(r['error_type'] ?? ''),
      traceId: String(r['trace_id'] ?? ''),
      spanId: String(r['span_id'] ?? ''),
      exitCode: numOrNull(r['exit_code']),
      message: String(r['message'] ?? ''),
    }));
  }

  async insertLifecycleEvents(events: readonly LifecycleEventRecord[]): Promise<void> {
    if (events.length === 0) return;
    const receivedNs = BigInt(Date.now()) * 1_000_000n;
    await this.append('lifecycle_events', `${events.length} lifecycle events`, (appender) => {
      for (const e of events) {
        appender.appendDate(dateValue(Number(e.timeUnixNano / NANOS_PER_DAY)));
        appender.appendVarchar(e.eventId);
        appender.appendVarchar(e.type);
        appender.appendVarchar(e.job);
        appender.appendVarchar(e.runId);
        appender.appendBigInt(e.timeUnixNano);
        if (e.attempt === undefined) appender.appendNull();
        else appender.appendInteger(e.attempt);
        appender.appendVarchar(JSON.stringify(e.attributes));
        appender.appendBigInt(receivedNs);
        appender.endRow();
      }
    });
  }

  async openRuns(jobs: JobSelector, range: TimeRange): Promise<OpenRun[]> {
    const p = new Params();
    const cond = this.jobCondition(jobs, p);
    const sql = `
      WITH started AS (
        SELECT job, run_id, min(time_ns) FILTER (WHERE type = 'job.started') AS start_ns
        FROM lifecycle_events
        WHERE time_ns > ${nanosLiteral(range.fromMillis)} AND time_ns <= ${nanosLiteral(range.toMillis)} AND ${cond}
        GROUP BY job, run_id
        HAVING count(*) FILTER (WHERE type = 'job.started') > 0 AND count(*) FILTER (WHERE type IN (${TERMINAL_EVENTS_SQL_LIST})) = 0
      )
      SELECT s.job, s.run_id, s.start_ns FROM started s
      WHERE NOT EXISTS (SELECT 1 FROM job_rows r WHERE r.run_id = s.run_id AND r.terminal AND r.job = s.job)
      ORDER BY s.start_ns, s.job, s.run_id
      LIMIT ${MAX_OPEN_RUNS}`;
    const rows = await this.query(sql, p.values);
    return rows.map((r) => ({ job: String(r['job']), runId: String(r['run_id']), startMillis: Number(BigInt(r['start_ns'] as bigint) / 1_000_000n) }));
  }

  async queueDepths(range: TimeRange): Promise<QueueDepth[]> {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    const p = new Params();
    // Queue intervals of finished runs from the minute buckets when they hold
    // the runs the raw path reads (rows from the look-back before the range).
    const rollups = this.readRollups;
    const rolled = rollups && (await rollups.readable(BigInt(from) - BigInt(RUN_LOOKBACK_NANOS), BigInt(to), undefined)) ? rollups.queueIntervalsSql(BigInt(from), BigInt(to)) : null;
    const runIntervals =
      rolled ??
      `SELECT job, queued_ns AS s, first_start_ns AS e FROM runs
        WHERE queued_ns IS NOT NULL AND first_start_ns > queued_ns AND first_start_ns > ${from} AND queued_ns <= ${to}`;
    // Pending: queued (live lifecycle event) within the lookback before the
    // range's end, with no later transition and no final outcome yet.
    const sql = `
      WITH ${rolled === null ? `${this.runsCte(range, "job <> ''", p)},` : ''}
      pending AS (
        SELECT job, run_id, min(time_ns) AS queued_ns
        FROM lifecycle_events
        WHERE time_ns > ${to} - ${RUN_LOOKBACK_NANOS} AND time_ns <= ${to}
        GROUP BY job, run_id
        HAVING count(*) FILTER (WHERE type = 'job.queued') > 0 AND count(*) FILTER (WHERE type <> 'job.queued') = 0
      ),
      pending_open AS (
        SELECT p.job, p.run_id, p.queued_ns FROM pending p
        WHERE NOT EXISTS (SELECT 1 FROM job_rows s WHERE s.run_id = p.run_id AND s.terminal AND s.job = p.job)
      ),
      intervals AS (
        ${runIntervals}
        UNION ALL
        SELECT job, queued_ns AS s, ${to} AS e FROM pending_open
      ),
      steps AS (
        SELECT job, greatest(s, ${from}) AS t, 1 AS d FROM intervals
        UNION ALL
        SELECT job, e AS t, -1 AS d FROM intervals
      ),
      depth AS (
        SELECT job, sum(d) OVER (PARTITION BY job ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS depth FROM steps
      )
      SELECT d.job, max(d.depth) AS max_depth, coalesce(any_value(n.now_depth), 0) AS now_depth
      FROM depth d LEFT JOIN (SELECT job, count(*) AS now_depth FROM pending_open GROUP BY job) n ON n.job = d.job
      GROUP BY d.job`;
    const rows = await this.query(sql, p.values);
    return rows
      .map((r) => ({ job: String(r['job']), now: Number(r['now_depth']), max: Number(r['max_depth']) }))
      .sort((a, b) => compareStrings(a.job, b.job));
  }

  /**
   * The runs CTE: one row per finished run (a terminal job row exists), from the job rows of `(from - lookback, to]` plus
   * every row of the runs whose final outcome is in the range but that may
   * have started before the lookback (long runs). Callers filter on
   * `run_end_ns`. Every aggregate is idempotent under repeated rows (min,
   * max, count distinct, arg_max with a total order), so redelivery changes
   * nothing. `jobFilter` is a SQL condition on `job` with its parameters in
   * `p`; `sel.where` keeps runs with those dimension values and `sel.groupBy`
   * adds the run's value of that dimension as `grp`.
   */
  private runsCte(range: TimeRange, jobFilter: string, p: Params, sel: RunsSelection = {}): string {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    const cutoff = `${from} - ${RUN_LOOKBACK_NANOS}`;
    // The order that picks the row giving the run's final outcome: highest
    // attempt, then latest end; outcome and span id make it total.
    const last = '(attempt, end_ns, outcome, span_id)';
    const lastAttempt = '(attempt, end_ns, span_id)';
    const dim = (key: string): string => `max(split_part(split_part(dims, chr(30) || ${p.add(key)} || chr(31), 2), chr(30), 1))`;
    const having = Object.entries(sel.where ?? {}).map(([k, v]) => ` AND ${dim(k)} = ${p.add(v)}`).join('');
    const group = sel.groupBy !== undefined ? `,\n          ${dim(sel.groupBy)} AS grp` : '';
    return `runs AS (
        SELECT job, run_id,
          arg_max(trace_id, ${last}) FILTER (WHERE terminal) AS trace_id,
          arg_max(span_id, ${last}) FILTER (WHERE terminal) AS span_id,
          min(start_ns) FILTER (WHERE role IN ${EXEC_ROLES_SQL}) AS first_start_ns,
          coalesce(max(end_ns) FILTER (WHERE role = 'attempt'), max(end_ns) FILTER (WHERE role IN ${RUN_ROLES_SQL})) AS last_end_ns,
          arg_max(end_ns, ${last}) FILTER (WHERE terminal) AS run_end_ns,
          arg_max(outcome, ${last}) FILTER (WHERE terminal) AS outcome,
          greatest(count(DISTINCT span_id) FILTER (WHERE role = 'attempt'), coalesce(max(attempt) FILTER (WHERE role = 'attempt'), 0),
                   coalesce(max(run_attempts), 0), 1) AS attempts,
          bool_or(dead_lettered) AS dead_lettered,
          -- False for a run that never started an attempt (a missed scheduled tick): no latency.
          (count(*) FILTER (WHERE role IN ('attempt', 'run_attempt')) > 0 OR coalesce(max(run_attempts), 0) > 0) AS ran,
          coalesce(nullif(max(error_type) FILTER (WHERE role IN ${RUN_ROLES_SQL}), ''),
                   nullif(arg_max(error_type, ${lastAttempt}) FILTER (WHERE role = 'attempt'), ''), '') AS error_type,
          coalesce(max(exit_code) FILTER (WHERE role IN ${RUN_ROLES_SQL}), arg_max(exit_code, ${lastAttempt}) FILTER (WHERE role = 'attempt')) AS exit_code,
          coalesce(nullif(max(message) FILTER (WHERE role IN ${RUN_ROLES_SQL}), ''),
                   arg_max(message, ${lastAttempt}) FILTER (WHERE role = 'attempt'), '') AS message,
          min(queued_ns) AS queued_ns,
          max(cost) AS cost,
          max(cpu_seconds) AS cpu_seconds,
          max(max_rss_bytes) AS max_rss_bytes${group}
        FROM (
          SELECT job_rows.* FROM job_rows
          WHERE end_ns > ${cutoff} AND start_ns <= ${to} AND ${jobFilter}
          UNION ALL
          SELECT r.* FROM job_rows r SEMI JOIN (
            SELECT job, run_id FROM job_rows
            WHERE terminal AND end_ns > ${from} AND end_ns <= ${to} AND ${jobFilter}
              AND ((role IN ${RUN_ROLES_SQL} AND start_ns <= ${cutoff}) OR (role = 'attempt' AND attempt <> 1))
          ) long_runs ON r.job = long_runs.job AND r.run_id = long_runs.run_id
          WHERE r.end_ns <= ${cutoff}
        ) job_rows_read
        GROUP BY job, run_id
        HAVING count(*) FILTER (WHERE terminal) > 0${having}
      )`;
  }

  /** `job = $n` or `job LIKE $n ESCAPE '\'`, with the value added to `p`. */
  private jobCondition(selector: JobSelector, p: Params): string {
    return isGlob(selector) ? `job LIKE ${p.add(globToLike(selector))} ESCAPE '\\'` : `job = ${p.add(selector)}`;
  }

  async jobAggregates(query: JobAggregatesQuery): Promise<JobAggregate[]> {
    const from = nanosLiteral(query.fromMillis);
    const to = nanosLiteral(query.toMillis);
    const rollups = this.readRollups;
    if (rollups && query.groupBy === undefined && (await rollups.readable(BigInt(from), BigInt(to), query.where))) {
      return (await rollups.aggregateRows(BigInt(from), BigInt(to))).map((r) => jobAggregateFromRow(r, modeCounts(JSON.parse(String(r['modes'] ?? 'null')) as string[] | null))).sort((a, b) => compareStrings(a.job, b.job));
    }
    const counted = `outcome IN (${COUNTED_SQL_LIST})`;
    const grouped = query.groupBy !== undefined;
    const p = new Params();
    const sql = `
      WITH ${this.runsCte(query, "job <> ''", p, { where: query.where, groupBy: query.groupBy })},
      agg AS (
      SELECT job${grouped ? ', grp' : ''},
        count(*) FILTER (WHERE ${counted}) AS runs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE outcome IN ('failed', 'timed_out')) AS failed,
        count(*) FILTER (WHERE outcome = 'timed_out') AS timed_out,
        count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE outcome = 'skipped') AS skipped,
        count(*) FILTER (WHERE dead_lettered AND ${counted}) AS n_dead_lettered,
        quantile_cont((last_end_ns - first_start_ns) / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ${counted} AND ran) AS latency,
        coalesce(sum(attempts - 1) FILTER (WHERE ${counted}), 0) AS retries,
        quantile_cont(greatest(first_start_ns - queued_ns, 0) / 1e6, [0.5, 0.95]) FILTER (WHERE queued_ns IS NOT NULL AND ran) AS queue_delay,
        count(*) FILTER (WHERE queued_ns IS NOT NULL AND ran) AS queued_runs,
        sum(cost) FILTER (WHERE ${counted}) AS cost_total,
        count(cost) FILTER (WHERE ${counted}) AS costed_runs,
        sum(cpu_seconds) FILTER (WHERE ${counted}) AS cpu_total,
        count(cpu_seconds) FILTER (WHERE ${counted}) AS cpu_runs,
        quantile_cont(max_rss_bytes, 0.95) FILTER (WHERE ${counted}) AS rss_p95,
        to_json(list(CASE WHEN error_type <> '' THEN error_type WHEN outcome = 'timed_out' THEN 'timeout' ELSE 'failed' END)
          FILTER (WHERE outcome IN ('failed', 'timed_out'))) AS modes
      FROM runs
      WHERE run_end_ns > ${from} AND run_end_ns <= ${to}
      GROUP BY job${grouped ? ', grp' : ''})
      SELECT *, latency[1] AS latency_p50, latency[2] AS latency_p95, latency[3] AS latency_p99,
        queue_delay[1] AS queue_p50, queue_delay[2] AS queue_p95
      FROM agg`;
    const rows = await this.query(sql, p.values);
    return rows
      .map((r) => {
        const agg = jobAggregateFromRow(r, modeCounts(JSON.parse(String(r['modes'] ?? 'null')) as string[] | null));
        return grouped ? { ...agg, group: String(r['grp'] ?? '') } : agg;
      })
      .sort((a, b) => compareStrings(a.job, b.job) || compareStrings(a.group ?? '', b.group ?? ''));
  }

  private goodCondition(criterion: GoodRunCriterion): string {
    if (criterion.kind === 'success') return `outcome = 'succeeded'`;
    return `outcome = 'succeeded' AND (last_end_ns - first_start_ns) <= ${numberLiteral(Math.trunc(criterion.thresholdMillis * 1e6))}`;
  }

  async windowCounts(query: WindowCountsQuery): Promise<WindowCount[]> {
    if (query.windowsMillis.length === 0) return [];
    const rolled = await this.readRollups?.windowCountsMany([query]);
    if (rolled) return rolled[0] ?? [];
    const longest = Math.max(...query.windowsMillis);
    const range = { fromMillis: query.endMillis - longest, toMillis: query.endMillis };
    const p = new Params();
    const cond = this.jobCondition(query.jobs, p);
    const good = this.goodCondition(query.criterion);
    const end = nanosLiteral(query.endMillis);
    const cols = query.windowsMillis
      .map((w, i) => {
        const start = nanosLiteral(query.endMillis - w);
        return `count(*) FILTER (WHERE run_end_ns > ${start} AND (${good})) AS g${i}, count(*) FILTER (WHERE run_end_ns > ${start}) AS t${i}`;
      })
      .join(',\n        ');
    const sql = `
      WITH ${this.runsCte(range, cond, p, { where: query.where })}
      SELECT ${cols}
      FROM runs
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns <= ${end}`;
    const [row] = await this.query(sql, p.values);
    return query.windowsMillis.map((w, i) => ({ windowMillis: w, good: Number(row?.[`g${i}`] ?? 0), total: Number(row?.[`t${i}`] ?? 0) }));
  }

  async windowCountsMany(queries: readonly WindowCountsQuery[]): Promise<WindowCount[][]> {
    const rolled = await this.readRollups?.windowCountsMany(queries);
    if (rolled) return rolled;
    const out: WindowCount[][] = queries.map((q) => q.windowsMillis.map((w) => ({ windowMillis: w, good: 0, total: 0 })));
    // One pass per end time and dimension filter (SLO selectors share few filters).
    const groups = new Map<string, { endMillis: number; where: DimensionFilter | undefined; group: { index: number; query: WindowCountsQuery }[] }>();
    for (const [endMillis, group] of groupByEnd(queries)) {
      for (const g of group) {
        const key = `${endMillis}\u0000${whereKey(g.query.where)}`;
        let entry = groups.get(key);
        if (!entry) groups.set(key, (entry = { endMillis, where: g.query.where, group: [] }));
        entry.group.push(g);
      }
    }
    for (const { endMillis, where, group } of groups.values()) {
      const windows = group.flatMap(({ index, query }) => query.windowsMillis.map((w, k) => ({ index, k, startNs: nanosLiteral(endMillis - w) })));
      if (windows.length === 0) continue;
      const longest = Math.max(...group.flatMap((g) => g.query.windowsMillis));
      const p = new Params();
      const runs = this.runsCte({ fromMillis: endMillis - longest, toMillis: endMillis }, "job <> ''", p, { where });
      const selectors = group.map(({ index, query }) => {
        const pat = p.add(isGlob(query.jobs) ? globToLike(query.jobs) : query.jobs);
        const thr = thresholdNanos(query.criterion);
        return `(${index}, ${pat}, ${isGlob(query.jobs)}, ${thr === undefined ? 'NULL::BIGINT' : `${thr}::BIGINT`})`;
      });
      // Exact selectors hash-join on the job; globs are matched with LIKE.
      const sql = `
        WITH ${runs},
        counted AS (
          SELECT job, run_end_ns, outcome = 'succeeded' AS ok, last_end_ns - first_start_ns AS lat_ns FROM runs
          WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns <= ${nanosLiteral(endMillis)}
        ),
        sel(i, pat, is_glob, thr) AS (VALUES ${selectors.join(', ')}),
        win(i, k, start_ns) AS (VALUES ${windows.map((w) => `(${w.index}, ${w.k}, ${w.startNs}::BIGINT)`).join(', ')}),
        matched AS (
          SELECT s.i, s.thr, c.run_end_ns, c.ok, c.lat_ns FROM counted c JOIN sel s ON NOT s.is_glob AND c.job = s.pat
          UNION ALL
          SELECT s.i, s.thr, c.run_end_ns, c.ok, c.lat_ns FROM counted c JOIN sel s ON s.is_glob AND c.job LIKE s.pat ESCAPE '\\'
        )
        SELECT w.i, w.k, count(*) FILTER (WHERE m.ok AND (m.thr IS NULL OR m.lat_ns <= m.thr)) AS good, count(*) AS total
        FROM matched m JOIN win w ON w.i = m.i AND m.run_end_ns > w.start_ns
        GROUP BY w.i, w.k`;
      for (const r of await this.query(sql, p.values)) {
        const cell = out[Number(r['i'])]?.[Number(r['k'])];
        if (cell) {
          cell.good = Number(r['good']);
          cell.total = Number(r['total']);
        }
      }
    }
    return out;
  }

  /** Runs of a query's jobs with a final outcome in its range: the shared FROM/WHERE of the range queries. */
  private inRange(query: TimeRange & { jobs: JobSelector; onlyJobs?: readonly string[] | undefined; where?: DimensionFilter | undefined }, p: Params): { cte: string; where: string } {
    return {
      cte: this.runsCte(query, `${this.jobCondition(query.jobs, p)}${onlyJobsCondition(query.onlyJobs, (j) => p.add(j))}`, p, { where: query.where }),
      where: `run_end_ns > ${nanosLiteral(query.fromMillis)} AND run_end_ns <= ${nanosLiteral(query.toMillis)}`,
    };
  }

  async timeSeries(query: TimeSeriesQuery): Promise<SeriesPoint[]> {
    const rolled = await this.readRollups?.series(seriesRollupQuery(query, false), query.where);
    if (rolled) return rolled.map((r) => toSeriesPoint(r));
    const p = new Params();
    const { cte, where } = this.inRange(query, p);
    const bucket = nanosLiteral(query.bucketMillis);
    const good = this.goodCondition(query.criterion ?? { kind: 'success' });
    const sql = `
      WITH ${cte}
      SELECT ((run_end_ns - 1) // ${bucket}) * ${bucket} AS bucket_ns,
        count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE ${good}) AS good,
        quantile_cont((last_end_ns - first_start_ns) / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ran) AS latency
      FROM runs
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND ${where}
      GROUP BY bucket_ns
      ORDER BY bucket_ns`;
    const rows = await this.query(sql, p.values);
    return rows.map((r) => toSeriesPoint(r));
  }

  /** A run list from the minute buckets (exactly the raw list); undefined when they cannot answer it. */
  private async listFromRollups(query: ListRunsByJobQuery, perJob: boolean): Promise<RunSummary[] | undefined> {
    const rows = this.readRollups ? await rollupRunList(this.readRollups, query, perJob) : null;
    return rows?.map((r) => toRunSummary(r));
  }

  async listRuns(query: ListRunsQuery): Promise<RunSummary[]> {
    const limit = Math.max(1, Math.min(10_000, Math.trunc(query.limit ?? 20)));
    const rolled = await this.listFromRollups({ ...query, limitPerJob: limit }, false);
    if (rolled) return rolled;
    const p = new Params();
    const cte = this.runsCte(query, this.jobCondition(query.jobs, p), p, { where: query.where });
    const where = `run_end_ns > ${nanosLiteral(query.fromMillis)} AND run_end_ns <= ${nanosLiteral(query.toMillis)}`;
    const filter = query.filter === 'failed' ? `AND outcome IN ('failed', 'timed_out')` : '';
    const order = query.order === 'slowest' ? 'last_end_ns - first_start_ns DESC, run_end_ns DESC, run_id, job' : 'run_end_ns DESC, run_id, job';
    const sql = `
      WITH ${cte}
      SELECT job, run_id, trace_id, span_id, outcome, first_start_ns, last_end_ns, attempts, error_type, exit_code, message, dead_lettered
      FROM runs
      WHERE ${where} ${filter}
      ORDER BY ${order}
      LIMIT ${limit}`;
    const rows = await this.query(sql, p.values);
    return rows.map((r) => toRunSummary(r));
  }

  /** {@link timeSeries} grouped by job as well as by bucket: one scan for all selected jobs. */
  async timeSeriesByJob(query: TimeSeriesQuery): Promise<JobSeries[]> {
    const rolled = await this.readRollups?.series(seriesRollupQuery(query, true), query.where);
    if (rolled) return seriesByJob(rolled, toSeriesPoint).sort((a, b) => compareStrings(a.job, b.job));
    const p = new Params();
    const { cte, where } = this.inRange(query, p);
    const bucket = nanosLiteral(query.bucketMillis);
    const good = this.goodCondition(query.criterion ?? { kind: 'success' });
    const sql = `
      WITH ${cte}
      SELECT job, ((run_end_ns - 1) // ${bucket}) * ${bucket} AS bucket_ns,
        count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE ${good}) AS good,
        quantile_cont((last_end_ns - first_start_ns) / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ran) AS latency
      FROM runs
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND ${where}
      GROUP BY job, bucket_ns
      ORDER BY job, bucket_ns`;
    const byJob = new Map<string, SeriesPoint[]>();
    for (const r of await this.query(sql, p.values)) {
      const job = String(r['job']);
      let points = byJob.get(job);
      if (!points) byJob.set(job, (points = []));
      points.push(toSeriesPoint(r));
    }
    return [...byJob].map(([job, points]) => ({ job, points })).sort((a, b) => compareStrings(a.job, b.job));
  }

  /** {@link listRuns} with the limit applied per job (a window function), for all selected jobs at once. */
  async listRunsByJob(query: ListRunsByJobQuery): Promise<RunSummary[]> {
    const rolled = await this.listFromRollups(query, true);
    if (rolled) return rolled.sort((a, b) => compareStrings(a.job, b.job));
    const p = new Params();
    const cte = this.runsCte(query, this.jobCondition(query.jobs, p), p, { where: query.where });
    const where = `run_end_ns > ${nanosLiteral(query.fromMillis)} AND run_end_ns <= ${nanosLiteral(query.toMillis)}`;
    const limit = Math.max(1, Math.min(10_000, Math.trunc(query.limitPerJob)));
    const filter = query.filter === 'failed' ? `AND outcome IN ('failed', 'timed_out')` : '';
    const order = query.order === 'slowest' ? 'last_end_ns - first_start_ns DESC, run_end_ns DESC, run_id' : 'run_end_ns DESC, run_id';
    const sql = `
      WITH ${cte}
      SELECT job, run_id, trace_id, span_id, outcome, first_start_ns, last_end_ns, attempts, error_type, exit_code, message, dead_lettered
      FROM runs
      WHERE ${where} ${filter}
      QUALIFY row_number() OVER (PARTITION BY job ORDER BY ${order}) <= ${limit}
      ORDER BY job, ${order}`;
    const rows = (await this.query(sql, p.values)).map((r) => toRunSummary(r));
    // SQL orders job names by collation; the contract is byte order.
    return rows.sort((a, b) => compareStrings(a.job, b.job));
  }

  /** Latency bin and attempts counts per job of counted runs, binned in SQL against the given edges. */
  async runDistributions(query: RunDistributionQuery): Promise<RunDistribution[]> {
    const edges = query.latencyEdgesMillis;
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] as number) > (edges[i - 1] as number))) throw new RangeError('latencyEdgesMillis must be ascending');
    }
    const edgesSql = edges.length === 0 ? '' : `[${edges.map((e) => numberLiteral(e)).join(', ')}]::DOUBLE[]`;
    const fromNs = BigInt(nanosLiteral(query.fromMillis));
    const toNs = BigInt(nanosLiteral(query.toMillis));
    const rollups = this.readRollups;
    let rows: Record<string, unknown>[];
    if (rollups && (await rollups.readable(fromNs, toNs, query.where))) rows = await rollups.distributionRows(query.jobs, fromNs, toNs, edges.map((e) => numberLiteral(e)));
    else {
      const p = new Params();
      const { cte, where } = this.inRange(query, p);
      const bin = edgesSql === '' ? '0' : `len(list_filter(${edgesSql}, e -> e <= (last_end_ns - first_start_ns) / 1e6))`;
      rows = await this.query(
        `WITH ${cte}
         SELECT job, ${bin} AS bin, attempts, count(*) AS n
         FROM runs
         WHERE outcome IN (${COUNTED_SQL_LIST}) AND ${where}
         GROUP BY ALL`,
        p.values,
      );
    }
    const byJob = new Map<string, RunDistribution>();
    for (const r of rows) {
      const job = String(r['job']);
      let d = byJob.get(job);
      if (!d) byJob.set(job, (d = { job, latencyCounts: new Array<number>(edges.length + 1).fill(0), attempts: {} }));
      const n = Number(r['n']);
      const i = Number(r['bin']);
      d.latencyCounts[i] = (d.latencyCounts[i] ?? 0) + n;
      const a = String(r['attempts']);
      d.attempts[a] = (d.attempts[a] ?? 0) + n;
    }
    return [...byJob.values()].sort((a, b) => compareStrings(a.job, b.job));
  }

  async runStarts(jobs: JobSelector, range: TimeRange, which: 'succeeded' | 'any', options: RunStartsOptions = {}): Promise<number[]> {
    const [starts] = await this.runStartsMany([{ ...options, jobs, fromMillis: range.fromMillis, toMillis: range.toMillis, which }]);
    return starts ?? [];
  }

  runStartsMany(queries: readonly RunStartsQuery[]): Promise<number[][]> {
    return runStartsFrom(this.readRollups, queries, (q) => this.rawRunStarts(q));
  }

  /** {@link runStarts} from the runs derived from job rows. */
  private async rawRunStarts(query: RunStartsQuery): Promise<number[]> {
    const { jobs, which, where } = query;
    const range = { fromMillis: query.fromMillis, toMillis: query.toMillis };
    const coalesce = coalesceWidth(query);
    const p = new Params();
    const cond = this.jobCondition(jobs, p);
    // Runs that started in the range end after its start: widen the CTE's read range to its end plus a day.
    const cte = `WITH ${this.runsCte({ fromMillis: range.fromMillis, toMillis: range.toMillis + 86_400_000 }, cond, p, { where })}`;
    const starts = `SELECT first_start_ns // 1000000 AS s FROM runs
      WHERE first_start_ns >= ${nanosLiteral(range.fromMillis)} AND first_start_ns < ${nanosLiteral(range.toMillis)}
        AND ${which === 'succeeded' ? "outcome = 'succeeded'" : "outcome <> 'skipped'"}`;
    if (coalesce === undefined) return (await this.query(`${cte} ${starts} ORDER BY s`, p.values)).map((r) => Number(r['s']));
    return coalescedStarts(await this.query(`${cte}, starts AS (${starts}) SELECT min(s) AS lo, max(s) AS hi FROM starts GROUP BY s // ${coalesce} ORDER BY lo`, p.values));
  }

  async jobNames(range: TimeRange): Promise<string[]> {
    const p = new Params();
    const sql = `
      WITH ${this.runsCte(range, "job <> ''", p)}
      SELECT DISTINCT job FROM runs
      WHERE run_end_ns > ${nanosLiteral(range.fromMillis)} AND run_end_ns <= ${nanosLiteral(range.toMillis)}`;
    return (await this.query(sql, p.values)).map((r) => String(r['job'])).sort(compareStrings);
  }

  async unformedSpans(range: TimeRange): Promise<UnformedSpans[]> {
    const rows = await this.query(`
      SELECT profile, missing, count(DISTINCT trace_id || '/' || span_id) AS n FROM unformed_spans
      WHERE end_ns > ${nanosLiteral(range.fromMillis)} AND end_ns <= ${nanosLiteral(range.toMillis)}
      GROUP BY profile, missing`);
    return toUnformedSpans(rows);
  }

  async dropBefore(olderThanMillis: number, options: DropBeforeOptions = {}): Promise<DropResult> {
    const { rawDayMillis, hourDayMillis } = retentionCutoffs(olderThanMillis, options);
    // Hour buckets that outlive the raw rows must hold every run first: apply pending marks while the rows exist.
    if (hourDayMillis < rawDayMillis) await this.rollups?.refresh();
    const day = rawDayMillis / 86_400_000;
    const rows = await this.query(`SELECT count(DISTINCT day) AS n FROM spans WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    await this.query(`DELETE FROM spans WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    await this.query(`DELETE FROM lifecycle_events WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    await this.query(`DELETE FROM job_rows WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    await this.query(`DELETE FROM unformed_spans WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    const rollupPartitions = (await this.rollups?.dropBefore(BigInt(day) * NANOS_PER_DAY, BigInt(hourDayMillis / 86_400_000) * NANOS_PER_DAY)) ?? 0;
    return { rawDays: Number(rows[0]?.['n'] ?? 0), rollupPartitions };
  }

  /** Runs a read query and returns plain row objects. For tests and diagnostics. */
  async query(sql: string, params: string[] = []): Promise<Record<string, unknown>[]> {
    return this.serial(async () => {
      try {
        return rowObjects(await this.conn.runAndReadAll(sql, params));
      } catch (cause) {
        throw new StoreError('JOBSLO_ERR_STORE_QUERY', `DuckDB query failed: ${errorMessage(cause)}`, { cause });
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

function numOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function toSeriesPoint(r: Record<string, unknown>): SeriesPoint {
  const latency = (r['latency'] as unknown[] | null) ?? [];
  return {
    bucketStartMillis: Number(BigInt(r['bucket_ns'] as bigint) / 1_000_000n),
    runs: Number(r['runs']),
    succeeded: Number(r['succeeded']),
    good: Number(r['good']),
    latencyP50Millis: numOrNull(latency[0]),
    latencyP95Millis: numOrNull(latency[1]),
    latencyP99Millis: numOrNull(latency[2]),
  };
}

function toRunSummary(r: Record<string, unknown>): RunSummary {
  const start = BigInt(r['first_start_ns'] as bigint);
  const end = BigInt(r['last_end_ns'] as bigint);
  return {
    job: String(r['job']),
    runId: String(r['run_id']),
    traceId: String(r['trace_id'] ?? ''),
    spanId: String(r['span_id'] ?? ''),
    outcome: String(r['outcome']),
    startMillis: Number(start / 1_000_000n),
    endMillis: Number(end / 1_000_000n),
    latencyMillis: Number(end - start) / 1e6,
    attempts: Number(r['attempts']),
    errorType: String(r['error_type'] ?? ''),
    exitCode: numOrNull(r['exit_code']),
    message: String(r['message'] ?? ''),
    deadLettered: r['dead_lettered'] === true,
  };
}

/** Appends one `spans` row (columns in table order). */
const dayOf = (ns: bigint): DuckDBDateValue => dateValue(Number(ns / NANOS_PER_DAY));

/** A `spans` row as appended: the span row and when the insert received it. */
interface SpanInsert {
  row: SpanRow;
  receivedNs: bigint;
}

/** The `spans` columns in table order (since migration 6: without the job values that `job_rows` holds). */
const SPAN_COLUMNS: readonly ChunkColumn<SpanInsert>[] = [
  { type: DATE, value: (s) => dayOf(s.row.startNs) },
  { type: VARCHAR, value: (s) => s.row.traceId },
  { type: VARCHAR, value: (s) => s.row.spanId },
  { type: VARCHAR, value: (s) => s.row.parentSpanId },
  { type: VARCHAR, value: (s) => s.row.name },
  { type: UTINYINT, value: (s) => s.row.kind & 0xff },
  { type: BIGINT, value: (s) => s.row.startNs },
  { type: BIGINT, value: (s) => s.row.endNs },
  { type: UTINYINT, value: (s) => s.row.statusCode & 0xff },
  { type: VARCHAR, value: (s) => s.row.statusMessage },
  { type: VARCHAR, value: (s) => s.row.serviceName },
  { type: VARCHAR, value: (s) => s.row.job },
  { type: VARCHAR, value: (s) => s.row.runId },
  { type: VARCHAR, value: (s) => s.row.spanType },
  { type: VARCHAR, value: (s) => s.row.attributes },
  { type: VARCHAR, value: (s) => s.row.resourceAttributes },
  { type: VARCHAR, value: (s) => s.row.events },
  { type: BIGINT, value: (s) => s.receivedNs },
];

// Dimension arrays are shared by the rows of one resource: encode each once.
const dimsTexts = new WeakMap<readonly string[], string>();

/** `\x1ek1\x1fv1\x1ek2\x1fv2\x1e` (`''` without dimensions); keys and values never hold those two bytes (store/derive). */
function dimsText(keys: readonly string[], values: readonly string[]): string {
  let text = dimsTexts.get(values);
  if (text !== undefined) return text;
  text = '';
  for (let i = 0; i < keys.length; i++) text += `\u001e${keys[i] as string}\u001f${values[i] as string}`;
  if (text !== '') text += '\u001e';
  dimsTexts.set(values, text);
  return text;
}

/** An exit code as INTEGER: null when absent or out of its range. */
function int32OrNull(n: number | null): number | null {
  return n === null || !(n <= INT32_MAX && n >= -INT32_MAX - 1) ? null : Math.trunc(n);
}

/** A `job_rows` row as appended. */
interface JobRowInsert {
  row: JobRow;
  receivedNs: bigint;
}

/** The `job_rows` columns in table order. */
const JOB_ROW_COLUMNS: readonly ChunkColumn<JobRowInsert>[] = [
  { type: DATE, value: (j) => dayOf(j.row.endNs) },
  { type: VARCHAR, value: (j) => j.row.profile },
  { type: VARCHAR, value: (j) => j.row.job },
  { type: VARCHAR, value: (j) => j.row.runId },
  { type: VARCHAR, value: (j) => j.row.role },
  { type: INTEGER, value: (j) => int32Column(j.row.attempt, 'attempt') },
  { type: BIGINT, value: (j) => j.row.startNs },
  { type: BIGINT, value: (j) => j.row.endNs },
  { type: VARCHAR, value: (j) => j.row.outcome },
  { type: BOOLEAN, value: (j) => j.row.terminal },
  { type: INTEGER, value: (j) => int32Column(j.row.runAttempts, 'run_attempts') },
  { type: VARCHAR, value: (j) => j.row.errorType },
  { type: INTEGER, value: (j) => int32OrNull(j.row.exitCode) },
  { type: VARCHAR, value: (j) => j.row.message },
  { type: BIGINT, value: (j) => j.row.queuedNs },
  { type: DOUBLE, value: (j) => j.row.cost },
  { type: DOUBLE, value: (j) => j.row.cpuSeconds },
  { type: DOUBLE, value: (j) => j.row.maxRssBytes },
  { type: BOOLEAN, value: (j) => j.row.deadLettered },
  { type: VARCHAR, value: (j) => j.row.traceId },
  { type: VARCHAR, value: (j) => j.row.spanId },
  { type: VARCHAR, value: (j) => dimsText(j.row.dimKeys, j.row.dimValues) },
  { type: BIGINT, value: (j) => j.receivedNs },
];

/** Why a span forms no run: the profile that claimed it and the attribute it lacks. */
interface Unformed {
  profile: string;
  missing: string;
}

/** An `unformed_spans` row as appended. */
interface UnformedInsert {
  span: SpanRecord;
  missing: Unformed;
  receivedNs: bigint;
}

const endOf = (span: SpanRecord): bigint => (span.endTimeUnixNano < span.startTimeUnixNano ? span.startTimeUnixNano : span.endTimeUnixNano);

/** The `unformed_spans` columns in table order. */
const UNFORMED_COLUMNS: readonly ChunkColumn<UnformedInsert>[] = [
  { type: DATE, value: (u) => dayOf(endOf(u.span)) },
  { type: BIGINT, value: (u) => endOf(u.span) },
  { type: VARCHAR, value: (u) => u.missing.profile },
  { type: VARCHAR, value: (u) => u.missing.missing },
  { type: VARCHAR, value: (u) => u.span.traceId },
  { type: VARCHAR, value: (u) => u.span.spanId },
  { type: BIGINT, value: (u) => u.receivedNs },
];
