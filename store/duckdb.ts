import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DuckDBInstance, dateValue } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { StoreError, errorMessage } from '../contracts/index.js';
import type { SpanRecord } from '../contracts/index.js';
import { toSpanRow } from './rows.js';
import type { JobAggregate, Store, TimeRange } from './types.js';
import { COUNTED_SQL_LIST, RUN_LOOKBACK_NANOS, nanosLiteral } from './_sql.js';

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

  async insertSpans(spans: readonly SpanRecord[]): Promise<void> {
    if (spans.length === 0) return;
    const receivedNs = BigInt(Date.now()) * 1_000_000n;
    await this.serial(async () => {
      let appender: DuckDBAppender;
      try {
        appender = await this.conn.createAppender('spans');
      } catch (cause) {
        throw new StoreError('JOBSLO_ERR_STORE_QUERY', 'cannot append to DuckDB table spans (was the store migrated?)', { cause });
      }
      try {
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
        appender.flushSync();
      } catch (cause) {
        throw new StoreError('JOBSLO_ERR_STORE_QUERY', `insert of ${spans.length} spans into DuckDB failed`, { cause });
      } finally {
        appender.closeSync();
      }
    });
  }

  async jobAggregates(range: TimeRange): Promise<JobAggregate[]> {
    const from = nanosLiteral(range.fromMillis);
    const to = nanosLiteral(range.toMillis);
    const sql = `
      WITH runs AS (
        SELECT job, run_id,
          coalesce(min(start_ns) FILTER (WHERE span_type = 'attempt'), min(start_ns) FILTER (WHERE span_type = 'run')) AS first_start_ns,
          coalesce(max(end_ns) FILTER (WHERE span_type = 'attempt'), max(end_ns) FILTER (WHERE span_type = 'run')) AS last_end_ns,
          max(end_ns) FILTER (WHERE span_type = 'run') AS run_end_ns,
          max(outcome) FILTER (WHERE span_type = 'run') AS outcome,
          greatest(count(DISTINCT span_id) FILTER (WHERE span_type = 'attempt'),
                   coalesce(max(run_attempts) FILTER (WHERE span_type = 'run'), 0), 1) AS attempts,
          bool_or(dead_lettered) AS dead_lettered
        FROM spans
        WHERE span_type IN ('run', 'attempt')
          AND end_ns >= ${from} - ${RUN_LOOKBACK_NANOS} AND start_ns < ${to}
        GROUP BY job, run_id
        HAVING count(*) FILTER (WHERE span_type = 'run') > 0
      )
      SELECT job,
        count(*) FILTER (WHERE outcome IN (${COUNTED_SQL_LIST})) AS runs,
        count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE outcome IN ('failed', 'timed_out')) AS failed,
        count(*) FILTER (WHERE outcome = 'timed_out') AS timed_out,
        count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE outcome = 'skipped') AS skipped,
        count(*) FILTER (WHERE dead_lettered) AS dead_lettered,
        quantile_cont((last_end_ns - first_start_ns) / 1e6, [0.5, 0.95, 0.99]) FILTER (WHERE outcome IN (${COUNTED_SQL_LIST})) AS latency,
        coalesce(sum(attempts - 1) FILTER (WHERE outcome IN (${COUNTED_SQL_LIST})), 0) AS retries
      FROM runs
      WHERE run_end_ns >= ${from} AND run_end_ns < ${to}
      GROUP BY job`;
    const rows = await this.query(sql);
    return rows
      .map((r): JobAggregate => {
        const latency = (r['latency'] as unknown[] | null) ?? [];
        const q = (i: number): number | null => (latency[i] === undefined || latency[i] === null ? null : Number(latency[i]));
        return {
          job: String(r['job']),
          runs: Number(r['runs']),
          succeeded: Number(r['succeeded']),
          failed: Number(r['failed']),
          timedOut: Number(r['timed_out']),
          cancelled: Number(r['cancelled']),
          skipped: Number(r['skipped']),
          deadLettered: Number(r['dead_lettered']),
          latencyP50Millis: q(0),
          latencyP95Millis: q(1),
          latencyP99Millis: q(2),
          retries: Number(r['retries']),
        };
      })
      .sort((a, b) => (a.job < b.job ? -1 : a.job > b.job ? 1 : 0));
  }

  /** Runs a read query and returns plain row objects. For tests and diagnostics. */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    return this.serial(async () => {
      try {
        const reader = await this.conn.runAndReadAll(sql);
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
