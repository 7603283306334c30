import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DuckDBInstance, dateValue } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { StoreError, errorMessage } from '../contracts/index.js';
import type { LifecycleEventRecord, SpanRecord } from '../contracts/index.js';
import { toSpanRow } from './rows.js';
import type {
  GoodRunCriterion,
  JobAggregate,
  JobSelector,
  JobSeries,
  ListRunsByJobQuery,
  ListRunsQuery,
  QueueDepth,
  RunDistribution,
  RunDistributionQuery,
  RunSummary,
  SeriesPoint,
  Store,
  TimeRange,
  TimeSeriesQuery,
  WindowCount,
  WindowCountsQuery,
} from './types.js';
import { COUNTED_SQL_LIST, RUN_LOOKBACK_NANOS, globToLike, groupByEnd, isGlob, jobAggregateFromRow, nanosLiteral, numberLiteral, thresholdNanos } from './_sql.js';

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
];

const NANOS_PER_DAY = 86_400_000_000_000n;

/** Options of {@link DuckDbStore}. */
export interface DuckDbStoreOptions {
  /** File path, or `:memory:`. Parent folders are created. */
  path: string;
}

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

  private constructor(location: string, instance: DuckDBInstance, conn: DuckDBConnection) {
    this.location = location;
    this.instance = instance;
    this.conn = conn;
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
    return new DuckDbStore(path, instance, conn);
  }

  /** Runs `fn` after every earlier operation: one connection, one statement at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async migrate(): Promise<void> {
    await this.serial(async () => {
      await this.conn.run('CREATE TABLE IF NOT EXISTS jobslo_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)');
      const r = await this.conn.runAndReadAll('SELECT coalesce(max(version), 0) AS v FROM jobslo_migrations');
      const current = Number(r.getRowObjects()[0]?.['v'] ?? 0);
      for (let v = current; v < MIGRATIONS.length; v++) {
        await this.conn.run('BEGIN TRANSACTION');
        try {
          await this.conn.run(MIGRATIONS[v] as string);
          await this.conn.run(`INSERT INTO jobslo_migrations VALUES (${v + 1}, now())`);
          await this.conn.run('COMMIT');
        } catch (cause) {
          await this.conn.run('ROLLBACK');
          throw new StoreError('JOBSLO_ERR_STORE_QUERY', `DuckDB migration ${v + 1} failed`, { cause });
        }
      }
    });
  }

  /** Appends rows to `table` through one appender, after every earlier operation. */
  private append(table: string, what: string, write: (appender: DuckDBAppender) => void): Promise<void> {
    return this.serial(async () => {
      let appender: DuckDBAppender;
      try {
        appender = await this.conn.createAppender(table);
      } catch (cause) {
        throw new StoreError('JOBSLO_ERR_STORE_QUERY', `cannot append to DuckDB table ${table} (was the store migrated?)`, { cause });
      }
      try {
        write(appender);
        appender.flushSync();
      } catch (cause) {
        throw new StoreError('JOBSLO_ERR_STORE_QUERY', `insert of ${what} into DuckDB failed`, { cause });
      } finally {
        appender.closeSync();
      }
    });
  }

  async insertSpans(spans: readonly SpanRecord[]): Promise<void> {
    if (spans.length === 0) return;
    const receivedNs = BigInt(Date.now()) * 1_000_000n;
    await this.append('spans', `${spans.length} spans`, (appender) => {
      for (const span of spans) {
        const r = toSpanRow(span);
        appender.appendDate(dateValue(Number(r.startNs / NANOS_PER_DAY)));
        appender.appendVarchar(r.traceId);
        appender.appendVarchar(r.spanId);
        appender.appendVarchar(r.parentSpanId);
        appender.appendVarchar(r.name);
        appender.appendUTinyInt(r.kind & 0xff);
        appender.appendBigInt(r.startNs);
        appender.appendBigInt(r.endNs);
        appender.appendUTinyInt(r.statusCode & 0xff);
        appender.appendVarchar(r.statusMessage);
        appender.appendVarchar(r.serviceName);
        appender.appendVarchar(r.job);
        appender.appendVarchar(r.runId);
        appender.appendVarchar(r.spanType);
        appender.appendInteger(r.attempt);
        appender.appendVarchar(r.outcome);
        appender.appendInteger(r.runAttempts);
        appender.appendVarchar(r.errorType);
        if (r.exitCode === null) appender.appendNull();
        else appender.appendInteger(r.exitCode);
        for (const v of [r.cost, r.cpuSeconds, r.maxRssBytes]) {
          if (v === null) appender.appendNull();
          else appender.appendDouble(v);
        }
        if (r.queuedNs === null) appender.appendNull();
        else appender.appendBigInt(r.queuedNs);
        appender.appendBoolean(r.deadLettered);
        appender.appendVarchar(r.attributes);
        appender.appendVarchar(r.resourceAttributes);
        appender.appendVarchar(r.events);
        appender.appendBigInt(receivedNs);
        appender.endRow();
      }
    });
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

  async queueDepths(range: TimeRange): Promise<QueueDepth[]> {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    // Pending: queued (live lifecycle event) within the lookback before the
    // range's end, with no later transition and no run span yet.
    const sql = `
      WITH ${this.runsCte(range, "job <> ''")},
      pending AS (
        SELECT job, run_id, min(time_ns) AS queued_ns
        FROM lifecycle_events
        WHERE time_ns >= ${to} - ${RUN_LOOKBACK_NANOS} AND time_ns < ${to}
        GROUP BY job, run_id
        HAVING count(*) FILTER (WHERE type = 'job.queued') > 0 AND count(*) FILTER (WHERE type <> 'job.queued') = 0
      ),
      pending_open AS (
        SELECT p.job, p.run_id, p.queued_ns FROM pending p
        WHERE NOT EXISTS (SELECT 1 FROM spans s WHERE s.run_id = p.run_id AND s.span_type = 'run' AND s.job = p.job)
      ),
      intervals AS (
        SELECT job, queued_ns AS s, first_start_ns AS e FROM runs
        WHERE queued_ns IS NOT NULL AND first_start_ns > queued_ns AND first_start_ns > ${from} AND queued_ns < ${to}
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
    const rows = await this.query(sql);
    return rows
      .map((r) => ({ job: String(r['job']), now: Number(r['now_depth']), max: Number(r['max_depth']) }))
      .sort((a, b) => compareStrings(a.job, b.job));
  }

  /**
   * The runs CTE: one row per run whose run span has arrived, with spans read
   * from `[from - lookback, to)`. Callers filter on `run_end_ns`.
   * `jobFilter` is a SQL condition on `job` (parameters bound by the caller).
   */
  private runsCte(range: TimeRange, jobFilter: string): string {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    return `runs AS (
        SELECT job, run_id,
          max(trace_id) FILTER (WHERE span_type = 'run') AS trace_id,
          max(span_id) FILTER (WHERE span_type = 'run') AS span_id,
          coalesce(min(start_ns) FILTER (WHERE span_type = 'attempt'), min(start_ns) FILTER (WHERE span_type = 'run')) AS first_start_ns,
          coalesce(max(end_ns) FILTER (WHERE span_type = 'attempt'), max(end_ns) FILTER (WHERE span_type = 'run')) AS last_end_ns,
          max(end_ns) FILTER (WHERE span_type = 'run') AS run_end_ns,
          max(outcome) FILTER (WHERE span_type = 'run') AS outcome,
          greatest(count(DISTINCT span_id) FILTER (WHERE span_type = 'attempt'),
                   coalesce(max(run_attempts) FILTER (WHERE span_type = 'run'), 0), 1) AS attempts,
          bool_or(dead_lettered) AS dead_lettered,
          -- False for a run that never started an attempt (a missed scheduled tick): no latency.
          (count(*) FILTER (WHERE span_type = 'attempt') > 0 OR coalesce(max(run_attempts) FILTER (WHERE span_type = 'run'), 0) > 0) AS ran,
          coalesce(nullif(max(error_type) FILTER (WHERE span_type = 'run'), ''),
                   nullif(arg_max(error_type, attempt) FILTER (WHERE span_type = 'attempt'), ''), '') AS error_type,
          coalesce(max(exit_code) FILTER (WHERE span_type = 'run'), arg_max(exit_code, attempt) FILTER (WHERE span_type = 'attempt')) AS exit_code,
          coalesce(nullif(max(status_message) FILTER (WHERE span_type = 'run'), ''),
                   arg_max(status_message, attempt) FILTER (WHERE span_type = 'attempt'), '') AS message,
          max(queued_ns) FILTER (WHERE span_type = 'run') AS queued_ns,
          max(cost) FILTER (WHERE span_type = 'run') AS cost,
          max(cpu_seconds) FILTER (WHERE span_type = 'run') AS cpu_seconds,
          max(max_rss_bytes) FILTER (WHERE span_type = 'run') AS max_rss_bytes
        FROM spans
        WHERE span_type IN ('run', 'attempt')
          AND end_ns >= ${from} - ${RUN_LOOKBACK_NANOS} AND start_ns < ${to}
          AND ${jobFilter}
        GROUP BY job, run_id
        HAVING count(*) FILTER (WHERE span_type = 'run') > 0
      )`;
  }

  /** `job = $n` or `job LIKE $n ESCAPE '\'`, with the value to bind. */
  private jobCondition(selector: JobSelector, param: number): { sql: string; value: string } {
    return isGlob(selector)
      ? { sql: `job LIKE $${param} ESCAPE '\\'`, value: globToLike(selector) }
      : { sql: `job = $${param}`, value: selector };
  }

  async jobAggregates(range: TimeRange): Promise<JobAggregate[]> {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    const counted = `outcome IN (${COUNTED_SQL_LIST})`;
    const sql = `
      WITH ${this.runsCte(range, "job <> ''")},
      agg AS (
      SELECT job,
        count(*) FILTER (WHERE ${counted}) AS runs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE outcome IN ('failed', 'timed_out')) AS failed,
        count(*) FILTER (WHERE outcome = 'timed_out') AS timed_out,
        count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE outcome = 'skipped') AS skipped,
        count(*) FILTER (WHERE dead_lettered AND ${counted}) AS n_dead_lettered,
        quantile_cont((last_end_ns - first_start_ns) / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ${counted} AND ran) AS latency,
        coalesce(sum(attempts - 1) FILTER (WHERE ${counted}), 0) AS retries,
        quantile_cont(greatest(first_start_ns - queued_ns, 0) / 1e6, [0.5, 0.95]) FILTER (WHERE queued_ns IS NOT NULL AND outcome <> 'skipped') AS queue_delay,
        count(*) FILTER (WHERE queued_ns IS NOT NULL AND outcome <> 'skipped') AS queued_runs,
        sum(cost) FILTER (WHERE ${counted}) AS cost_total,
        count(cost) FILTER (WHERE ${counted}) AS costed_runs,
        sum(cpu_seconds) FILTER (WHERE ${counted}) AS cpu_total,
        count(cpu_seconds) FILTER (WHERE ${counted}) AS cpu_runs,
        quantile_cont(max_rss_bytes, 0.95) FILTER (WHERE ${counted}) AS rss_p95,
        to_json(list(CASE WHEN error_type <> '' THEN error_type ELSE outcome END) FILTER (WHERE outcome IN ('failed', 'timed_out'))) AS modes
      FROM runs
      WHERE run_end_ns >= ${from} AND run_end_ns < ${to}
      GROUP BY job)
      SELECT *, latency[1] AS latency_p50, latency[2] AS latency_p95, latency[3] AS latency_p99,
        queue_delay[1] AS queue_p50, queue_delay[2] AS queue_p95
      FROM agg`;
    const rows = await this.query(sql);
    return rows
      .map((r) => {
        const modes: Record<string, number> = {};
        for (const m of (JSON.parse(String(r['modes'] ?? 'null')) as string[] | null) ?? []) modes[m] = (modes[m] ?? 0) + 1;
        return jobAggregateFromRow(r, modes);
      })
      .sort((a, b) => compareStrings(a.job, b.job));
  }

  private goodCondition(criterion: GoodRunCriterion): string {
    if (criterion.kind === 'success') return `outcome = 'succeeded'`;
    return `outcome = 'succeeded' AND (last_end_ns - first_start_ns) <= ${numberLiteral(Math.trunc(criterion.thresholdMillis * 1e6))}`;
  }

  async windowCounts(query: WindowCountsQuery): Promise<WindowCount[]> {
    if (query.windowsMillis.length === 0) return [];
    const longest = Math.max(...query.windowsMillis);
    const range = { fromMillis: query.endMillis - longest, toMillis: query.endMillis };
    const cond = this.jobCondition(query.jobs, 1);
    const good = this.goodCondition(query.criterion);
    const end = nanosLiteral(query.endMillis);
    const cols = query.windowsMillis
      .map((w, i) => {
        const start = nanosLiteral(query.endMillis - w);
        return `count(*) FILTER (WHERE run_end_ns >= ${start} AND (${good})) AS g${i}, count(*) FILTER (WHERE run_end_ns >= ${start}) AS t${i}`;
      })
      .join(',\n        ');
    const sql = `
      WITH ${this.runsCte(range, cond.sql)}
      SELECT ${cols}
      FROM runs
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns < ${end}`;
    const [row] = await this.query(sql, [cond.value]);
    return query.windowsMillis.map((w, i) => ({ windowMillis: w, good: Number(row?.[`g${i}`] ?? 0), total: Number(row?.[`t${i}`] ?? 0) }));
  }

  async windowCountsMany(queries: readonly WindowCountsQuery[]): Promise<WindowCount[][]> {
    const out: WindowCount[][] = queries.map((q) => q.windowsMillis.map((w) => ({ windowMillis: w, good: 0, total: 0 })));
    for (const [endMillis, group] of groupByEnd(queries)) {
      const windows = group.flatMap(({ index, query }) => query.windowsMillis.map((w, k) => ({ index, k, startNs: nanosLiteral(endMillis - w) })));
      if (windows.length === 0) continue;
      const longest = Math.max(...group.flatMap((g) => g.query.windowsMillis));
      const params: string[] = [];
      const selectors = group.map(({ index, query }) => {
        params.push(isGlob(query.jobs) ? globToLike(query.jobs) : query.jobs);
        const thr = thresholdNanos(query.criterion);
        return `(${index}, $${params.length}, ${isGlob(query.jobs)}, ${thr === undefined ? 'NULL::BIGINT' : `${thr}::BIGINT`})`;
      });
      // Exact selectors hash-join on the job; globs are matched with LIKE.
      const sql = `
        WITH ${this.runsCte({ fromMillis: endMillis - longest, toMillis: endMillis }, "job <> ''")},
        counted AS (
          SELECT job, run_end_ns, outcome = 'succeeded' AS ok, last_end_ns - first_start_ns AS lat_ns FROM runs
          WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns < ${nanosLiteral(endMillis)}
        ),
        sel(i, pat, is_glob, thr) AS (VALUES ${selectors.join(', ')}),
        win(i, k, start_ns) AS (VALUES ${windows.map((w) => `(${w.index}, ${w.k}, ${w.startNs}::BIGINT)`).join(', ')}),
        matched AS (
          SELECT s.i, s.thr, c.run_end_ns, c.ok, c.lat_ns FROM counted c JOIN sel s ON NOT s.is_glob AND c.job = s.pat
          UNION ALL
          SELECT s.i, s.thr, c.run_end_ns, c.ok, c.lat_ns FROM counted c JOIN sel s ON s.is_glob AND c.job LIKE s.pat ESCAPE '\\'
        )
        SELECT w.i, w.k, count(*) FILTER (WHERE m.ok AND (m.thr IS NULL OR m.lat_ns <= m.thr)) AS good, count(*) AS total
        FROM matched m JOIN win w ON w.i = m.i AND m.run_end_ns >= w.start_ns
        GROUP BY w.i, w.k`;
      for (const r of await this.query(sql, params)) {
        const cell = out[Number(r['i'])]?.[Number(r['k'])];
        if (cell) {
          cell.good = Number(r['good']);
          cell.total = Number(r['total']);
        }
      }
    }
    return out;
  }

  async timeSeries(query: TimeSeriesQuery): Promise<SeriesPoint[]> {
    const cond = this.jobCondition(query.jobs, 1);
    const bucket = nanosLiteral(query.bucketMillis);
    const good = this.goodCondition(query.criterion ?? { kind: 'success' });
    const sql = `
      WITH ${this.runsCte(query, cond.sql)}
      SELECT (run_end_ns // ${bucket}) * ${bucket} AS bucket_ns,
        count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE ${good}) AS good,
        quantile_cont((last_end_ns - first_start_ns) / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ran) AS latency
      FROM runs
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns >= ${nanosLiteral(query.fromMillis)} AND run_end_ns < ${nanosLiteral(query.toMillis)}
      GROUP BY bucket_ns
      ORDER BY bucket_ns`;
    const rows = await this.query(sql, [cond.value]);
    return rows.map((r) => {
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
    });
  }

  async listRuns(query: ListRunsQuery): Promise<RunSummary[]> {
    const cond = this.jobCondition(query.jobs, 1);
    const limit = Math.max(1, Math.min(10_000, Math.trunc(query.limit ?? 20)));
    const filter = query.filter === 'failed' ? `AND outcome IN ('failed', 'timed_out')` : '';
    const order = query.order === 'slowest' ? 'last_end_ns - first_start_ns DESC, run_end_ns DESC' : 'run_end_ns DESC, run_id';
    const sql = `
      WITH ${this.runsCte(query, cond.sql)}
      SELECT job, run_id, trace_id, span_id, outcome, first_start_ns, last_end_ns, attempts, error_type, exit_code, message, dead_lettered
      FROM runs
      WHERE run_end_ns >= ${nanosLiteral(query.fromMillis)} AND run_end_ns < ${nanosLiteral(query.toMillis)} ${filter}
      ORDER BY ${order}
      LIMIT ${limit}`;
    const rows = await this.query(sql, [cond.value]);
    return rows.map((r) => toRunSummary(r));
  }

  /** {@link timeSeries} grouped by job as well as by bucket: one scan for all selected jobs. */
  async timeSeriesByJob(query: TimeSeriesQuery): Promise<JobSeries[]> {
    const cond = this.jobCondition(query.jobs, 1);
    const bucket = nanosLiteral(query.bucketMillis);
    const good = this.goodCondition(query.criterion ?? { kind: 'success' });
    const sql = `
      WITH ${this.runsCte(query, cond.sql)}
      SELECT job, (run_end_ns // ${bucket}) * ${bucket} AS bucket_ns,
        count(*) AS runs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE ${good}) AS good,
        quantile_cont((last_end_ns - first_start_ns) / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE ran) AS latency
      FROM runs
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns >= ${nanosLiteral(query.fromMillis)} AND run_end_ns < ${nanosLiteral(query.toMillis)}
      GROUP BY job, bucket_ns
      ORDER BY job, bucket_ns`;
    const byJob = new Map<string, SeriesPoint[]>();
    for (const r of await this.query(sql, [cond.value])) {
      const latency = (r['latency'] as unknown[] | null) ?? [];
      const job = String(r['job']);
      let points = byJob.get(job);
      if (!points) byJob.set(job, (points = []));
      points.push({
        bucketStartMillis: Number(BigInt(r['bucket_ns'] as bigint) / 1_000_000n),
        runs: Number(r['runs']),
        succeeded: Number(r['succeeded']),
        good: Number(r['good']),
        latencyP50Millis: numOrNull(latency[0]),
        latencyP95Millis: numOrNull(latency[1]),
        latencyP99Millis: numOrNull(latency[2]),
      });
    }
    return [...byJob].map(([job, points]) => ({ job, points })).sort((a, b) => compareStrings(a.job, b.job));
  }

  /** {@link listRuns} with the limit applied per job (a window function), for all selected jobs at once. */
  async listRunsByJob(query: ListRunsByJobQuery): Promise<RunSummary[]> {
    const cond = this.jobCondition(query.jobs, 1);
    const limit = Math.max(1, Math.min(10_000, Math.trunc(query.limitPerJob)));
    const filter = query.filter === 'failed' ? `AND outcome IN ('failed', 'timed_out')` : '';
    const order = query.order === 'slowest' ? 'last_end_ns - first_start_ns DESC, run_end_ns DESC, run_id' : 'run_end_ns DESC, run_id';
    const sql = `
      WITH ${this.runsCte(query, cond.sql)}
      SELECT job, run_id, trace_id, span_id, outcome, first_start_ns, last_end_ns, attempts, error_type, exit_code, message, dead_lettered
      FROM runs
      WHERE run_end_ns >= ${nanosLiteral(query.fromMillis)} AND run_end_ns < ${nanosLiteral(query.toMillis)} ${filter}
      QUALIFY row_number() OVER (PARTITION BY job ORDER BY ${order}) <= ${limit}
      ORDER BY job, ${order}`;
    const rows = (await this.query(sql, [cond.value])).map((r) => toRunSummary(r));
    // SQL orders job names by collation; the contract is byte order.
    return rows.sort((a, b) => compareStrings(a.job, b.job));
  }

  /** Latency bin and attempts counts per job of counted runs, binned in SQL against the given edges. */
  async runDistributions(query: RunDistributionQuery): Promise<RunDistribution[]> {
    const cond = this.jobCondition(query.jobs, 1);
    const edges = query.latencyEdgesMillis;
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] as number) > (edges[i - 1] as number))) throw new RangeError('latencyEdgesMillis must be ascending');
    }
    const bin = edges.length === 0 ? '0' : `len(list_filter([${edges.map((e) => numberLiteral(e)).join(', ')}]::DOUBLE[], e -> e <= (last_end_ns - first_start_ns) / 1e6))`;
    const sql = `
      WITH ${this.runsCte(query, cond.sql)}
      SELECT job, ${bin} AS bin, attempts, count(*) AS n
      FROM runs
      WHERE outcome IN (${COUNTED_SQL_LIST}) AND run_end_ns >= ${nanosLiteral(query.fromMillis)} AND run_end_ns < ${nanosLiteral(query.toMillis)}
      GROUP BY ALL`;
    const byJob = new Map<string, RunDistribution>();
    for (const r of await this.query(sql, [cond.value])) {
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

  async runStarts(jobs: JobSelector, range: TimeRange, which: 'succeeded' | 'any'): Promise<number[]> {
    const cond = this.jobCondition(jobs, 1);
    // Runs that started in the range end after its start: widen the CTE's read range to its end plus a day.
    const sql = `
      WITH ${this.runsCte({ fromMillis: range.fromMillis, toMillis: range.toMillis + 86_400_000 }, cond.sql)}
      SELECT first_start_ns FROM runs
      WHERE first_start_ns >= ${nanosLiteral(range.fromMillis)} AND first_start_ns < ${nanosLiteral(range.toMillis)}
        AND ${which === 'succeeded' ? "outcome = 'succeeded'" : "outcome <> 'skipped'"}
      ORDER BY first_start_ns`;
    const rows = await this.query(sql, [cond.value]);
    return rows.map((r) => Number(BigInt(r['first_start_ns'] as bigint) / 1_000_000n));
  }

  async jobNames(range: TimeRange): Promise<string[]> {
    const sql = `
      WITH ${this.runsCte(range, "job <> ''")}
      SELECT DISTINCT job FROM runs
      WHERE run_end_ns >= ${nanosLiteral(range.fromMillis)} AND run_end_ns < ${nanosLiteral(range.toMillis)}`;
    return (await this.query(sql)).map((r) => String(r['job'])).sort(compareStrings);
  }

  async dropBefore(olderThanMillis: number): Promise<number> {
    const day = Math.floor(olderThanMillis / 86_400_000);
    const rows = await this.query(`SELECT count(DISTINCT day) AS n FROM spans WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    await this.query(`DELETE FROM spans WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    await this.query(`DELETE FROM lifecycle_events WHERE day < DATE '1970-01-01' + ${numberLiteral(day)}`);
    return Number(rows[0]?.['n'] ?? 0);
  }

  /** Runs a read query and returns plain row objects. For tests and diagnostics. */
  async query(sql: string, params: string[] = []): Promise<Record<string, unknown>[]> {
    return this.serial(async () => {
      try {
        const reader = await this.conn.runAndReadAll(sql, params);
        return reader.getRowObjectsJS() as Record<string, unknown>[];
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

/** Byte-order string comparison, the same in every store and locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
