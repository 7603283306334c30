import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient, Logger as ClientLogger, LogParams, ErrorLogParams, WarnLogParams } from '@clickhouse/client';
import { ConfigError, StoreError, noopLogger } from '../contracts/index.js';
import type { LifecycleEventRecord, Logger, SpanRecord } from '../contracts/index.js';
import { compareStrings, retentionCutoffs, toUnformedSpans } from './_common.js';
import type {
  DimensionFilter,
  DropBeforeOptions,
  DropResult,
  GoodRunCriterion,
  JobAggregate,
  JobAggregatesQuery,
  JobSelector,
  JobSeries,
  ListRunsByJobQuery,
  ListRunsQuery,
  RunDistribution,
  RunDistributionQuery,
  QueueDepth,
  OpenRun,
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
  MigrateOptions,
} from './types.js';
import { COUNTED_SQL_LIST, EXEC_ROLES_SQL, MAX_OPEN_RUNS, RUN_LOOKBACK_NANOS, TERMINAL_EVENTS_SQL_LIST, RUN_ROLES_SQL, coalesceWidth, globToLike, groupByEnd, jobAggregateFromRow, isGlob, modeCounts, nanosLiteral, numberLiteral, runStartsFrom, thresholdNanos, whereKey } from './_sql.js';
import {
  JOB_ROW_COLUMNS,
  LIFECYCLE_COLUMNS,
  SPAN_COLUMNS,
  UNFORMED_COLUMNS,
  encodeJobRowsTsv,
  encodeLifecycleTsv,
  encodeSpansAndJobRows,
  interpolatedQuantileSql,
  quoteIdentifier,
  quoteString,
  toStoreError,
  unformedTsvLine,
} from './_clickhouse.js';
import { checkSpan, deriveSpan } from './derive/index.js';
import type { JobRow } from './derive/index.js';
import { STORED_SPAN_COLUMNS, spanFromStored } from './_backfill.js';
import type { StoredSpan } from './_backfill.js';
import { redact } from './url.js';
import { ClickHouseRollups } from './rollup/clickhouse.js';
import { coalescedStarts, onlyJobsCondition, rollupRunList, seriesByJob, seriesRollupQuery } from './rollup/index.js';
import type { NsRange, RunFact } from './rollup/index.js';

/**
 * Ordered, append-only schema migrations; each is a list of statements with
 * `{db}` standing for the quoted database. ClickHouse has no transactions, so
 * a crash between a statement and its record re-runs it: every statement must
 * be idempotent (`IF NOT EXISTS`). Never edit a published one.
 *
 * Runs on ClickHouse 18.16 and current releases: no DateTime64, LowCardinality
 * (experimental behind a setting in 18.16), codecs, TTL or skipping indices.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    // Same columns as DuckDB's `spans`. Partitions are UTC days of the span's
    // *end* (the runs queries bound end_ns from below, so a query for the last
    // day reads two or three partitions, and retention drops days whose spans
    // all ended before the cut-off). `day` itself is the start day, as in DuckDB.
    // The sorting key puts the 3-valued span_type first so run queries skip
    // other spans, then job (job selectors prune by primary key, prefix globs
    // included) and run; (span_type, job, run_id, span_id, trace_id) identifies
    // a span, so ReplacingMergeTree removes redelivered copies when it merges.
    `CREATE TABLE IF NOT EXISTS {db}.spans (
      day Date,
      trace_id String,
      span_id String,
      parent_span_id String,
      name String,
      kind UInt8,
      start_ns Int64,
      end_ns Int64,
      status_code UInt8,
      status_message String,
      service_name String,
      job String,
      run_id String,
      span_type String,
      attempt Int32,
      outcome String,
      run_attempts Int32,
      error_type String,
      exit_code Nullable(Int32),
      cost Nullable(Float64),
      cpu_seconds Nullable(Float64),
      max_rss_bytes Nullable(Float64),
      queued_ns Nullable(Int64),
      dead_lettered UInt8,
      attributes String,
      resource_attributes String,
      events String,
      received_ns Int64
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMMDD(toDateTime(intDiv(end_ns, 1000000000)))
    ORDER BY (span_type, job, run_id, span_id, trace_id)`,
  ],
  [
    // Live lifecycle events (queued, started, ...), for queue depth. Redelivered
    // copies share an event_id; the queue-depth query is idempotent anyway.
    `CREATE TABLE IF NOT EXISTS {db}.lifecycle_events (
      day Date,
      event_id String,
      type String,
      job String,
      run_id String,
      time_ns Int64,
      attempt Nullable(Int32),
      attributes String,
      received_ns Int64
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMMDD(day)
    ORDER BY (job, run_id, event_id)`,
  ],
  [
    // Normalized job rows (store/derive), filled from the stored spans by
    // backfillJobRows. Partitions are UTC days of the row's end, as for spans;
    // the sorting key groups a run's rows (the runs queries group by job and
    // run id, and long runs are read back by that key), and identifies a row
    // for ReplacingMergeTree.
    `CREATE TABLE IF NOT EXISTS {db}.job_rows (
      profile String,
      job String,
      run_id String,
      role String,
      attempt Int32,
      start_ns Int64,
      end_ns Int64,
      outcome String,
      terminal UInt8,
      run_attempts Int32,
      error_type String,
      exit_code Nullable(Int32),
      message String,
      queued_ns Nullable(Int64),
      cost Nullable(Float64),
      cpu_seconds Nullable(Float64),
      max_rss_bytes Nullable(Float64),
      dead_lettered UInt8,
      trace_id String,
      span_id String,
      dim_keys Array(String),
      dim_values Array(String),
      received_ns Int64
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMMDD(toDateTime(intDiv(end_ns, 1000000000)))
    ORDER BY (job, run_id, role, span_id, trace_id)`,
  ],
  [
    // Spans that look like job telemetry but form no run (store/derive
    // warnings), filled from the stored spans by backfillUnformedSpans.
    // Partitions are UTC days of the span's end; the sorting key identifies a
    // span for ReplacingMergeTree (queries count distinct spans regardless).
    `CREATE TABLE IF NOT EXISTS {db}.unformed_spans (
      profile String,
      missing String,
      trace_id String,
      span_id String,
      end_ns Int64,
      received_ns Int64
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMMDD(toDateTime(intDiv(end_ns, 1000000000)))
    ORDER BY (profile, missing, trace_id, span_id)`,
  ],
];

/** Migrations (1-based versions) after which job rows are re-derived from the stored spans. */
const BACKFILL_AFTER = new Set([3]);
/** Migrations after which the unformed spans are found again in the stored spans. */
const BACKFILL_UNFORMED_AFTER = new Set([4]);
const BACKFILL_BATCH = 10_000;

/** What a runs subquery selects besides the job selector. */
interface RunsSelection {
  where?: DimensionFilter | undefined;
  groupBy?: string | undefined;
}

/** Options of {@link ClickHouseStore}. */
export interface ClickHouseStoreOptions {
  /** HTTP(S) URL of the server, `http://[user[:password]@]host:8123`. */
  url: string;
  /** Database (created by {@link ClickHouseStore.migrate}); must match `[A-Za-z_][A-Za-z0-9_]*`. */
  database: string;
  /** Timeout of each HTTP request, ms. @default 30_000 */
  requestTimeoutMillis?: number;
  /** Rows per INSERT request; larger {@link ClickHouseStore.insertSpans} calls are split. @default 100_000 */
  maxRowsPerInsert?: number;
  /** Concurrent HTTP connections. @default 10 */
  maxOpenConnections?: number;
  /** Where the client's own warnings go. @default noopLogger */
  logger?: Logger;
  /**
   * Maintain rollups and answer window counts from them (see
   * docs/storage.md). Off only to measure or check the raw path.
   * @default true
   */
  rollups?: boolean;
}

function clientLoggerClass(logger: Logger): new () => ClientLogger {
  const fields = (p: LogParams): Record<string, string> => ({ module: p.module ?? 'clickhouse' });
  return class implements ClientLogger {
    trace(p: LogParams): void {
      logger.debug(`clickhouse client: ${p.message}`, fields(p));
    }
    debug(p: LogParams): void {
      logger.debug(`clickhouse client: ${p.message}`, fields(p));
    }
    info(p: LogParams): void {
      logger.debug(`clickhouse client: ${p.message}`, fields(p));
    }
    warn(p: WarnLogParams): void {
      logger.warn(`clickhouse client: ${p.message}`, fields(p));
    }
    error(p: ErrorLogParams): void {
      logger.warn(`clickhouse client: ${p.message}`, { ...fields(p), error: p.err.message });
    }
  };
}

type Row = Record<string, unknown>;

/**
 * The scale-out store: spans in a ClickHouse `ReplacingMergeTree`, SLIs
 * computed by ClickHouse over HTTP. Duplicate deliveries are removed by
 * merges eventually, and made harmless before that by the same idempotent
 * per-run aggregates as the DuckDB store (min, max, uniqExact, argMax).
 * Several processes may write to one database at once.
 */
/** A `latest` run list over a longer range first looks at a suffix of it (see {@link ClickHouseStore.listRuns}). */
const NARROW_MIN_SPAN_MILLIS = 4 * 3_600_000;

export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse';
  readonly location: string;
  private readonly client: ClickHouseClient;
  private readonly db: string;
  private readonly where: string;
  private readonly maxRowsPerInsert: number;
  private closed = false;
  /** Rollups of the derived runs; null when the store was opened without them. */
  private readonly rollups: ClickHouseRollups | null;
  private rollupReads = true;

  /**
   * Answers window counts from the rollups (the default) or from the raw
   * runs; rollups are maintained either way. For benchmarks and checks.
   */
  useRollups(enabled: boolean): void {
    this.rollupReads = enabled;
  }

  private get readRollups(): ClickHouseRollups | null {
    return this.rollupReads ? this.rollups : null;
  }

  private constructor(options: ClickHouseStoreOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (cause) {
      throw new ConfigError('--store', `"${redact(options.url)}" is not a URL; use clickhouse:http://HOST:8123/DATABASE`, { cause });
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.database)) {
      throw new ConfigError('--store', `database name "${options.database}" must match [A-Za-z_][A-Za-z0-9_]*`);
    }
    const username = decodeURIComponent(url.username) || undefined;
    const password = decodeURIComponent(url.password) || undefined;
    url.username = '';
    url.password = '';
    const base = url.toString().replace(/\/$/, '');
    this.db = quoteIdentifier(options.database);
    this.where = `${base}/${options.database}`;
    this.location = `clickhouse:${this.where}`;
    this.maxRowsPerInsert = options.maxRowsPerInsert ?? 100_000;
    this.client = createClient({
      url: base,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      request_timeout: options.requestTimeoutMillis ?? 30_000,
      max_open_connections: options.maxOpenConnections ?? 10,
      compression: { request: false, response: false },
      // 64-bit integers (nanosecond times) as JSON strings, read with BigInt:
      // 18.16 quotes them by default, current releases (checked on 26.9 via
      // chDB) print bare numbers that JSON.parse rounds to ±128 ns.
      clickhouse_settings: {
        output_format_json_quote_64bit_integers: 1,
        // Run derivation groups by run id; over long windows of large stores the
        // group-by state can pass the server's memory limit: spill it to disk first.
        max_bytes_before_external_group_by: '1000000000',
      },
      application: 'jobslo',
      log: { LoggerClass: clientLoggerClass(options.logger ?? noopLogger) },
    });
    this.rollups =
      options.rollups === false
        ? null
        : new ClickHouseRollups({
            db: this.db,
            select: (sql, doing) => this.select(sql, doing),
            command: (sql, doing) => this.command(sql, doing),
            insertTsv: (table, body, columns, doing) => this.insertTsv(table, [Buffer.from(body, 'utf8')], columns, doing),
            runFacts: (jobs, range) => this.runFacts(jobs, range),
          });
  }

  /**
   * Creates a store for a ClickHouse server. No I/O happens until the first
   * call; {@link migrate} creates the database and tables.
   * @throws {ConfigError} for a bad URL or database name
   */
  static open(options: ClickHouseStoreOptions): Promise<ClickHouseStore> {
    return Promise.resolve(new ClickHouseStore(options));
  }

  /** Table `spans` of this store's database, quoted, for diagnostics queries. */
  get spansTable(): string {
    return `${this.db}.spans`;
  }

  /** Table `job_rows` of this store's database, quoted, for diagnostics queries. */
  get jobRowsTable(): string {
    return `${this.db}.job_rows`;
  }

  async migrate(options: MigrateOptions = {}): Promise<void> {
    await this.migrateTables();
    await this.rollups?.migrate((done, total) => options.onProgress?.(`rollups: ${done}/${total} days built`));
  }

  /** The derived runs of these jobs (null: every job) with a final outcome in `(loNs, hiNs]`, for the rollups. */
  private async runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]> {
    const cond = jobs === null ? "job != ''" : jobs.length === 0 ? '0' : `job IN (${jobs.map(quoteString).join(', ')})`;
    const ms = (ns: bigint): number => Number(ns / 1_000_000n);
    // Rows that start up to the look-back after the range still shape its runs.
    const rows = await this.select(
      `SELECT job, run_id, run_end_ns, first_start_ns, outcome, last_end_ns - first_start_ns AS latency_ns, attempts, ran,
         dead_lettered, queued_ns, cost, cpu_seconds, max_rss_bytes, error_type, trace_id, span_id, exit_code, message
       FROM ${this.runsSubquery({ fromMillis: ms(range.loNs), toMillis: ms(range.hiNs + RUN_LOOKBACK_NANOS) }, cond)}
       WHERE run_end_ns > ${range.loNs} AND run_end_ns <= ${range.hiNs}`,
      'rollup run derivation',
    );
    return rows.map((r) => ({
      job: String(r['job']),
      runId: String(r['run_id']),
      runEndNs: BigInt(String(r['run_end_ns'])),
      startNs: r['first_start_ns'] === null || r['first_start_ns'] === undefined ? null : BigInt(String(r['first_start_ns'])),
      outcome: String(r['outcome']),
      latencyNs: r['latency_ns'] === null || r['latency_ns'] === undefined ? null : BigInt(String(r['latency_ns'])),
      attempts: Number(r['attempts']),
      ran: r['ran'] === true || Number(r['ran']) === 1,
      deadLettered: r['dead_lettered'] === true || Number(r['dead_lettered']) === 1,
      queuedNs: r['queued_ns'] === null || r['queued_ns'] === undefined ? null : BigInt(String(r['queued_ns'])),
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

  private async migrateTables(): Promise<void> {
    await this.command(`CREATE DATABASE IF NOT EXISTS ${this.db}`, 'create database');
    await this.command(
      `CREATE TABLE IF NOT EXISTS ${this.db}.jobslo_migrations (version UInt32, applied_at DateTime) ENGINE = MergeTree ORDER BY version`,
      'create migrations table',
    );
    const [row] = await this.select(`SELECT max(version) AS v FROM ${this.db}.jobslo_migrations`, 'read schema version');
    const current = Number(row?.['v'] ?? 0);
    for (let v = current; v < MIGRATIONS.length; v++) {
      for (const statement of MIGRATIONS[v] ?? []) {
        await this.command(statement.replaceAll('{db}', this.db), `migration ${v + 1}`);
      }
      if (BACKFILL_AFTER.has(v + 1)) await this.backfillJobRows();
      if (BACKFILL_UNFORMED_AFTER.has(v + 1)) await this.backfillUnformedSpans();
      await this.command(`INSERT INTO ${this.db}.jobslo_migrations (version, applied_at) VALUES (${v + 1}, now())`, `record migration ${v + 1}`);
    }
  }

  /**
   * Re-derives the job rows of every stored span, a partition at a time. Not
   * atomic (ClickHouse has no transactions): a crash re-runs it, and the
   * copies it then writes are harmless (idempotent aggregates, merges).
   */
  private async backfillJobRows(): Promise<void> {
    let rows: JobRow[] = [];
    let received = 0n;
    const flush = async (): Promise<void> => {
      if (rows.length === 0) return;
      await this.insertJobRows(rows, received);
      rows = [];
    };
    await this.scanStoredSpans('re-deriving the job rows', flush, async (stored, span) => {
      const r = BigInt(String(stored.received_ns));
      if (r > received) received = r;
      for (const row of deriveSpan(span).rows) rows.push(row);
      if (rows.length >= BACKFILL_BATCH) await flush();
    });
  }

  /** Finds the unformed spans among the stored spans, a partition at a time (not atomic; copies are harmless). */
  private async backfillUnformedSpans(): Promise<void> {
    let text = '';
    let count = 0;
    const flush = async (): Promise<void> => {
      if (count === 0) return;
      await this.insertTsv('unformed_spans', [Buffer.from(text, 'utf8')], UNFORMED_COLUMNS, `insert of ${count} unformed spans`);
      text = '';
      count = 0;
    };
    await this.scanStoredSpans('finding the unformed spans', flush, async (stored, span) => {
      const d = checkSpan(span);
      if (d.warning === undefined) return;
      text += unformedTsvLine(span, d.profile ?? '', d.missing ?? '', String(stored.received_ns));
      if (++count >= BACKFILL_BATCH) await flush();
    });
  }

  /** Streams every stored span, a day partition at a time, calling `flush` after each partition. */
  private async scanStoredSpans(
    doing: string,
    flush: () => Promise<void>,
    onSpan: (stored: StoredSpan & { received_ns: string }, span: SpanRecord) => Promise<void>,
  ): Promise<void> {
    const database = this.db.slice(1, -1);
    const parts = await this.select(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(database)} AND table = 'spans' AND active`,
      'partition list query',
    );
    for (const id of parts.map((r) => String(r['partition_id'])).filter((i) => /^\d{8}$/.test(i)).sort()) {
      const result = await this.client.query({
        query: `SELECT ${STORED_SPAN_COLUMNS}, received_ns FROM ${this.db}.spans WHERE toYYYYMMDD(toDateTime(intDiv(end_ns, 1000000000))) = ${numberLiteral(Number(id))}`,
        format: 'JSONEachRow',
      });
      try {
        for await (const batch of result.stream<StoredSpan & { received_ns: string }>()) {
          for (const line of batch) {
            const stored = line.json();
            await onSpan(stored, spanFromStored(stored));
          }
        }
      } catch (err) {
        throw toStoreError(err, this.where, `${doing} of partition ${id}`);
      }
      await flush();
    }
  }

  private async insertJobRows(rows: readonly JobRow[], receivedNs: bigint): Promise<void> {
    const body = Buffer.from(encodeJobRowsTsv(rows, receivedNs), 'utf8');
    await this.insertTsv('job_rows', [body], JOB_ROW_COLUMNS, `insert of ${rows.length} job rows`);
  }

  private async insertTsv(table: string, body: Buffer[], columns: readonly string[], doing: string): Promise<void> {
    try {
      await this.client.insert({ table: `${this.db}.${table}`, values: Readable.from(body, { objectMode: false }), format: 'TabSeparated', columns: [...columns] as [string, ...string[]] });
    } catch (err) {
      throw toStoreError(err, this.where, doing);
    }
  }

  /**
   * Inserts the spans, their job rows (derived once, here) and their unformed
   * spans as three concurrent INSERTs, and the rollup marks once the job rows
   * are stored (a refresh must never see a mark before its rows). A failure
   * of any leaves the others stored; the caller's retry of the batch stores
   * all (copies are harmless).
   */
  async insertSpans(spans: readonly SpanRecord[]): Promise<void> {
    if (spans.length === 0) return;
    const receivedNs = BigInt(Date.now()) * 1_000_000n;
    for (let i = 0; i < spans.length; i += this.maxRowsPerInsert) {
      const chunk = spans.slice(i, i + this.maxRowsPerInsert);
      const rows: JobRow[] | undefined = this.rollups ? [] : undefined;
      const body = encodeSpansAndJobRows(chunk, receivedNs, undefined, rows);
      const inserts = [this.insertTsv('spans', body.spans, SPAN_COLUMNS, `insert of ${chunk.length} spans`)];
      if (body.jobRowCount > 0 || rows) {
        inserts.push(
          (async () => {
            if (body.jobRowCount > 0) await this.insertTsv('job_rows', body.jobRows, JOB_ROW_COLUMNS, `insert of ${body.jobRowCount} job rows`);
            if (rows) await this.rollups?.mark(rows, receivedNs);
          })(),
        );
      }
      if (body.unformedCount > 0) inserts.push(this.insertTsv('unformed_spans', body.unformed, UNFORMED_COLUMNS, `insert of ${body.unformedCount} unformed spans`));
      // Every insert settles before the batch fails, so no write is left running behind the caller's retry.
      const failed = (await Promise.allSettled(inserts)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  async insertLifecycleEvents(events: readonly LifecycleEventRecord[]): Promise<void> {
    if (events.length === 0) return;
    const body = Buffer.from(encodeLifecycleTsv(events, BigInt(Date.now()) * 1_000_000n), 'utf8');
    try {
      await this.client.insert({
        table: `${this.db}.lifecycle_events`,
        values: Readable.from([body], { objectMode: false }),
        format: 'TabSeparated',
        columns: [...LIFECYCLE_COLUMNS] as [string, ...string[]],
      });
    } catch (err) {
      throw toStoreError(err, this.where, `insert of ${events.length} lifecycle events`);
    }
  }

  async openRuns(jobs: JobSelector, range: TimeRange): Promise<OpenRun[]> {
    const cond = this.jobCondition(jobs);
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    const sql = `
      SELECT job, run_id, toString(s_ns) AS start_ns FROM (
        SELECT job, run_id, minIf(time_ns, type = 'job.started') AS s_ns,
          countIf(type = 'job.started') AS n_started, countIf(type IN (${TERMINAL_EVENTS_SQL_LIST})) AS n_ended
        FROM ${this.db}.lifecycle_events
        WHERE time_ns > ${from} AND time_ns <= ${to} AND ${cond}
        GROUP BY job, run_id
      )
      WHERE n_started > 0 AND n_ended = 0
        AND (job, run_id) NOT IN (
          SELECT job, run_id FROM ${this.db}.job_rows
          WHERE terminal = 1 AND end_ns > ${from} AND ${cond}
        )
      ORDER BY s_ns, job, run_id
      LIMIT ${MAX_OPEN_RUNS}`;
    const rows = await this.select(sql, 'open runs query');
    return rows.map((r) => ({ job: String(r['job']), runId: String(r['run_id']), startMillis: Number(BigInt(String(r['start_ns'])) / 1_000_000n) }));
  }

  async queueDepths(range: TimeRange): Promise<QueueDepth[]> {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    // Runs queued (live lifecycle event) within the lookback before the range's
    // end, with no later transition and no final outcome yet.
    const pending = `
      SELECT job, q FROM (
        SELECT job, run_id, min(time_ns) AS q, countIf(type = 'job.queued') AS n_queued, countIf(type != 'job.queued') AS n_other
        FROM ${this.db}.lifecycle_events
        WHERE time_ns > ${to} - ${RUN_LOOKBACK_NANOS} AND time_ns <= ${to}
        GROUP BY job, run_id
      )
      WHERE n_queued > 0 AND n_other = 0
        AND (job, run_id) NOT IN (
          SELECT job, run_id FROM ${this.db}.job_rows
          WHERE terminal = 1 AND end_ns > ${to} - ${RUN_LOOKBACK_NANOS} - ${RUN_LOOKBACK_NANOS}
        )`;
    // Queue intervals of finished runs from the minute buckets when they hold
    // the runs the raw path reads (rows from the look-back before the range).
    const rollups = this.readRollups;
    const rolled =
      rollups && (await rollups.readable(BigInt(from) - BigInt(RUN_LOOKBACK_NANOS), BigInt(to), undefined)) ? rollups.queueIntervalsSql(BigInt(from), BigInt(to)) : null;
    const runIntervals =
      rolled ??
      `SELECT job, toInt64(assumeNotNull(queued_ns)) AS s, toInt64(first_start_ns) AS e, toUInt8(0) AS pending
          FROM ${this.runsSubquery(range, "job != ''")}
          WHERE queued_ns IS NOT NULL AND first_start_ns > assumeNotNull(queued_ns)
            AND first_start_ns > ${from} AND assumeNotNull(queued_ns) <= ${to}`;
    // Max depth: +1 when a run is queued, -1 when it starts, summed in time
    // order (a start sorts before a queue at the same instant).
    const sql = `
      SELECT job,
        arrayReduce('max', arrayCumSum(arrayMap(x -> tupleElement(x, 2), arraySort(groupArray(step))))) AS max_depth,
        sum(pending_start) AS now_depth
      FROM (
        SELECT job, arrayJoin([(greatest(s, toInt64(${from})), toInt8(1)), (e, toInt8(-1))]) AS step,
          if(pending = 1 AND tupleElement(step, 2) = 1, 1, 0) AS pending_start
        FROM (
          ${runIntervals}
          UNION ALL
          SELECT job, toInt64(q) AS s, toInt64(${to}) AS e, toUInt8(1) AS pending FROM (${pending})
        )
      )
      GROUP BY job`;
    const rows = await this.select(sql, 'queue depth query');
    return rows
      .map((r) => ({ job: String(r['job']), now: Number(r['now_depth']), max: Number(r['max_depth']) }))
      .sort((a, b) => compareStrings(a.job, b.job));
  }

  /**
   * The runs subquery: one row per finished run (a terminal job row
   * exists), from the job rows of `(from - lookback,
   * to]` plus every row of the runs whose final outcome is in the range but
   * that may have started before the lookback (long runs, read back by the
   * sorting key). Every aggregate is idempotent under repeated rows (max, min,
   * uniqExact, argMax with a total order), so copies that ReplacingMergeTree
   * has not merged away yet change nothing. `max(if(c, x, NULL))` is
   * `max(x) FILTER (WHERE c)`: NULL when no row matches (18.16's `maxIf`
   * would give 0 there). `lean` derives only job, times and outcome: what
   * window counting needs, with a fraction of the per-run aggregate state,
   * which matters when one query counts every job's runs over 30 days.
   * `sel.where` keeps runs with those dimension values; `sel.groupBy` adds the
   * run's value of that dimension as `grp`.
   */
  private runsSubquery(range: TimeRange, jobFilter: string, lean = false, sel: RunsSelection = {}): string {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    const cutoff = `${from} - ${RUN_LOOKBACK_NANOS}`;
    const runRow = `role IN ${RUN_ROLES_SQL}`;
    const att = `role = 'attempt'`;
    // The order that picks the row giving the run's final outcome: highest
    // attempt, then latest end; outcome and span id make it total.
    const last = '(attempt, end_ns, outcome, span_id)';
    const lastAttempt = '(attempt, end_ns, span_id)';
    const dim = (key: string): string => `max(dim_values[indexOf(dim_keys, ${quoteString(key)})])`;
    const having = Object.entries(sel.where ?? {}).map(([k, v]) => ` AND ${dim(k)} = ${quoteString(v)}`).join('');
    // What every caller needs: the run's times and outcome.
    const core = `minIf(start_ns, role IN ${EXEC_ROLES_SQL}) AS first_start_ns,
          if(countIf(${att}) > 0, maxIf(end_ns, ${att}), maxIf(end_ns, ${runRow})) AS last_end_ns,
          argMaxIf(end_ns, ${last}, terminal = 1) AS run_end_ns,
          argMaxIf(outcome, ${last}, terminal = 1) AS r_outcome`;
    // Aliases inside the GROUP BY level are prefixed: ClickHouse resolves an
    // alias everywhere in its SELECT, so `argMaxIf(span_id, ...) AS span_id`
    // would feed itself into uniqExactIf(span_id, ...).
    const rest = `,
          argMaxIf(trace_id, ${last}, terminal = 1) AS r_trace_id,
          argMaxIf(span_id, ${last}, terminal = 1) AS r_span_id,
          greatest(greatest(greatest(toInt64(uniqExactIf(span_id, ${att})), toInt64(maxIf(attempt, ${att}))), toInt64(max(run_attempts))), 1) AS attempts,
          max(dead_lettered) AS r_dead_lettered,
          -- 0 for a run that never started an attempt (a missed scheduled tick): no latency.
          countIf(role IN ('attempt', 'run_attempt')) > 0 OR max(run_attempts) > 0 AS r_ran,
          if(maxIf(error_type, ${runRow}) != '', maxIf(error_type, ${runRow}), argMaxIf(error_type, ${lastAttempt}, ${att})) AS r_error_type,
          ifNull(max(if(${runRow}, exit_code, NULL)), argMaxIf(exit_code, ${lastAttempt}, ${att} AND exit_code IS NOT NULL)) AS r_exit_code,
          if(maxIf(message, ${runRow}) != '', maxIf(message, ${runRow}), argMaxIf(message, ${lastAttempt}, ${att})) AS r_message,
          min(queued_ns) AS r_queued_ns,
          max(cost) AS r_cost,
          max(cpu_seconds) AS r_cpu_seconds,
          max(max_rss_bytes) AS r_max_rss_bytes`;
    const group = sel.groupBy !== undefined ? `,\n          ${dim(sel.groupBy)} AS grp` : '';
    const columns = lean
      ? `job, first_start_ns, last_end_ns, run_end_ns, r_outcome AS outcome${sel.groupBy !== undefined ? ', grp' : ''}`
      : `job, run_id, r_trace_id AS trace_id, r_span_id AS span_id, first_start_ns, last_end_ns, run_end_ns,
        r_outcome AS outcome, attempts, r_dead_lettered AS dead_lettered, r_error_type AS error_type, r_exit_code AS exit_code,
        r_message AS message, r_queued_ns AS queued_ns, r_cost AS cost, r_cpu_seconds AS cpu_seconds, r_max_rss_bytes AS max_rss_bytes, r_ran AS ran${sel.groupBy !== undefined ? ', grp' : ''}`;
    const rowColumns = `job, run_id, role, attempt, start_ns, end_ns, outcome, terminal, run_attempts, span_id${
      lean ? '' : ', trace_id, dead_lettered, error_type, exit_code, message, queued_ns, cost, cpu_seconds, max_rss_bytes'
    }${sel.where !== undefined || sel.groupBy !== undefined ? ', dim_keys, dim_values' : ''}`;
    return `(
      SELECT ${columns}
      FROM (
        SELECT job, run_id,
          ${core}${lean ? '' : rest}${group}
        FROM (
          SELECT ${rowColumns} FROM ${this.db}.job_rows
          WHERE end_ns > ${cutoff} AND start_ns <= ${to} AND ${jobFilter}
          UNION ALL
          SELECT ${rowColumns} FROM ${this.db}.job_rows
          WHERE end_ns <= ${cutoff} AND ${jobFilter} AND (job, run_id) IN (
            SELECT job, run_id FROM ${this.db}.job_rows
            WHERE terminal = 1 AND end_ns > ${from} AND end_ns <= ${to} AND ${jobFilter}
              AND ((role IN ${RUN_ROLES_SQL} AND start_ns <= ${cutoff}) OR (role = 'attempt' AND attempt != 1))
          )
        )
        GROUP BY job, run_id
        HAVING countIf(terminal = 1) > 0${having}
      )
    )`;
  }

  /** `job = '...'` or `job LIKE '...'` (backslash is LIKE's escape in ClickHouse), quoted. */
  private jobCondition(selector: JobSelector): string {
    return isGlob(selector) ? `job LIKE ${quoteString(globToLike(selector))}` : `job = ${quoteString(selector)}`;
  }

  /** `run_end_ns` in the query's `(from, to]`. */
  private static inRange(range: TimeRange): string {
    return `run_end_ns > ${nanosLiteral(range.fromMillis)} AND run_end_ns <= ${nanosLiteral(range.toMillis)}`;
  }

  async jobAggregates(query: JobAggregatesQuery): Promise<JobAggregate[]> {
    const rollups = this.readRollups;
    const fromNs = BigInt(nanosLiteral(query.fromMillis));
    const toNs = BigInt(nanosLiteral(query.toMillis));
    if (rollups && query.groupBy === undefined && (await rollups.readable(fromNs, toNs, query.where))) {
      return (await rollups.aggregateRows(fromNs, toNs))
        .map((r) => jobAggregateFromRow(r, modeCounts((r['modes'] as string[] | null) ?? [])))
        .sort((a, b) => compareStrings(a.job, b.job));
    }
    const counted = `outcome IN (${COUNTED_SQL_LIST})`;
    const failed = `outcome IN ('failed', 'timed_out')`;
    const queued = `queued_ns IS NOT NULL AND ran`;
    const grouped = query.groupBy !== undefined;
    const sql = `
      SELECT job, ${grouped ? 'grp, ' : ''}runs, succeeded, failed, timed_out, cancelled, skipped, n_dead_lettered,
        ${interpolatedQuantileSql('lat', 0.5)} AS latency_p50,
        ${interpolatedQuantileSql('lat', 0.95)} AS latency_p95,
        ${interpolatedQuantileSql('lat', 0.99)} AS latency_p99,
        retries,
        ${interpolatedQuantileSql('qd', 0.5)} AS queue_p50,
        ${interpolatedQuantileSql('qd', 0.95)} AS queue_p95,
        queued_runs, cost_total, costed_runs, cpu_total, cpu_runs,
        ${interpolatedQuantileSql('rss', 0.95)} AS rss_p95,
        arrayMap(m -> (m, countEqual(modes, m)), arrayDistinct(modes)) AS mode_counts
      FROM (
        SELECT job,${grouped ? ' grp,' : ''}
          countIf(${counted}) AS runs,
          countIf(outcome = 'succeeded') AS succeeded,
          countIf(${failed}) AS failed,
          countIf(outcome = 'timed_out') AS timed_out,
          countIf(outcome = 'cancelled') AS cancelled,
          countIf(outcome = 'skipped') AS skipped,
          countIf(dead_lettered = 1 AND ${counted}) AS n_dead_lettered,
          arraySort(groupArrayIf((last_end_ns - first_start_ns) / 1e6, ${counted} AND ran)) AS lat,
          sumIf(attempts - 1, ${counted}) AS retries,
          arraySort(groupArrayIf(greatest(first_start_ns - assumeNotNull(queued_ns), 0) / 1e6, ${queued})) AS qd,
          countIf(${queued}) AS queued_runs,
          sum(if(${counted}, cost, NULL)) AS cost_total,
          count(if(${counted}, cost, NULL)) AS costed_runs,
          sum(if(${counted}, cpu_seconds, NULL)) AS cpu_total,
          count(if(${counted}, cpu_seconds, NULL)) AS cpu_runs,
          arraySort(groupArrayIf(assumeNotNull(max_rss_bytes), ${counted} AND max_rss_bytes IS NOT NULL)) AS rss,
          groupArrayIf(multiIf(error_type != '', error_type, outcome = 'timed_out', 'timeout', 'failed'), ${failed}) AS modes
        FROM ${this.runsSubquery(query, "job != ''", false, { where: query.where, groupBy: query.groupBy })}
        WHERE ${ClickHouseStore.inRange(query)}
        GROUP BY job${grouped ? ', grp' : ''}
      )`;
    const rows = await this.select(sql, 'job aggregates query');
    return rows
      .map((r) => {
        const modes: Record<string, number> = {};
        for (const pair of (r['mode_counts'] as [string, string | number][] | null) ?? []) modes[String(pair[0])] = Number(pair[1]);
        // Byte order of modes, as every path gives them.
        const agg = jobAggregateFromRow(r, Object.fromEntries(Object.entries(modes).sort((x, y) => compareStrings(x[0], y[0]))));
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
    const good = this.goodCondition(query.criterion);
    const cols = query.windowsMillis
      .map((w, i) => {
        const start = nanosLiteral(query.endMillis - w);
        return `countIf(run_end_ns > ${start} AND (${good})) AS g${i}, countIf(run_end_ns > ${start}) AS t${i}`;
      })
      .join(',\n        ');
    const sql = `
      SELECT ${cols}
      FROM ${this.runsSubquery(range, this.jobCondition(query.jobs), false, { where: query.where })}
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns <= ${nanosLiteral(query.endMillis)}`;
    const [row] = await this.select(sql, 'window counts query');
    return query.windowsMillis.map((w, i) => ({ windowMillis: w, good: Number(row?.[`g${i}`] ?? 0), total: Number(row?.[`t${i}`] ?? 0) }));
  }

  async windowCountsMany(queries: readonly WindowCountsQuery[]): Promise<WindowCount[][]> {
    const rolled = await this.readRollups?.windowCountsMany(queries);
    if (rolled) return rolled;
    const out: WindowCount[][] = queries.map((q) => q.windowsMillis.map((w) => ({ windowMillis: w, good: 0, total: 0 })));
    const NO_LIMIT = '9223372036854775807';
    // One pass per end time and dimension filter (SLO selectors share few filters).
    const passes = new Map<string, { endMillis: number; where: DimensionFilter | undefined; group: { index: number; query: WindowCountsQuery }[] }>();
    for (const [endMillis, group] of groupByEnd(queries)) {
      for (const g of group) {
        const key = `${endMillis}\u0000${whereKey(g.query.where)}`;
        let entry = passes.get(key);
        if (!entry) passes.set(key, (entry = { endMillis, where: g.query.where, group: [] }));
        entry.group.push(g);
      }
    }
    for (const { endMillis, where, group } of passes.values()) {
      const live = group.filter((g) => g.query.windowsMillis.length > 0);
      if (live.length === 0) continue;
      const longest = Math.max(...live.flatMap((g) => g.query.windowsMillis));
      // 18.16 has no VALUES or CTEs: each run gets the indices of the queries
      // whose selector matches it (constant LIKE patterns), then one row per
      // window of that query it falls in.
      const matches = live.map(({ index, query }) => `if(${this.jobCondition(query.jobs)}, ${index}, -1)`).join(', ');
      const byIndex = new Map(live.map((g) => [g.index, g.query]));
      const maxIndex = Math.max(...live.map((g) => g.index));
      const starts: string[] = [];
      const thresholds: string[] = [];
      for (let i = 0; i <= maxIndex; i++) {
        const q = byIndex.get(i);
        starts.push(`[${(q?.windowsMillis ?? []).map((w) => `toInt64(${nanosLiteral(endMillis - w)})`).join(', ') || ''}]`);
        const thr = q ? thresholdNanos(q.criterion) : undefined;
        thresholds.push(`toInt64(${thr === undefined ? NO_LIMIT : thr.toString()})`);
      }
      const startsArr = `CAST([${starts.map((a) => (a === '[]' ? 'emptyArrayInt64()' : a)).join(', ')}] AS Array(Array(Int64)))`;
      const sql = `
        SELECT i, k, countIf(ok AND lat_ns <= arrayElement([${thresholds.join(', ')}], i + 1)) AS good, count() AS total
        FROM (
          SELECT i, ok, lat_ns, run_end_ns, ws, k
          FROM (
            SELECT run_end_ns, outcome = 'succeeded' AS ok, toInt64(last_end_ns - first_start_ns) AS lat_ns,
              arrayJoin(arrayFilter(x -> x >= 0, [${matches}])) AS i
            FROM ${this.runsSubquery({ fromMillis: endMillis - longest, toMillis: endMillis }, "job != ''", true, { where })}
            WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns <= ${nanosLiteral(endMillis)}
          )
          ARRAY JOIN arrayElement(${startsArr}, i + 1) AS ws, arrayEnumerate(arrayElement(${startsArr}, i + 1)) AS k
        )
        WHERE run_end_ns > ws
        GROUP BY i, k`;
      for (const r of await this.select(sql, 'window counts (many) query')) {
        const cell = out[Number(r['i'])]?.[Number(r['k']) - 1];
        if (cell) {
          cell.good = Number(r['good']);
          cell.total = Number(r['total']);
        }
      }
    }
    return out;
  }

  async timeSeries(query: TimeSeriesQuery): Promise<SeriesPoint[]> {
    const rolled = await this.readRollups?.series(seriesRollupQuery(query, false), query.where);
    if (rolled) return rolled.map((r) => toSeriesPoint(r));
    const bucket = nanosLiteral(query.bucketMillis);
    const good = this.goodCondition(query.criterion ?? { kind: 'success' });
    const sql = `
      SELECT bucket_ns, runs, succeeded, good,
        ${interpolatedQuantileSql('lat', 0.5)} AS p50,
        ${interpolatedQuantileSql('lat', 0.95)} AS p95,
        ${interpolatedQuantileSql('lat', 0.99)} AS p99
      FROM (
        SELECT intDiv(run_end_ns - 1, ${bucket}) * ${bucket} AS bucket_ns,
          count() AS runs,
          countIf(outcome = 'succeeded') AS succeeded,
          countIf(${good}) AS good,
          arraySort(groupArrayIf((last_end_ns - first_start_ns) / 1e6, ran)) AS lat
        FROM ${this.runsSubquery(query, `${this.jobCondition(query.jobs)}${onlyJobsCondition(query.onlyJobs, quoteString)}`, false, { where: query.where })}
        WHERE outcome IN (${COUNTED_SQL_LIST}) AND ${ClickHouseStore.inRange(query)}
        GROUP BY bucket_ns
      )
      ORDER BY bucket_ns`;
    const rows = await this.select(sql, 'time series query');
    return rows.map((r) => toSeriesPoint(r));
  }

  // Run lists derive the runs of the range from the job rows, bounded by
  // their LIMIT, on every read path: on ClickHouse 18.16, picking the runs from
  // the minute buckets first and deriving only those (as the DuckDB store
  // does) made a report's lists about 3x slower than this (see docs/storage.md).
  /**
   * Runs of the range newest first are the newest of a suffix of it once that
   * suffix holds `limit` of them (every run ending before the suffix is
   * older): `latest` lists try the last 1/64 of a range longer than
   * {@link NARROW_MIN_SPAN_MILLIS}, then 8 times as much, then the whole
   * range, so the report's latest failures over 30 days derive the runs of
   * about half a day instead of the month (from the minute buckets as from
   * the job rows).
   */
  async listRuns(query: ListRunsQuery): Promise<RunSummary[]> {
    const limit = Math.max(1, Math.min(10_000, Math.trunc(query.limit ?? 20)));
    const span = query.toMillis - query.fromMillis;
    if (query.order === 'slowest' || span <= NARROW_MIN_SPAN_MILLIS) return this.listRunsIn(query, limit);
    for (let width = Math.max(3_600_000, Math.ceil(span / 64)); ; width *= 8) {
      if (width >= span) return this.listRunsIn(query, limit);
      const runs = await this.listRunsIn({ ...query, fromMillis: query.toMillis - width }, limit);
      if (runs.length >= limit) return runs;
    }
  }

  /** The first `limit` runs of one range: from the minute buckets when they can answer, else derived from the job rows. */
  private async listRunsIn(query: ListRunsQuery, limit: number): Promise<RunSummary[]> {
    return (await this.listFromRollups({ ...query, limitPerJob: limit }, false)) ?? this.listRunsRaw(query, limit);
  }

  private async listRunsRaw(query: ListRunsQuery, limit: number): Promise<RunSummary[]> {
    const filter = query.filter === 'failed' ? `AND outcome IN ('failed', 'timed_out')` : '';
    const order = query.order === 'slowest' ? 'last_end_ns - first_start_ns DESC, run_end_ns DESC, run_id, job' : 'run_end_ns DESC, run_id, job';
    const sql = `
      SELECT ${RUN_SUMMARY_COLUMNS}
      FROM ${this.runsSubquery(query, this.jobCondition(query.jobs), false, { where: query.where })}
      WHERE ${ClickHouseStore.inRange(query)} ${filter}
      ORDER BY ${order}
      LIMIT ${numberLiteral(limit)}`;
    return (await this.select(sql, 'run list query')).map(toRunSummary);
  }

  /** {@link timeSeries} of every selected job in one scan. */
  async timeSeriesByJob(query: TimeSeriesQuery): Promise<JobSeries[]> {
    const rolled = await this.readRollups?.series(seriesRollupQuery(query, true), query.where);
    if (rolled) return seriesByJob(rolled, toSeriesPoint).sort((a, b) => compareStrings(a.job, b.job));
    const bucket = nanosLiteral(query.bucketMillis);
    const good = this.goodCondition(query.criterion ?? { kind: 'success' });
    const sql = `
      SELECT job, bucket_ns, runs, succeeded, good,
        ${interpolatedQuantileSql('lat', 0.5)} AS p50,
        ${interpolatedQuantileSql('lat', 0.95)} AS p95,
        ${interpolatedQuantileSql('lat', 0.99)} AS p99
      FROM (
        SELECT job, intDiv(run_end_ns - 1, ${bucket}) * ${bucket} AS bucket_ns,
          count() AS runs,
          countIf(outcome = 'succeeded') AS succeeded,
          countIf(${good}) AS good,
          arraySort(groupArrayIf((last_end_ns - first_start_ns) / 1e6, ran)) AS lat
        FROM ${this.runsSubquery(query, `${this.jobCondition(query.jobs)}${onlyJobsCondition(query.onlyJobs, quoteString)}`, false, { where: query.where })}
        WHERE outcome IN (${COUNTED_SQL_LIST}) AND ${ClickHouseStore.inRange(query)}
        GROUP BY job, bucket_ns
      )
      ORDER BY job, bucket_ns`;
    const byJob = new Map<string, SeriesPoint[]>();
    for (const r of await this.select(sql, 'per-job time series query')) {
      const job = String(r['job']);
      let points = byJob.get(job);
      if (!points) byJob.set(job, (points = []));
      points.push(toSeriesPoint(r));
    }
    return [...byJob].map(([job, points]) => ({ job, points })).sort((a, b) => compareStrings(a.job, b.job));
  }

  /** A run list from the minute buckets (exactly the raw list); undefined when they cannot answer it. */
  private async listFromRollups(query: ListRunsByJobQuery, perJob: boolean): Promise<RunSummary[] | undefined> {
    const rows = this.readRollups ? await rollupRunList(this.readRollups, query, perJob) : null;
    return rows?.map((r) => toRunSummary(r));
  }

  /** {@link listRuns} with the limit applied per job (`LIMIT n BY job`: 18.16 has no window functions). */
  async listRunsByJob(query: ListRunsByJobQuery): Promise<RunSummary[]> {
    const limit = Math.max(1, Math.min(10_000, Math.trunc(query.limitPerJob)));
    const rolled = await this.listFromRollups(query, true);
    if (rolled) return rolled.sort((a, b) => compareStrings(a.job, b.job));
    const filter = query.filter === 'failed' ? `AND outcome IN ('failed', 'timed_out')` : '';
    const order = query.order === 'slowest' ? 'last_end_ns - first_start_ns DESC, run_end_ns DESC, run_id' : 'run_end_ns DESC, run_id';
    const sql = `
      SELECT ${RUN_SUMMARY_COLUMNS}
      FROM ${this.runsSubquery(query, this.jobCondition(query.jobs), false, { where: query.where })}
      WHERE ${ClickHouseStore.inRange(query)} ${filter}
      ORDER BY job, ${order}
      LIMIT ${numberLiteral(limit)} BY job`;
    // Stable sort: byte order of job names, the asked order within a job.
    return (await this.select(sql, 'per-job run list query')).map(toRunSummary).sort((a, b) => compareStrings(a.job, b.job));
  }

  /** Latency bins (how many edges are at or below the latency) and attempts of counted runs, per job. */
  async runDistributions(query: RunDistributionQuery): Promise<RunDistribution[]> {
    const edges = query.latencyEdgesMillis;
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] as number) > (edges[i - 1] as number))) throw new RangeError('latencyEdgesMillis must be ascending');
    }
    // The number of edges at or below the latency, as a sum of comparisons (an
    // arrayCount lambda cannot see the subquery's columns in 18.16).
    const binOf = (lat: string): string => (edges.length === 0 ? '0' : edges.map((e) => `(${lat} >= ${numberLiteral(e)})`).join(' + '));
    const bin = binOf('(last_end_ns - first_start_ns) / 1e6');
    const rollups = this.readRollups;
    const fromNs = BigInt(nanosLiteral(query.fromMillis));
    const toNs = BigInt(nanosLiteral(query.toMillis));
    const rolled = rollups && (await rollups.readable(fromNs, toNs, query.where)) ? await rollups.distributionRows(query.jobs, fromNs, toNs, binOf('lat')) : null;
    const sql = `
      SELECT job, ${bin} AS bin, attempts, count() AS n
      FROM ${this.runsSubquery(query, this.jobCondition(query.jobs), false, { where: query.where })}
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND ${ClickHouseStore.inRange(query)}
      GROUP BY job, bin, attempts`;
    const byJob = new Map<string, RunDistribution>();
    for (const r of rolled ?? (await this.select(sql, 'run distribution query'))) {
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
    // Runs that started in the range end after its start: widen the read range to its end plus a day.
    const starts = `
      SELECT intDiv(first_start_ns, 1000000) AS s
      FROM ${this.runsSubquery({ fromMillis: range.fromMillis, toMillis: range.toMillis + 86_400_000 }, this.jobCondition(jobs), false, { where })}
      WHERE first_start_ns >= ${nanosLiteral(range.fromMillis)} AND first_start_ns < ${nanosLiteral(range.toMillis)}
        AND ${which === 'succeeded' ? "outcome = 'succeeded'" : "outcome != 'skipped'"}`;
    if (coalesce === undefined) return (await this.select(`${starts} ORDER BY s`, 'run starts query')).map((r) => Number(r['s']));
    return coalescedStarts(await this.select(`SELECT min(s) AS lo, max(s) AS hi FROM (${starts}) GROUP BY intDiv(s, ${coalesce}) ORDER BY lo`, 'run starts query'));
  }

  async jobNames(range: TimeRange): Promise<string[]> {
    const sql = `
      SELECT DISTINCT job
      FROM ${this.runsSubquery(range, "job != ''", true)}
      WHERE ${ClickHouseStore.inRange(range)}`;
    return (await this.select(sql, 'job names query')).map((r) => String(r['job'])).sort(compareStrings);
  }

  async unformedSpans(range: TimeRange): Promise<UnformedSpans[]> {
    const rows = await this.select(
      `SELECT profile, missing, uniqExact(trace_id, span_id) AS n FROM ${this.db}.unformed_spans
       WHERE end_ns > ${nanosLiteral(range.fromMillis)} AND end_ns <= ${nanosLiteral(range.toMillis)}
       GROUP BY profile, missing`,
      'unformed spans query',
    );
    return toUnformedSpans(rows);
  }

  /**
   * Drops the day partitions whose spans all ended before the UTC day of
   * `olderThanMillis`, found in `system.parts`, with `ALTER TABLE ... DROP
   * PARTITION ID`: whole parts are unlinked, nothing is rewritten.
   */
  async dropBefore(olderThanMillis: number, options: DropBeforeOptions = {}): Promise<DropResult> {
    const { rawDayMillis, hourDayMillis } = retentionCutoffs(olderThanMillis, options);
    // Hour buckets that outlive the raw rows must hold every run first: apply pending marks while the rows exist.
    if (hourDayMillis < rawDayMillis) await this.rollups?.refresh();
    const cutoff = new Date(rawDayMillis);
    const cutoffId = Number(cutoff.toISOString().slice(0, 10).replaceAll('-', ''));
    const database = this.db.slice(1, -1);
    const rows = await this.select(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(database)} AND table = 'spans' AND active`,
      'partition list query',
    );
    const old = rows.map((r) => String(r['partition_id'])).filter((id) => /^\d{8}$/.test(id) && Number(id) < cutoffId);
    for (const id of old) {
      await this.command(`ALTER TABLE ${this.db}.spans DROP PARTITION ID ${quoteString(id)}`, `drop partition ${id}`);
    }
    const jobRows = await this.select(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(database)} AND table = 'job_rows' AND active`,
      'job rows partition list query',
    );
    for (const id of jobRows.map((r) => String(r['partition_id'])).filter((i) => /^\d{8}$/.test(i) && Number(i) < cutoffId)) {
      await this.command(`ALTER TABLE ${this.db}.job_rows DROP PARTITION ID ${quoteString(id)}`, `drop job rows partition ${id}`);
    }
    const lifecycle = await this.select(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(database)} AND table = 'lifecycle_events' AND active`,
      'lifecycle partition list query',
    );
    for (const id of lifecycle.map((r) => String(r['partition_id'])).filter((i) => /^\d{8}$/.test(i) && Number(i) < cutoffId)) {
      await this.command(`ALTER TABLE ${this.db}.lifecycle_events DROP PARTITION ID ${quoteString(id)}`, `drop lifecycle partition ${id}`);
    }
    const unformed = await this.select(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(database)} AND table = 'unformed_spans' AND active`,
      'unformed spans partition list query',
    );
    for (const id of unformed.map((r) => String(r['partition_id'])).filter((i) => /^\d{8}$/.test(i) && Number(i) < cutoffId)) {
      await this.command(`ALTER TABLE ${this.db}.unformed_spans DROP PARTITION ID ${quoteString(id)}`, `drop unformed spans partition ${id}`);
    }
    const rollupPartitions = (await this.rollups?.dropBefore(BigInt(rawDayMillis) * 1_000_000n, BigInt(hourDayMillis) * 1_000_000n)) ?? 0;
    return { rawDays: old.length, rollupPartitions };
  }

  /**
   * Runs a read query and returns its rows as JSON objects (64-bit integers as
   * decimal strings). For tests and diagnostics: the caller quotes values.
   */
  async query(sql: string): Promise<Row[]> {
    return this.select(sql, 'query');
  }

  private async select(sql: string, doing: string): Promise<Row[]> {
    this.assertOpen();
    try {
      const result = await this.client.query({ query: sql, format: 'JSONEachRow' });
      return await result.json<Row>();
    } catch (err) {
      throw toStoreError(err, this.where, doing);
    }
  }

  private async command(sql: string, doing: string): Promise<void> {
    this.assertOpen();
    try {
      await this.client.command({ query: sql });
    } catch (err) {
      throw toStoreError(err, this.where, doing);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('JOBSLO_ERR_STORE_QUERY', `the ClickHouse store ${this.where} is closed`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }
}

const RUN_SUMMARY_COLUMNS = 'job, run_id, trace_id, span_id, outcome, first_start_ns, last_end_ns, attempts, error_type, exit_code, message, dead_lettered';

function toSeriesPoint(r: Row): SeriesPoint {
  return {
    bucketStartMillis: Number(BigInt(String(r['bucket_ns'])) / 1_000_000n),
    runs: Number(r['runs']),
    succeeded: Number(r['succeeded']),
    good: Number(r['good']),
    latencyP50Millis: numOrNull(r['p50']),
    latencyP95Millis: numOrNull(r['p95']),
    latencyP99Millis: numOrNull(r['p99']),
  };
}

function toRunSummary(r: Row): RunSummary {
  const start = BigInt(String(r['first_start_ns']));
  const end = BigInt(String(r['last_end_ns']));
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
    deadLettered: Number(r['dead_lettered']) === 1,
  };
}

function numOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}
