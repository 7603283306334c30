/**
 * The rollup tables of the ClickHouse store (18.16 and current releases).
 * ClickHouse has no transactions, so every bucket row is a whole bucket with
 * a version: `ReplacingMergeTree(version)` keeps the newest once parts merge,
 * and reads take `argMax(..., version)` per bucket so they are exact before
 * that. Recomputing a bucket writes the same content again, so repeated or
 * concurrent refreshes (several serve replicas) are harmless. Marks are
 * applied from a watermark (the newest applied mark's insert time, minus a
 * margin for inserts that became visible late).
 */
import { interpolatedQuantileSql, quoteString } from '../_clickhouse.js';
import { globToLike, isGlob } from '../_sql.js';
import { HOUR_NS, MINUTE_NS, ROLLUP_FORMAT, ceilDiv, floorDiv } from './buckets.js';
import type { DimensionFilter, JobSelector, WindowCount, WindowCountsQuery } from '../types.js';
import type { JobRow } from '../derive/index.js';
import type { NsRange } from './buckets.js';
import { OTHER_OUTCOME_CODE, OUTCOME_CODES, outcomeCode } from './content.js';
import type { HourContent, RegisteredThreshold, RunFact } from './content.js';
import { buildRollups, refreshRollups } from './maintain.js';
import type { MinuteContent, RefreshResult, RollupMark } from './maintain.js';
import { coalescedStarts, distinctRanges, distinctThresholds, onlyJobsCondition, rollupRunStartsMany, rollupRunsReadable, rollupSeries, rollupWindowCounts, sumParts } from './read.js';
import type { EdgePart, HourPart, PartCount, RollupReadBackend, RunListRollupQuery, SeriesRollupQuery, StartsQuery } from './read.js';

type Row = Record<string, unknown>;

/**
 * Minute-bucket columns of formats 3 (per-job aggregates) and 6 (run lists:
 * trace id, span id, exit code, message, and the outcome when it is none of
 * OUTCOME_CODES, else ''), one element per run.
 */
const EXTRA_MINUTE_COLUMNS = [
  'run_id Array(String)',
  'dead_lettered Array(UInt8)',
  'queued_ns Array(Nullable(Int64))',
  'cost Array(Nullable(Float64))',
  'cpu_seconds Array(Nullable(Float64))',
  'max_rss_bytes Array(Nullable(Float64))',
  'error_type Array(String)',
  'trace_id Array(String)',
  'span_id Array(String)',
  'exit_code Array(Nullable(Int64))',
  'message Array(String)',
  'outcome_text Array(String)',
];

/**
 * Hour-bucket columns of formats 4 and 5: the earliest start of the hour's
 * runs that have one and were not skipped (4), and the succeeded runs' starts
 * per start minute (5: earliest and latest, parallel arrays).
 */
const FIRST_START_COLUMNS = ['first_start_ns Int64', 'has_first_start UInt8', 'ss_minute_ns Array(Int64)', 'ss_lo_ns Array(Int64)', 'ss_hi_ns Array(Int64)'];

/** Rollup tables, `{db}` replaced by the quoted database. */
const TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS {db}.rollup_marks (inserted_ns Int64, job String, run_id String, end_ns Int64, terminal UInt8)
   ENGINE = MergeTree PARTITION BY toYYYYMMDD(toDateTime(intDiv(inserted_ns, 1000000000))) ORDER BY inserted_ns`,
  `CREATE TABLE IF NOT EXISTS {db}.rollup_minute (job String, minute_ns Int64, version Int64,
     end_ns Array(Int64), outcome Array(UInt8), latency_ns Array(Int64), has_latency Array(UInt8), attempts Array(UInt32), ran Array(UInt8),
     start_ns Array(Int64), has_start Array(UInt8), ${EXTRA_MINUTE_COLUMNS.join(', ')})
   ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(toDateTime(intDiv(minute_ns, 1000000000))) ORDER BY (job, minute_ns)`,
  `CREATE TABLE IF NOT EXISTS {db}.rollup_hour (job String, hour_ns Int64, version Int64,
     succeeded UInt64, failed UInt64, timed_out UInt64, cancelled UInt64, skipped UInt64, other UInt64, attempts UInt64,
     thresholds_ns Array(Int64), good Array(UInt64), sketch_keys Array(Int32), sketch_counts Array(UInt64), ${FIRST_START_COLUMNS.join(', ')})
   ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(toDateTime(intDiv(hour_ns, 1000000000))) ORDER BY (job, hour_ns)`,
  `CREATE TABLE IF NOT EXISTS {db}.rollup_thresholds (jobs String, threshold_ns Int64) ENGINE = ReplacingMergeTree ORDER BY (jobs, threshold_ns)`,
  `CREATE TABLE IF NOT EXISTS {db}.rollup_state (key String, value Int64) ENGINE = MergeTree ORDER BY key`,
];

/** Marks inserted this long before the watermark are read again (inserts that became visible after newer ones). */
const MARK_MARGIN_NS = 5_000_000_000n;
/** Runs per `IN` list (keeps each query well under the server's query size limit). */
const RUNS_PER_QUERY = 2_000;

/** What the rollups need from the ClickHouse store. */
export interface ClickHouseRollupHost {
  /** The quoted database. */
  db: string;
  select(sql: string, doing: string): Promise<Row[]>;
  command(sql: string, doing: string): Promise<void>;
  insertTsv(table: string, body: string, columns: readonly string[], doing: string): Promise<void>;
  runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]>;
}

/** The `rollup_minute` array column behind each column of a kept run (see keptRuns). */
const KEPT_SOURCE = {
  te: 'end_ns', o: 'outcome', l: 'latency_ns', h: 'has_latency', r: 'ran', a: 'attempts', st: 'start_ns', rid: 'run_id',
  dl: 'dead_lettered', q: 'queued_ns', c: 'cost', cpu: 'cpu_seconds', rss: 'max_rss_bytes', et: 'error_type',
  tid: 'trace_id', sid: 'span_id', ec: 'exit_code', msg: 'message', ot: 'outcome_text',
} as const;
type KeptColumn = keyof typeof KEPT_SOURCE;

const big = (v: unknown): bigint => BigInt(String(v));
const TSV_G = /[\\\t\n\r]/g;
const TSV: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const tsv = (s: string): string => s.replace(TSV_G, (c) => TSV[c] as string);
const arr = (xs: readonly (bigint | number)[]): string => `[${xs.join(',')}]`;
const i64 = (n: bigint): string => `toInt64(${n})`;
/** An array of nullable numbers as TSV (`NULL` for null or absent; doubles in full precision). */
const nullable = (xs: readonly (bigint | number | null | undefined)[]): string =>
  `[${xs.map((x) => (x === null || x === undefined ? 'NULL' : typeof x === 'number' && !Number.isFinite(x) ? 'NULL' : String(x))).join(',')}]`;
/** Escapes of a string inside a quoted array element, which is how TSV carries an Array(String) (no second TSV escaping). */
const QUOTED: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
/** An array of strings as TSV. */
const strs = (xs: readonly string[]): string => `[${xs.map((x) => `'${x.replace(/[\\'\t\n\r\0]/g, (c) => QUOTED[c] as string)}'`).join(',')}]`;

/** The ClickHouse side of the rollups. */
/** Coalesced run starts queries per request of {@link ClickHouseRollups.startsOfMany}. */
const STARTS_PER_REQUEST = 50;

export class ClickHouseRollups implements RollupReadBackend {
  constructor(private readonly host: ClickHouseRollupHost) {}

  private get db(): string {
    return this.host.db;
  }

  /** Whether the rollups were built, and the format of their buckets (0 before formats were recorded). */
  private get stateSql(): string {
    return `SELECT countIf(key = 'built') AS built, maxIf(value, key = 'format') AS format FROM ${this.db}.rollup_state`;
  }

  /** Creates the rollup tables and builds them for a store that has none yet (reporting each day built). */
  async migrate(onProgress?: (done: number, total: number) => void): Promise<void> {
    for (const t of TABLES) await this.host.command(t.replaceAll('{db}', this.db), 'create rollup table');
    const database = quoteString(this.db.slice(1, -1));
    const cols = await this.host.select(`SELECT name FROM system.columns WHERE database = ${database} AND table = 'rollup_minute'`, 'rollup minute columns');
    // Format 1 had no run starts (18.16 has no ADD COLUMN IF NOT EXISTS).
    if (!cols.some((c) => c['name'] === 'start_ns')) {
      await this.host.command(`ALTER TABLE ${this.db}.rollup_minute ADD COLUMN start_ns Array(Int64), ADD COLUMN has_start Array(UInt8)`, 'add rollup run starts');
    }
    // Format 2 had none of the per-run details, format 5 none of the run list columns.
    const missing = EXTRA_MINUTE_COLUMNS.filter((c) => !cols.some((k) => k['name'] === c.split(' ')[0]));
    if (missing.length > 0) {
      await this.host.command(`ALTER TABLE ${this.db}.rollup_minute ${missing.map((c) => `ADD COLUMN ${c}`).join(', ')}`, 'add rollup run details');
    }
    // Format 3 had no earliest start per hour, format 4 no succeeded starts per minute.
    const hourCols = await this.host.select(`SELECT name FROM system.columns WHERE database = ${database} AND table = 'rollup_hour'`, 'rollup hour columns');
    const missingHour = FIRST_START_COLUMNS.filter((c) => !hourCols.some((k) => k['name'] === c.split(' ')[0]));
    if (missingHour.length > 0) {
      await this.host.command(`ALTER TABLE ${this.db}.rollup_hour ${missingHour.map((c) => `ADD COLUMN ${c}`).join(', ')}`, 'add rollup first starts');
    }
    const [state] = await this.host.select(
      this.stateSql,
      'rollup state',
    );
    const built = Number(state?.['built'] ?? 0) > 0;
    if (built && Number(state?.['format'] ?? 0) >= ROLLUP_FORMAT.clickhouse) return;
    // Marks from now on are applied by refreshes; the build covers what is stored. A rebuild of an older
    // format writes every bucket with runs again, at a higher version.
    const startNs = BigInt(Date.now()) * 1_000_000n;
    if (!built) await this.host.command(`INSERT INTO ${this.db}.rollup_state VALUES ('marks', ${startNs - MARK_MARGIN_NS})`, 'rollup state');
    await buildRollups(this, onProgress);
    if (built) {
      // Minute buckets the rebuild did not write (no stored run ends in them now) still have the old format: write them empty.
      const stale = await this.host.select(
        `SELECT job, minute_ns FROM (
           SELECT job, minute_ns, argMax(length(end_ns), version) AS ne, argMax(length(start_ns), version) AS ns, argMax(length(error_type), version) AS nd,
             argMax(length(outcome_text), version) AS nl
           FROM ${this.db}.rollup_minute GROUP BY job, minute_ns
         ) WHERE ne != ns OR ne != nd OR ne != nl`,
        'old-format minute buckets',
      );
      const minutes = stale.map((r) => ({ job: String(r['job']), minuteNs: big(r['minute_ns']), runs: [] }));
      if (minutes.length > 0) await this.writeBuckets(minutes, [], BigInt(Date.now()) * 1_000_000n);
    }
    await this.host.command(`INSERT INTO ${this.db}.rollup_state VALUES ('built', ${startNs}), ('format', ${ROLLUP_FORMAT.clickhouse})`, 'rollup state');
  }

  /** Records a mark per job row; call after the rows are stored. */
  async mark(rows: readonly JobRow[], insertedNs: bigint): Promise<void> {
    if (rows.length === 0) return;
    let body = '';
    for (const r of rows) body += `${insertedNs}\t${tsv(r.job)}\t${tsv(r.runId)}\t${r.endNs}\t${r.terminal ? 1 : 0}\n`;
    await this.host.insertTsv('rollup_marks', body, ['inserted_ns', 'job', 'run_id', 'end_ns', 'terminal'], `insert of ${rows.length} rollup marks`);
  }

  refresh(onStep?: (r: RefreshResult) => void): Promise<RefreshResult> {
    return refreshRollups(this, onStep);
  }

  windowCountsMany(queries: readonly WindowCountsQuery[]): Promise<WindowCount[][] | null> {
    return rollupWindowCounts(this, queries);
  }

  /** {@link Store.runStartsMany} from the minute buckets; null for each query they cannot answer. */
  runStartsMany(queries: readonly StartsQuery[]): Promise<(number[] | null)[]> {
    return rollupRunStartsMany(this, queries);
  }

  /**
   * The coalesced queries in requests of up to {@link STARTS_PER_REQUEST}, each
   * a UNION ALL of one read per query (by the sorting key, run in parallel by
   * the server); uncoalesced queries one request each.
   */
  async startsOfMany(queries: readonly StartsQuery[]): Promise<number[][]> {
    const out: number[][] = queries.map(() => []);
    const fromHours = await this.startsFromHours(queries);
    const coalesced: number[] = [];
    for (const [i, q] of queries.entries()) {
      const hours = fromHours[i];
      if (hours) out[i] = hours;
      else if (q.coalesceMillis !== undefined) coalesced.push(i);
      else out[i] = await this.startsOf(q);
    }
    for (let c = 0; c < coalesced.length; c += STARTS_PER_REQUEST) {
      const chunk = coalesced.slice(c, c + STARTS_PER_REQUEST);
      const branches = chunk.map((i, k) => {
        const q = queries[i] as StartsQuery;
        return `SELECT toUInt32(${k}) AS k, min(s) AS lo, max(s) AS hi FROM (${this.startsSql(q)}) GROUP BY intDiv(s, ${Math.trunc(q.coalesceMillis ?? 1)})`;
      });
      const rows = await this.host.select(`SELECT k, lo, hi FROM (${branches.join(' UNION ALL ')}) ORDER BY k, lo`, 'rollup run starts');
      const byQuery = new Map<number, Row[]>();
      for (const r of rows) {
        const k = Number(r['k']);
        const list = byQuery.get(k);
        if (list) list.push(r);
        else byQuery.set(k, [r]);
      }
      chunk.forEach((i, k) => {
        out[i] = coalescedStarts(byQuery.get(k) ?? []);
      });
    }
    return out;
  }

  /**
   * {@link RollupReadBackend.firstStarts}: the hour buckets from the first UTC
   * day that has minute buckets (hour buckets of earlier days outlive their
   * runs), newest versions, in requests of up to {@link STARTS_PER_REQUEST}
   * selectors.
   */
  async firstStarts(jobs: readonly JobSelector[]): Promise<(bigint | null)[]> {
    const out: (bigint | null)[] = jobs.map(() => null);
    const fromNs = await this.minuteDaysFromNs();
    if (fromNs === null) return out;
    for (let c = 0; c < jobs.length; c += STARTS_PER_REQUEST) {
      const chunk = jobs.slice(c, c + STARTS_PER_REQUEST);
      const branches = chunk.map((j, k) => {
        const cond = isGlob(j) ? `job LIKE ${quoteString(globToLike(j))}` : `job = ${quoteString(j)}`;
        return `SELECT toUInt32(${k}) AS k, min(fs) AS lo, count() AS n FROM (
            SELECT argMax(first_start_ns, version) AS fs, argMax(has_first_start, version) AS hf
            FROM ${this.db}.rollup_hour WHERE hour_ns >= ${fromNs} AND ${cond}
            GROUP BY job, hour_ns
          ) WHERE hf = 1`;
      });
      const rows = await this.host.select(`SELECT k, lo, n FROM (${branches.join(' UNION ALL ')})`, 'rollup first starts');
      for (const r of rows) if (Number(r['n']) > 0) out[c + Number(r['k'])] = big(r['lo']);
    }
    return out;
  }

  /** Start of the first UTC day that has minute buckets (from the partition list); null when none has. */
  private async minuteDaysFromNs(): Promise<bigint | null> {
    const parts = await this.host.select(
      `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(this.db.slice(1, -1))} AND table = 'rollup_minute' AND active`,
      'rollup_minute partition list',
    );
    const days = parts.map((r) => String(r['partition_id'])).filter((id) => /^\d{8}$/.test(id));
    if (days.length === 0) return null;
    const first = days.reduce((a, b) => (b < a ? b : a));
    return BigInt(Date.UTC(Number(first.slice(0, 4)), Number(first.slice(4, 6)) - 1, Number(first.slice(6, 8)))) * 1_000_000n;
  }

  /**
   * Coalesced succeeded starts from the hour buckets' start minutes, for a
   * query whose range starts on a minute and whose width is whole minutes
   * (each interval is then whole start minutes, so merging their earliest
   * and latest starts is exact); null for other queries, and when a start
   * at or after the range's end shares its last minute (the minute buckets
   * then answer).
   */
  private async startsFromHours(queries: readonly StartsQuery[]): Promise<(number[] | null)[]> {
    const out: (number[] | null)[] = queries.map(() => null);
    const fit = queries.map((q, i) => ({ q, i })).filter(({ q }) => q.which === 'succeeded' && q.coalesceMillis !== undefined && q.coalesceMillis % 60_000 === 0 && q.fromNs % MINUTE_NS === 0n);
    if (fit.length === 0) return out;
    const daysFromNs = await this.minuteDaysFromNs();
    if (daysFromNs === null) {
      for (const { i } of fit) out[i] = [];
      return out;
    }
    for (let c = 0; c < fit.length; c += STARTS_PER_REQUEST) {
      const chunk = fit.slice(c, c + STARTS_PER_REQUEST);
      const branches = chunk.map(({ q }, k) => {
        const cond = isGlob(q.jobs) ? `job LIKE ${quoteString(globToLike(q.jobs))}` : `job = ${quoteString(q.jobs)}`;
        // A run that started at fromNs ended at or after it: in its hour bucket or a later one.
        const hourFrom = floorDiv(q.fromNs, HOUR_NS) * HOUR_NS - HOUR_NS;
        return `SELECT toUInt32(${k}) AS k, min(l0) AS lo, max(h0) AS hi FROM (
            SELECT argMax(ss_minute_ns, version) AS sm, argMax(ss_lo_ns, version) AS sl, argMax(ss_hi_ns, version) AS sh
            FROM ${this.db}.rollup_hour WHERE hour_ns >= ${hourFrom > daysFromNs ? hourFrom : daysFromNs} AND ${cond}
            GROUP BY job, hour_ns
          ) ARRAY JOIN sm AS m0, sl AS l0, sh AS h0
          WHERE m0 >= ${q.fromNs} AND m0 < ${q.toNs}
          GROUP BY intDiv(m0, ${BigInt(Math.trunc(q.coalesceMillis ?? 60_000)) * 1_000_000n})`;
      });
      const rows = await this.host.select(`SELECT k, lo, hi FROM (${branches.join(' UNION ALL ')}) ORDER BY k, lo`, 'rollup hour run starts');
      const byQuery = new Map<number, { lo: bigint; hi: bigint }[]>();
      for (const r of rows) {
        const k = Number(r['k']);
        const e = { lo: big(r['lo']), hi: big(r['hi']) };
        const list = byQuery.get(k);
        if (list) list.push(e);
        else byQuery.set(k, [e]);
      }
      chunk.forEach(({ q, i }, k) => {
        const got = byQuery.get(k) ?? [];
        if (got.some((e) => e.hi >= q.toNs)) return;
        out[i] = coalescedStarts(got.map((e) => ({ lo: e.lo / 1_000_000n, hi: e.hi / 1_000_000n })));
      });
    }
    return out;
  }

  async startsOf(query: StartsQuery): Promise<number[]> {
    const starts = this.startsSql(query);
    if (query.coalesceMillis === undefined) return (await this.host.select(`${starts} ORDER BY s`, 'rollup run starts')).map((r) => Number(r['s']));
    const rows = await this.host.select(
      `SELECT min(s) AS lo, max(s) AS hi FROM (${starts}) GROUP BY intDiv(s, ${Math.trunc(query.coalesceMillis)}) ORDER BY lo`,
      'rollup run starts',
    );
    return coalescedStarts(rows);
  }

  /** The run starts (`s`, ms) of a query from the minute buckets, newest bucket versions. */
  private startsSql(query: StartsQuery): string {
    const cond = isGlob(query.jobs) ? `job LIKE ${quoteString(globToLike(query.jobs))}` : `job = ${quoteString(query.jobs)}`;
    const outcome = query.which === 'succeeded' ? 'o = 0' : 'o != 4';
    // A run ends no earlier than it starts: its minute bucket starts at most a minute before its start.
    return `SELECT intDiv(st, 1000000) AS s FROM (
           SELECT argMax(start_ns, version) AS sa, argMax(has_start, version) AS ha, argMax(outcome, version) AS oc
           FROM ${this.db}.rollup_minute WHERE minute_ns >= ${query.fromNs - 60_000_000_000n} AND ${cond}
           GROUP BY job, minute_ns
         ) ARRAY JOIN sa AS st, ha AS h, oc AS o
         WHERE h = 1 AND ${outcome} AND st >= ${query.fromNs} AND st < ${query.toNs}`;
  }

  /** Time series rows from the minute buckets; null when they cannot answer. */
  series(query: SeriesRollupQuery, where: DimensionFilter | undefined): Promise<Row[] | null> {
    return rollupSeries(this, query, where);
  }

  seriesOf(q: SeriesRollupQuery): Promise<Row[]> {
    const good = q.thresholdNs === null ? 'o = 0' : `o = 0 AND h = 1 AND l <= ${q.thresholdNs}`;
    const job = q.byJob ? 'job, ' : '';
    // The same columns and arithmetic as the raw path's series query, over the kept runs instead of derived ones.
    return this.host.select(
      `SELECT ${job}bucket_ns, runs, succeeded, good,
         ${interpolatedQuantileSql('lat', 0.5)} AS p50, ${interpolatedQuantileSql('lat', 0.95)} AS p95, ${interpolatedQuantileSql('lat', 0.99)} AS p99
       FROM (
         SELECT ${job}intDiv(te - 1, ${q.bucketNs}) * ${q.bucketNs} AS bucket_ns,
           count() AS runs, countIf(o = 0) AS succeeded, countIf(${good}) AS good,
           arraySort(groupArrayIf(l / 1e6, r = 1)) AS lat
         FROM ${this.keptRuns(q.jobs, q.fromNs, q.toNs, ['o', 'l', 'h', 'r'], q.onlyJobs)}
         WHERE o IN (0, 1, 2)
         GROUP BY ${job}bucket_ns
       )
       ORDER BY ${job}bucket_ns`,
      'rollup time series',
    );
  }

  /** Drops the minute and mark partitions (days) before `beforeNs`, and hour partitions (months) wholly before it. */
  /**
   * Drops the day partitions of minute buckets and marks before the UTC day of
   * `minuteBeforeNs` (with the job rows' retention), and the month partitions
   * of hour buckets that ended before the UTC day of `hourBeforeNs`; resolves
   * to how many hour partitions went.
   */
  async dropBefore(minuteBeforeNs: bigint, hourBeforeNs: bigint): Promise<number> {
    const dayIdOf = (ns: bigint): number => Number(new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 10).replaceAll('-', ''));
    const dayId = dayIdOf(minuteBeforeNs);
    const monthId = Math.floor(dayIdOf(hourBeforeNs) / 100);
    const database = this.db.slice(1, -1);
    let hourPartitions = 0;
    for (const [table, limit, digits] of [
      ['rollup_minute', dayId, 8],
      ['rollup_marks', dayId, 8],
      ['rollup_hour', monthId, 6],
    ] as const) {
      const rows = await this.host.select(
        `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(database)} AND table = ${quoteString(table)} AND active`,
        `${table} partition list`,
      );
      for (const id of rows.map((r) => String(r['partition_id'])).filter((i) => i.length === digits && /^\d+$/.test(i) && Number(i) < limit)) {
        await this.host.command(`ALTER TABLE ${this.db}.${table} DROP PARTITION ID ${quoteString(id)}`, `drop ${table} partition ${id}`);
        if (table === 'rollup_hour') hourPartitions++;
      }
    }
    return hourPartitions;
  }

  async pendingMarks(limit: number): Promise<{ marks: RollupMark[]; token: bigint }> {
    const [w] = await this.host.select(`SELECT max(value) AS w FROM ${this.db}.rollup_state WHERE key = 'marks'`, 'rollup watermark');
    const watermark = w && w['w'] !== null && w['w'] !== undefined ? big(w['w']) : 0n;
    const rows = await this.host.select(
      `SELECT inserted_ns, job, run_id, end_ns, terminal FROM ${this.db}.rollup_marks
       WHERE inserted_ns > ${watermark - MARK_MARGIN_NS} ORDER BY inserted_ns LIMIT ${Math.trunc(limit)}`,
      'pending rollup marks',
    );
    let token = watermark;
    const marks = rows.map((r) => {
      const t = big(r['inserted_ns']);
      if (t > token) token = t;
      return { job: String(r['job']), runId: String(r['run_id']), endNs: big(r['end_ns']), terminal: Number(r['terminal']) === 1 };
    });
    // Marks inside the margin only (already applied): nothing new.
    if (token === watermark && marks.length < limit) return { marks: [], token };
    return { marks, token };
  }

  async ackMarks(token: bigint): Promise<void> {
    await this.host.command(`INSERT INTO ${this.db}.rollup_state VALUES ('marks', ${token})`, 'rollup watermark');
  }

  async terminalMinutes(runs: readonly { job: string; runId: string }[], range: NsRange): Promise<{ job: string; minuteNs: bigint }[]> {
    const out: { job: string; minuteNs: bigint }[] = [];
    for (let i = 0; i < runs.length; i += RUNS_PER_QUERY) {
      const list = runs
        .slice(i, i + RUNS_PER_QUERY)
        .map((r) => `(${quoteString(r.job)}, ${quoteString(r.runId)})`)
        .join(', ');
      const rows = await this.host.select(
        `SELECT DISTINCT job, intDiv(end_ns - 1, 60000000000) * 60000000000 AS minute_ns FROM ${this.db}.job_rows
         WHERE terminal = 1 AND end_ns > ${range.loNs} AND end_ns <= ${range.hiNs} AND (job, run_id) IN (${list})`,
        'rollup terminal rows',
      );
      for (const r of rows) out.push({ job: String(r['job']), minuteNs: big(r['minute_ns']) });
    }
    return out;
  }

  runFacts(jobs: readonly string[] | null, range: NsRange): Promise<RunFact[]> {
    return this.host.runFacts(jobs, range);
  }

  async storedRange(): Promise<NsRange | null> {
    const [r] = await this.host.select(`SELECT count() AS n, min(end_ns) AS lo, max(end_ns) AS hi FROM ${this.db}.job_rows WHERE terminal = 1`, 'job rows range');
    if (!r || Number(r['n']) === 0) return null;
    return { loNs: big(r['lo']) - 1n, hiNs: big(r['hi']) };
  }

  async rowStartsAfter(ns: bigint): Promise<boolean> {
    const rows = await this.host.select(`SELECT 1 AS x FROM ${this.db}.job_rows WHERE end_ns > ${ns} AND start_ns > ${ns} LIMIT 1`, 'job rows after the instant');
    return rows.length > 0;
  }

  async runsStraddle(fromNs: bigint, toNs: bigint): Promise<boolean> {
    const rows = await this.host.select(
      `SELECT 1 AS x FROM ${this.db}.job_rows
       WHERE end_ns > ${toNs} AND start_ns > ${toNs} AND (job, run_id) IN (
         SELECT job, run_id FROM ${this.db}.job_rows WHERE end_ns > ${fromNs} AND start_ns <= ${toNs}
       ) LIMIT 1`,
      'runs across the instant',
    );
    return rows.length > 0;
  }

  /** True when the minute buckets answer reads of the runs that end in the range (see {@link rollupRunsReadable}). */
  readable(fromNs: bigint, toNs: bigint, where: DimensionFilter | undefined): Promise<boolean> {
    return rollupRunsReadable(this, fromNs, toNs, where);
  }

  /**
   * The kept runs of the selected jobs that end in `(fromNs, toNs]` (after
   * `fromNs` for a null `toNs`), one row per run: job, te (end) and the
   * columns asked for of o (outcome code), l (latency ns),
   * h (has latency), r (ran), a (attempts), st (start), rid, dl, q, c, cpu,
   * rss, et, tid, sid, ec, msg, ot. Each bucket is read at its newest version. Over every
   * selected job that is `FINAL` (ReplacingMergeTree merges the versions of a
   * (job, minute) at read time; the conditions are on the sorting key only,
   * so every version of a bucket passes them or none does): on ClickHouse
   * 18.16 faster than an `argMax` per column over a GROUP BY of every bucket
   * of the range. `FINAL` merges before it filters, so a few named jobs
   * (`onlyJobs`) are read with `argMax` instead.
   */
  private keptRuns(jobs: JobSelector, fromNs: bigint, toNs: bigint | null, columns: readonly KeptColumn[], onlyJobs?: readonly string[]): string {
    const cond = isGlob(jobs) ? `job LIKE ${quoteString(globToLike(jobs))}` : `job = ${quoteString(jobs)}`;
    const cols = ['te' as const, ...columns.filter((c) => c !== 'te')];
    const range = `minute_ns >= ${floorDiv(fromNs, MINUTE_NS) * MINUTE_NS}${toNs === null ? '' : ` AND minute_ns < ${ceilDiv(toNs, MINUTE_NS) * MINUTE_NS}`} AND ${cond}`;
    const buckets =
      onlyJobs === undefined
        ? `SELECT job, ${cols.map((c) => `${KEPT_SOURCE[c]} AS k_${c}`).join(', ')} FROM ${this.db}.rollup_minute FINAL WHERE ${range}`
        : `SELECT job, ${cols.map((c) => `argMax(${KEPT_SOURCE[c]}, version) AS k_${c}`).join(', ')} FROM ${this.db}.rollup_minute
           WHERE ${range}${onlyJobsCondition(onlyJobs, quoteString)} GROUP BY job, minute_ns`;
    return `(
      SELECT job, ${cols.join(', ')} FROM (${buckets}) ARRAY JOIN ${cols.map((c) => `k_${c} AS ${c}`).join(', ')}
      WHERE te > ${fromNs}${toNs === null ? '' : ` AND te <= ${toNs}`}
    )`;
  }

  /**
   * Queue intervals (job, s = queued, e = first start) of the kept runs queued
   * at or before `toNs` and started in `(fromNs, toNs]`, as the raw queue depth
   * query takes them from derived runs.
   */
  queueIntervalsSql(fromNs: bigint, toNs: bigint): string {
    return `SELECT job, toInt64(assumeNotNull(q)) AS s, toInt64(st) AS e, toUInt8(0) AS pending FROM ${this.keptRuns('*', fromNs, null, ['q', 'st'])}
      WHERE q IS NOT NULL AND st > assumeNotNull(q) AND st > ${fromNs} AND st <= ${toNs} AND assumeNotNull(q) <= ${toNs}`;
  }

  /**
   * Per-job aggregate rows of the kept runs that end in `(fromNs, toNs]`: the
   * raw path's columns and arithmetic (see the store's jobAggregates), over
   * kept runs instead of derived ones.
   */
  aggregateRows(fromNs: bigint, toNs: bigint): Promise<Row[]> {
    const counted = 'o IN (0, 1, 2)';
    const queued = 'q IS NOT NULL AND r = 1';
    return this.host.select(
      `SELECT job, runs, succeeded, failed, timed_out, cancelled, skipped, n_dead_lettered,
         ${interpolatedQuantileSql('lat', 0.5)} AS latency_p50,
         ${interpolatedQuantileSql('lat', 0.95)} AS latency_p95,
         ${interpolatedQuantileSql('lat', 0.99)} AS latency_p99,
         retries,
         ${interpolatedQuantileSql('qd', 0.5)} AS queue_p50,
         ${interpolatedQuantileSql('qd', 0.95)} AS queue_p95,
         queued_runs, cost_total, costed_runs, cpu_total, cpu_runs,
         ${interpolatedQuantileSql('rssv', 0.95)} AS rss_p95,
         modes
       FROM (
         SELECT job,
           countIf(${counted}) AS runs,
           countIf(o = 0) AS succeeded,
           countIf(o = 1 OR o = 2) AS failed,
           countIf(o = 2) AS timed_out,
           countIf(o = 3) AS cancelled,
           countIf(o = 4) AS skipped,
           countIf(dl = 1 AND ${counted}) AS n_dead_lettered,
           arraySort(groupArrayIf(l / 1e6, ${counted} AND r = 1)) AS lat,
           sumIf(toInt64(a) - 1, ${counted}) AS retries,
           arraySort(groupArrayIf(greatest(st - assumeNotNull(q), 0) / 1e6, ${queued})) AS qd,
           countIf(${queued}) AS queued_runs,
           sum(if(${counted}, c, NULL)) AS cost_total,
           count(if(${counted}, c, NULL)) AS costed_runs,
           sum(if(${counted}, cpu, NULL)) AS cpu_total,
           count(if(${counted}, cpu, NULL)) AS cpu_runs,
           arraySort(groupArrayIf(assumeNotNull(rss), ${counted} AND rss IS NOT NULL)) AS rssv,
           groupArrayIf(multiIf(et != '', et, o = 2, 'timeout', 'failed'), o = 1 OR o = 2) AS modes
         FROM ${this.keptRuns('*', fromNs, toNs, ['o', 'l', 'r', 'a', 'st', 'q', 'dl', 'c', 'cpu', 'rss', 'et'])}
         GROUP BY job
       )`,
      'rollup job aggregates',
    );
  }

  private listColumns = false;

  async listColumnsReady(): Promise<boolean> {
    if (this.listColumns) return true;
    const [r] = await this.host.select(this.stateSql, 'rollup format');
    this.listColumns = Number(r?.['built'] ?? 0) > 0 && Number(r?.['format'] ?? 0) >= ROLLUP_FORMAT.clickhouse;
    return this.listColumns;
  }

  /**
   * A run list from the minute buckets alone (format 6 keeps every column a
   * list shows): the latest or slowest `limit` runs ending in the range, in
   * all or per job (`LIMIT n BY job`), in the raw list's order, as run list
   * rows.
   */
  listRows(q: RunListRollupQuery): Promise<Row[]> {
    const order = q.slowest ? 'l DESC, te DESC, rid' : 'te DESC, rid';
    const names = `[${OUTCOME_CODES.map(quoteString).join(', ')}]`;
    return this.host.select(
      `SELECT job, rid AS run_id, tid AS trace_id, sid AS span_id, if(o < ${OUTCOME_CODES.length}, arrayElement(${names}, o + 1), ot) AS outcome,
         st AS first_start_ns, st + l AS last_end_ns, a AS attempts, et AS error_type, ec AS exit_code, msg AS message, dl AS dead_lettered
       FROM ${this.keptRuns(q.jobs, q.fromNs, q.toNs, ['o', 'l', 'st', 'a', 'rid', 'dl', 'et', 'tid', 'sid', 'ec', 'msg', 'ot'])}
       ${q.failed ? 'WHERE o IN (1, 2)' : ''}
       ORDER BY ${q.perJob ? `job, ${order}` : `${order}, job`}
       LIMIT ${q.limit}${q.perJob ? ' BY job' : ''}`,
      q.perJob ? 'rollup per-job run list' : 'rollup run list',
    );
  }

  /** Latency bin, attempts and count rows of the kept counted runs of the selected jobs that end in `(fromNs, toNs]`; `binSql` bins `lat` (ms). */
  distributionRows(jobs: JobSelector, fromNs: bigint, toNs: bigint, binSql: string): Promise<Row[]> {
    return this.host.select(
      `SELECT job, ${binSql} AS bin, a AS attempts, count() AS n
       FROM (SELECT job, l / 1e6 AS lat, a, o FROM ${this.keptRuns(jobs, fromNs, toNs, ['l', 'a', 'o'])})
       WHERE o IN (0, 1, 2)
       GROUP BY job, bin, attempts`,
      'rollup run distributions',
    );
  }

  async minuteRuns(jobs: readonly string[], fromNs: bigint, toNs: bigint): Promise<RunFact[]> {
    if (jobs.length === 0) return [];
    const rows = await this.host.select(
      `SELECT job, t, o, l, h, a, r, st, hs FROM (
         SELECT job, argMax(end_ns, version) AS e, argMax(outcome, version) AS oc, argMax(latency_ns, version) AS lat,
           argMax(has_latency, version) AS hl, argMax(attempts, version) AS at, argMax(ran, version) AS rn,
           argMax(start_ns, version) AS sa, argMax(has_start, version) AS ha
         FROM ${this.db}.rollup_minute
         WHERE minute_ns >= ${fromNs} AND minute_ns < ${toNs} AND job IN (${jobs.map(quoteString).join(', ')})
         GROUP BY job, minute_ns
       ) ARRAY JOIN e AS t, oc AS o, lat AS l, hl AS h, at AS a, rn AS r, sa AS st, ha AS hs`,
      'rollup minute runs',
    );
    return rows.map((r) => ({
      job: String(r['job']),
      runId: '',
      runEndNs: big(r['t']),
      startNs: Number(r['hs']) === 1 ? big(r['st']) : null,
      outcome: OUTCOME_CODES[Number(r['o'])] ?? 'other',
      latencyNs: Number(r['h']) === 1 ? big(r['l']) : null,
      attempts: Number(r['a']),
      ran: Number(r['r']) === 1,
    }));
  }

  async writeBuckets(minutes: readonly MinuteContent[], hours: readonly HourContent[], version: bigint): Promise<void> {
    if (minutes.length > 0) {
      let body = '';
      for (const m of minutes) {
        const rs = m.runs;
        body +=
          `${tsv(m.job)}\t${m.minuteNs}\t${version}\t${arr(rs.map((r) => r.runEndNs))}\t${arr(rs.map((r) => outcomeCode(r.outcome)))}\t` +
          `${arr(rs.map((r) => r.latencyNs ?? 0n))}\t${arr(rs.map((r) => (r.latencyNs === null ? 0 : 1)))}\t` +
          `${arr(rs.map((r) => Math.max(0, Math.min(4_294_967_295, Math.trunc(r.attempts)))))}\t${arr(rs.map((r) => (r.ran ? 1 : 0)))}\t` +
          `${arr(rs.map((r) => r.startNs ?? 0n))}\t${arr(rs.map((r) => (r.startNs === null ? 0 : 1)))}\t` +
          `${strs(rs.map((r) => r.runId))}\t${arr(rs.map((r) => (r.deadLettered === true ? 1 : 0)))}\t${nullable(rs.map((r) => r.queuedNs))}\t` +
          `${nullable(rs.map((r) => r.cost))}\t${nullable(rs.map((r) => r.cpuSeconds))}\t${nullable(rs.map((r) => r.maxRssBytes))}\t` +
          `${strs(rs.map((r) => r.errorType ?? ''))}\t${strs(rs.map((r) => r.traceId ?? ''))}\t${strs(rs.map((r) => r.spanId ?? ''))}\t` +
          `${nullable(rs.map((r) => (r.exitCode === null || r.exitCode === undefined ? null : Math.trunc(r.exitCode))))}\t${strs(rs.map((r) => r.message ?? ''))}\t` +
          `${strs(rs.map((r) => (outcomeCode(r.outcome) === OTHER_OUTCOME_CODE ? r.outcome : '')))}\n`;
      }
      await this.host.insertTsv(
        'rollup_minute',
        body,
        ['job', 'minute_ns', 'version', 'end_ns', 'outcome', 'latency_ns', 'has_latency', 'attempts', 'ran', 'start_ns', 'has_start', ...EXTRA_MINUTE_COLUMNS.map((c) => c.split(' ')[0] as string)],
        `insert of ${minutes.length} minute buckets`,
      );
    }
    if (hours.length > 0) {
      let body = '';
      for (const h of hours) {
        const sk = [...h.sketch].sort((a, b) => a[0] - b[0]);
        body +=
          `${tsv(h.job)}\t${h.hourNs}\t${version}\t${h.byOutcome.slice(0, 6).join('\t')}\t${h.attempts}\t` +
          `${arr(h.thresholdsNs)}\t${arr(h.good)}\t${arr(sk.map((e) => e[0]))}\t${arr(sk.map((e) => e[1]))}\t` +
          `${h.firstStartNs ?? 0n}\t${h.firstStartNs === null ? 0 : 1}\t` +
          `${arr(h.succeededStarts.map((m) => m.minuteNs))}\t${arr(h.succeededStarts.map((m) => m.loNs))}\t${arr(h.succeededStarts.map((m) => m.hiNs))}\n`;
      }
      await this.host.insertTsv(
        'rollup_hour',
        body,
        ['job', 'hour_ns', 'version', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'other', 'attempts', 'thresholds_ns', 'good', 'sketch_keys', 'sketch_counts', ...FIRST_START_COLUMNS.map((c) => c.split(' ')[0] as string)],
        `insert of ${hours.length} hour buckets`,
      );
    }
  }

  async thresholds(): Promise<RegisteredThreshold[]> {
    const rows = await this.host.select(`SELECT DISTINCT jobs, threshold_ns FROM ${this.db}.rollup_thresholds`, 'rollup thresholds');
    return rows.map((r) => ({ jobs: String(r['jobs']), thresholdNs: big(r['threshold_ns']) }));
  }

  async registerThresholds(thresholds: readonly RegisteredThreshold[]): Promise<void> {
    if (thresholds.length === 0) return;
    await this.host.command(
      `INSERT INTO ${this.db}.rollup_thresholds VALUES ${thresholds.map((t) => `(${quoteString(t.jobs)}, ${t.thresholdNs})`).join(', ')}`,
      'register rollup thresholds',
    );
  }

  async rolledJobs(): Promise<{ jobs: string[]; fromNs: bigint; toNs: bigint }> {
    const rows = await this.host.select(`SELECT job, min(hour_ns) AS lo, max(hour_ns) AS hi FROM ${this.db}.rollup_hour GROUP BY job`, 'rolled jobs');
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

  // 18.16 loses columns that only a lambda uses when it prunes a subquery's
  // columns, so these queries use no lambdas: ranges and thresholds are
  // joined with arrayJoin and filtered.
  async countHours(parts: readonly HourPart[]): Promise<Map<number, PartCount>> {
    const { ranges, rangeOf } = distinctRanges(parts.map((p) => [p.fromNs, p.toNs]));
    const thresholds = distinctThresholds(parts);
    const lo = ranges.reduce((m, r) => (r[0] < m ? r[0] : m), ranges[0]?.[0] ?? 0n);
    const hi = ranges.reduce((m, r) => (r[1] > m ? r[1] : m), ranges[0]?.[1] ?? 0n);
    const rows = await this.host.select(
      `SELECT job, tupleElement(rr, 3) AS rid, t, sum(h_succ) AS s, sum(h_bad) AS b, sum(gv) AS g, sum(mv) AS miss FROM (
         SELECT job, h_start, h_succ, h_bad, arrayJoin(${rangeList(ranges)}) AS rr, arrayJoin(${thresholdList(thresholds)}) AS t,
           if(indexOf(h_thr, t) = 0, toUInt64(0), toUInt64(arrayElement(h_good, indexOf(h_thr, t)))) AS gv,
           toUInt64(h_succ > 0 AND indexOf(h_thr, t) = 0) AS mv
         FROM (
           SELECT job, hour_ns AS h_start, argMax(succeeded, version) AS h_succ, argMax(failed, version) + argMax(timed_out, version) AS h_bad,
             argMax(thresholds_ns, version) AS h_thr, argMax(good, version) AS h_good
           FROM ${this.db}.rollup_hour WHERE hour_ns >= ${lo} AND hour_ns < ${hi}
           GROUP BY job, hour_ns
         )
       )
       WHERE h_start >= tupleElement(rr, 1) AND h_start < tupleElement(rr, 2)
       GROUP BY job, rr, t`,
      'rollup hour counts',
    );
    return sumParts(parts, rows, rangeOf, thresholds);
  }

  async countEdges(parts: readonly EdgePart[]): Promise<Map<number, PartCount>> {
    const { ranges, rangeOf } = distinctRanges(parts.map((p) => [p.loNs, p.hiNs]));
    const thresholds = distinctThresholds(parts);
    const minuteRanges = [...new Set(parts.map((p) => `${p.minuteFromNs}:${p.minuteToNs}`))].map((x) => x.split(':'));
    const rows = await this.host.select(
      `SELECT job, tupleElement(rr, 3) AS rid, t, countIf(o = 0) AS s, countIf(o = 1 OR o = 2) AS b, sum(toUInt64(o = 0 AND h = 1 AND l <= t)) AS g, toUInt64(0) AS miss FROM (
         SELECT job, te, o, l, h, arrayJoin(${rangeList(ranges)}) AS rr, arrayJoin(${thresholdList(thresholds)}) AS t FROM (
           SELECT job, te, o, l, h FROM (
             SELECT job, argMax(end_ns, version) AS e, argMax(outcome, version) AS oc, argMax(latency_ns, version) AS lat, argMax(has_latency, version) AS hl
             FROM ${this.db}.rollup_minute WHERE ${minuteRanges.map(([a, b]) => `(minute_ns >= ${a} AND minute_ns < ${b})`).join(' OR ')}
             GROUP BY job, minute_ns
           ) ARRAY JOIN e AS te, oc AS o, lat AS l, hl AS h
         )
       )
       WHERE te > tupleElement(rr, 1) AND te <= tupleElement(rr, 2)
       GROUP BY job, rr, t`,
      'rollup edge counts',
    );
    return sumParts(parts, rows, rangeOf, thresholds);
  }
}

function rangeList(ranges: readonly [bigint, bigint][]): string {
  return `[${ranges.map((r, i) => `(${i64(r[0])}, ${i64(r[1])}, toUInt32(${i}))`).join(', ')}]`;
}

function thresholdList(thresholds: readonly bigint[]): string {
  return `[${thresholds.map(i64).join(', ')}]`;
}

