/**
 * Alert state and outbox in a ClickHouse store's database, shared by any
 * number of `jobslo serve` replicas.
 *
 * ClickHouse has no transactions and no conditional writes, so both are
 * built from append-only tables of the `Log` engine, whose rows keep their
 * insertion order (an INSERT locks the table; a read with one thread returns
 * rows in the order they were written). A write that must not race names the
 * version it follows; **the first row written for a version wins** and every
 * later row for it is ignored by every reader, forever:
 *
 * - `jobslo_alert_state`: one row per state version. Compare-and-swap inserts
 *   version v+1 and reads back which row came first for v+1.
 * - `jobslo_monitor_state`: the same for the monitor state (check states of
 *   scheduled jobs).
 * - `jobslo_alert_outbox`: entries, tagged with the state version they were
 *   committed with and the writer of that attempt. An entry is real only
 *   when its (version, writer) is the winning row of the alert state or of the
 *   monitor state (writers are random UUIDs, never shared between the two),
 *   so the notifications of a replica that lost the race are never sent.
 * - `jobslo_alert_outbox_events`: per entry a sequence of events (claim,
 *   release, retry, delivered, dead, requeue); event n+1 follows event n, the
 *   first row for each n wins. A claim's sequence number is its fencing token.
 *
 * SQL runs on ClickHouse 18.16 and current releases.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError, JobsloError, errorMessage, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import { quoteIdentifier, quoteString, toStoreError } from '../../store/_clickhouse.js';
import { numberLiteral } from '../../store/_sql.js';
import { redact } from '../../store/index.js';
import { dueEntries } from './backend.js';
import type {
  AlertBackend,
  AlertStateStore,
  CasResult,
  ClaimedEntry,
  DeadLetter,
  DocumentStateStore,
  Outbox,
  OutboxEntry,
  OutboxRecord,
  Settlement,
  VersionedAlertState,
  VersionedDocument,
} from './backend.js';
import { emptyAlertState } from './state.js';
import type { AlertState } from './state.js';

type Row = Record<string, unknown>;

const TABLES = (db: string): string[] => [
  `CREATE TABLE IF NOT EXISTS ${db}.jobslo_alert_state (version UInt64, writer String, written_ms Int64, state String) ENGINE = Log`,
  `CREATE TABLE IF NOT EXISTS ${db}.jobslo_monitor_state (version UInt64, writer String, written_ms Int64, state String) ENGINE = Log`,
  `CREATE TABLE IF NOT EXISTS ${db}.jobslo_alert_outbox (id String, state_version UInt64, writer String, created_ms Int64, webhook String, entry String) ENGINE = Log`,
  `CREATE TABLE IF NOT EXISTS ${db}.jobslo_alert_outbox_events (id String, seq UInt32, kind String, writer String, owner String, lease_until_ms Int64, attempts UInt32, not_before_ms Int64, reason String, at_ms Int64) ENGINE = Log`,
];

/** Options of {@link ClickHouseAlertBackend}. */
export interface ClickHouseAlertBackendOptions {
  /** `http://[user[:password]@]host:8123`. */
  url: string;
  database: string;
  /** Most pending entries; new ones past it are dropped and counted. @default 10_000 */
  maxOutboxEntries?: number;
  /** @default 30_000 */
  requestTimeoutMillis?: number;
  logger?: Logger;
}

type EventKind = 'claim' | 'release' | 'retry' | 'delivered' | 'dead' | 'requeue';

/** What the events of one entry add up to. */
interface EntryStatus {
  seq: number;
  kind: EventKind | 'new';
  leaseUntilMillis: number;
  attempts: number;
  notBeforeMillis: number;
  reason: string;
  atMillis: number;
  /** Age is counted from here: creation, or the last requeue. */
  ageFromMillis: number;
}

interface EventRow {
  id: string;
  seq: number;
  kind: EventKind;
  writer: string;
  owner: string;
  leaseUntilMillis: number;
  attempts: number;
  notBeforeMillis: number;
  reason: string;
  atMillis: number;
}

/** The shared ClickHouse connection of a backend. */
class Connection {
  readonly db: string;
  readonly where: string;
  private readonly client: ClickHouseClient;
  private ready: Promise<void> | undefined;

  constructor(options: ClickHouseAlertBackendOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (cause) {
      throw new ConfigError('--store', `"${redact(options.url)}" is not a URL`, { cause });
    }
    const username = decodeURIComponent(url.username) || undefined;
    const password = decodeURIComponent(url.password) || undefined;
    url.username = '';
    url.password = '';
    const base = url.toString().replace(/\/$/, '');
    this.db = quoteIdentifier(options.database);
    this.where = `${base}/${options.database}`;
    this.client = createClient({
      url: base,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      request_timeout: options.requestTimeoutMillis ?? 30_000,
      max_open_connections: 4,
      compression: { request: false, response: false },
      // One reading thread keeps Log rows in insertion order, which decides every race here.
      clickhouse_settings: { max_threads: 1, output_format_json_quote_64bit_integers: 1 },
      application: 'jobslo-alerts',
    });
  }

  /** Creates the tables once per connection (idempotent). */
  migrate(): Promise<void> {
    this.ready ??= (async () => {
      await this.command(`CREATE DATABASE IF NOT EXISTS ${this.db}`, 'create database');
      for (const sql of TABLES(this.db)) await this.command(sql, 'create alert tables');
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async select(sql: string, doing: string): Promise<Row[]> {
    await this.migrate();
    try {
      const result = await this.client.query({ query: sql, format: 'JSONEachRow' });
      return await result.json<Row>();
    } catch (err) {
      throw toStoreError(err, this.where, doing);
    }
  }

  async command(sql: string, doing: string): Promise<void> {
    if (!sql.startsWith('CREATE')) await this.migrate();
    try {
      await this.client.command({ query: sql });
    } catch (err) {
      throw toStoreError(err, this.where, doing);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

const int = (v: unknown): number => Number(v ?? 0);
const lit = (n: number): string => numberLiteral(Math.trunc(n));

/** A versioned JSON document in a `Log` table (the first row of a version wins). */
class VersionedTable {
  readonly location: string;

  constructor(
    private readonly c: Connection,
    private readonly outbox: ClickHouseOutbox,
    private readonly table: 'jobslo_alert_state' | 'jobslo_monitor_state',
    private readonly what: string,
  ) {
    this.location = `clickhouse:${c.where} (${table})`;
  }

  /** The latest version and its JSON text; version 0 and no text when nothing was written. */
  async load(): Promise<{ version: number; text: string | undefined }> {
    const t = `${this.c.db}.${this.table}`;
    // The first row of the highest version; later rows of that version lost their race.
    const rows = await this.c.select(`SELECT toString(version) AS v, state FROM ${t} WHERE version = (SELECT max(version) FROM ${t}) LIMIT 1`, `read ${this.what}`);
    const row = rows[0];
    if (row === undefined || int(row['v']) === 0) return { version: 0, text: undefined };
    return { version: int(row['v']), text: String(row['state']) };
  }

  /** The writer whose row came first for `version`, if any. */
  private async winner(version: number): Promise<string | undefined> {
    const rows = await this.c.select(`SELECT writer FROM ${this.c.db}.${this.table} WHERE version = ${lit(version)} LIMIT 1`, `read ${this.what} writer`);
    return rows[0] === undefined ? undefined : String(rows[0]['writer']);
  }

  async compareAndSwap(expectedVersion: number, next: object, entries: readonly OutboxEntry[]): Promise<CasResult> {
    const version = expectedVersion + 1;
    // Cheap early exit; the insert below is what decides.
    if ((await this.winner(version)) !== undefined) return { ok: false, dropped: 0 };
    const writer = randomUUID();
    const dropped = await this.outbox.enqueueTagged(entries, version, writer);
    await this.c.command(
      `INSERT INTO ${this.c.db}.${this.table} (version, writer, written_ms, state) VALUES (${lit(version)}, ${quoteString(writer)}, ${lit(Date.now())}, ${quoteString(JSON.stringify(next))})`,
      `write ${this.what}`,
    );
    return { ok: (await this.winner(version)) === writer, dropped };
  }
}

/** Alert state versions in ClickHouse. */
export class ClickHouseAlertState implements AlertStateStore {
  readonly location: string;
  private readonly t: VersionedTable;

  constructor(c: Connection, outbox: ClickHouseOutbox) {
    this.t = new VersionedTable(c, outbox, 'jobslo_alert_state', 'alert state');
    this.location = this.t.location;
  }

  async load(): Promise<VersionedAlertState> {
    const { version, text } = await this.t.load();
    if (text === undefined) return { version: 0, state: emptyAlertState() };
    try {
      const v = JSON.parse(text) as AlertState;
      if (v.version !== 1 || typeof v.firing !== 'object' || v.firing === null) throw new Error('not a version 1 alert state');
      return { version, state: v };
    } catch (err) {
      throw new JobsloError('JOBSLO_ERR_STORE_QUERY', `alert state version ${version} in ${this.location} is damaged: ${errorMessage(err)}`, { cause: err });
    }
  }

  compareAndSwap(expectedVersion: number, next: AlertState, entries: readonly OutboxEntry[]): Promise<CasResult> {
    return this.t.compareAndSwap(expectedVersion, next, entries);
  }
}

/** Monitor state versions in ClickHouse (`jobslo_monitor_state`). */
export class ClickHouseMonitorState implements DocumentStateStore {
  readonly location: string;
  private readonly t: VersionedTable;

  constructor(c: Connection, outbox: ClickHouseOutbox) {
    this.t = new VersionedTable(c, outbox, 'jobslo_monitor_state', 'monitor state');
    this.location = this.t.location;
  }

  async load(): Promise<VersionedDocument> {
    const { version, text } = await this.t.load();
    if (text === undefined) return { version: 0, value: undefined };
    try {
      return { version, value: JSON.parse(text) as unknown };
    } catch (err) {
      throw new JobsloError('JOBSLO_ERR_STORE_QUERY', `monitor state version ${version} in ${this.location} is damaged: ${errorMessage(err)}`, { cause: err });
    }
  }

  compareAndSwap(expectedVersion: number, next: object, entries: readonly OutboxEntry[]): Promise<CasResult> {
    return this.t.compareAndSwap(expectedVersion, next, entries);
  }
}

/** The outbox in ClickHouse. */
export class ClickHouseOutbox implements Outbox {
  readonly location: string;
  private readonly maxEntries: number;
  private readonly logger: Logger;

  constructor(
    private readonly c: Connection,
    options: { maxEntries?: number; logger?: Logger },
  ) {
    this.location = `clickhouse:${c.where} (jobslo_alert_outbox)`;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.logger = options.logger ?? noopLogger;
  }

  /**
   * Entries committed with a state version (alert or monitor state) that won
   * its race, oldest first (without bodies), each id once: losers of a race
   * may have written rows with the same id (the same notification).
   */
  private async committed(ids?: readonly string[]): Promise<{ id: string; createdAtMillis: number; webhook: string; commit: string }[]> {
    const where = ids === undefined ? '' : `WHERE id IN (${ids.map(quoteString).join(', ')})`;
    const winners = (table: string): string =>
      `SELECT version AS state_version, argMin(writer, rn) AS writer FROM (SELECT version, writer, rowNumberInAllBlocks() AS rn FROM ${this.c.db}.${table}) GROUP BY version`;
    const rows = await this.c.select(
      `SELECT id, created_ms, webhook, toString(state_version) AS sv, writer FROM ${this.c.db}.jobslo_alert_outbox ` +
        `ALL INNER JOIN (${winners('jobslo_alert_state')} UNION ALL ${winners('jobslo_monitor_state')}) AS s ` +
        // ALL, not ANY: current releases give one left row per key with ANY (the right side has one row per (version, writer) anyway).
        `USING (state_version, writer) ${where}`,
      'read alert outbox',
    );
    const sorted = rows
      .map((r) => ({ id: String(r['id']), createdAtMillis: int(r['created_ms']), webhook: String(r['webhook']), commit: `${String(r['sv'])}/${String(r['writer'])}` }))
      .sort((a, b) => a.createdAtMillis - b.createdAtMillis || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const seen = new Set<string>();
    return sorted.filter((e) => {
      if (seen.has(e.id)) return false;
      seen.add(e.id);
      return true;
    });
  }

  /** Folds the events of the given entries (all when undefined): the first row for each sequence number wins. */
  private async statuses(ids?: readonly string[]): Promise<Map<string, { status: EntryStatus; accepted: Map<number, string> }>> {
    const where = ids === undefined ? '' : `WHERE id IN (${ids.map(quoteString).join(', ')})`;
    const rows = await this.c.select(
      `SELECT id, seq, kind, writer, owner, lease_until_ms, attempts, not_before_ms, reason, at_ms FROM ${this.c.db}.jobslo_alert_outbox_events ${where}`,
      'read alert outbox events',
    );
    const out = new Map<string, { status: EntryStatus; accepted: Map<number, string> }>();
    for (const r of rows) {
      const e: EventRow = {
        id: String(r['id']),
        seq: int(r['seq']),
        kind: String(r['kind']) as EventKind,
        writer: String(r['writer']),
        owner: String(r['owner']),
        leaseUntilMillis: int(r['lease_until_ms']),
        attempts: int(r['attempts']),
        notBeforeMillis: int(r['not_before_ms']),
        reason: String(r['reason']),
        atMillis: int(r['at_ms']),
      };
      let s = out.get(e.id);
      if (!s) {
        s = { status: { seq: 0, kind: 'new', leaseUntilMillis: 0, attempts: 0, notBeforeMillis: 0, reason: '', atMillis: 0, ageFromMillis: 0 }, accepted: new Map() };
        out.set(e.id, s);
      }
      if (e.seq !== s.status.seq + 1) continue;
      s.accepted.set(e.seq, e.writer);
      s.status = {
        seq: e.seq,
        kind: e.kind,
        leaseUntilMillis: e.kind === 'claim' ? e.leaseUntilMillis : 0,
        attempts: e.attempts,
        notBeforeMillis: e.notBeforeMillis,
        reason: e.reason,
        atMillis: e.atMillis,
        ageFromMillis: e.kind === 'requeue' ? e.atMillis : s.status.ageFromMillis,
      };
    }
    return out;
  }

  /** Bodies of committed entries: only the row of the commit that won (a losing writer's row of the same id is ignored). */
  private async bodies(entries: readonly { id: string; commit: string }[]): Promise<Map<string, OutboxEntry>> {
    const out = new Map<string, OutboxEntry>();
    if (entries.length === 0) return out;
    const commits = new Map(entries.map((e) => [e.id, e.commit]));
    const rows = await this.c.select(
      `SELECT id, toString(state_version) AS sv, writer, entry FROM ${this.c.db}.jobslo_alert_outbox WHERE id IN (${entries.map((e) => quoteString(e.id)).join(', ')})`,
      'read alert outbox entries',
    );
    for (const r of rows) {
      const id = String(r['id']);
      if (commits.get(id) === `${String(r['sv'])}/${String(r['writer'])}`) out.set(id, JSON.parse(String(r['entry'])) as OutboxEntry);
    }
    return out;
  }

  private async pending(): Promise<{ id: string; createdAtMillis: number; webhook: string; commit: string; status: EntryStatus | undefined }[]> {
    const [entries, statuses] = await Promise.all([this.committed(), this.statuses()]);
    return entries
      .map((e) => ({ ...e, status: statuses.get(e.id)?.status }))
      .filter((e) => e.status === undefined || (e.status.kind !== 'delivered' && e.status.kind !== 'dead'));
  }

  async size(): Promise<number> {
    return (await this.pending()).length;
  }

  /** Writes entries of a compare-and-swap attempt; they count only if it wins. */
  async enqueueTagged(entries: readonly OutboxEntry[], stateVersion: number, writer: string): Promise<number> {
    if (entries.length === 0) return 0;
    const free = this.maxEntries - (await this.size());
    const kept = entries.slice(0, Math.max(0, free));
    const dropped = entries.length - kept.length;
    if (kept.length > 0) {
      const values = kept.map(
        (e) => `(${quoteString(`${e.idempotencyKey}/${e.webhook}`)}, ${lit(stateVersion)}, ${quoteString(writer)}, ${lit(e.createdAtMillis)}, ${quoteString(e.webhook)}, ${quoteString(JSON.stringify(e))})`,
      );
      await this.c.command(`INSERT INTO ${this.c.db}.jobslo_alert_outbox (id, state_version, writer, created_ms, webhook, entry) VALUES ${values.join(', ')}`, 'write alert outbox');
    }
    if (dropped > 0) this.logger.error('alert outbox full: notifications dropped', { dropped, maxEntries: this.maxEntries, outbox: this.location });
    return dropped;
  }

  /** Appends events (each following the status it was planned from) and returns the ids whose event won. */
  private async append(events: readonly Omit<EventRow, 'writer'>[]): Promise<Set<string>> {
    const won = new Set<string>();
    if (events.length === 0) return won;
    const writer = randomUUID();
    const values = events.map(
      (e) =>
        `(${quoteString(e.id)}, ${lit(e.seq)}, ${quoteString(e.kind)}, ${quoteString(writer)}, ${quoteString(e.owner)}, ${lit(e.leaseUntilMillis)}, ${lit(e.attempts)}, ${lit(e.notBeforeMillis)}, ${quoteString(e.reason)}, ${lit(e.atMillis)})`,
    );
    await this.c.command(
      `INSERT INTO ${this.c.db}.jobslo_alert_outbox_events (id, seq, kind, writer, owner, lease_until_ms, attempts, not_before_ms, reason, at_ms) VALUES ${values.join(', ')}`,
      'write alert outbox events',
    );
    const after = await this.statuses(events.map((e) => e.id));
    for (const e of events) if (after.get(e.id)?.accepted.get(e.seq) === writer) won.add(e.id);
    return won;
  }

  async claim(owner: string, nowMillis: number, leaseMillis: number, limit: number): Promise<ClaimedEntry[]> {
    const pending = await this.pending();
    const records: (OutboxRecord & { status: EntryStatus | undefined; commit: string })[] = pending.map((p) => ({
      id: p.id,
      commit: p.commit,
      status: p.status,
      leaseUntilMillis: p.status?.leaseUntilMillis ?? 0,
      // Only what dueEntries reads; the body is fetched for the claimed ones.
      entry: { version: 1, idempotencyKey: '', webhook: p.webhook, body: '', createdAtMillis: p.createdAtMillis, attempts: p.status?.attempts ?? 0, notBeforeMillis: p.status?.notBeforeMillis ?? 0 },
    }));
    const due = dueEntries(records, nowMillis, limit) as typeof records;
    if (due.length === 0) return [];
    const until = nowMillis + leaseMillis;
    const won = await this.append(
      due.map((d) => ({
        id: d.id,
        seq: (d.status?.seq ?? 0) + 1,
        kind: 'claim' as const,
        owner,
        leaseUntilMillis: until,
        attempts: d.entry.attempts,
        notBeforeMillis: d.entry.notBeforeMillis,
        reason: d.status?.reason ?? '',
        atMillis: nowMillis,
      })),
    );
    const bodies = await this.bodies(due.filter((d) => won.has(d.id)));
    const out: ClaimedEntry[] = [];
    for (const d of due) {
      const body = bodies.get(d.id);
      if (!won.has(d.id) || body === undefined) continue;
      const createdAtMillis = Math.max(body.createdAtMillis, d.status?.ageFromMillis ?? 0);
      const entry: OutboxEntry = { ...body, createdAtMillis, attempts: d.entry.attempts, notBeforeMillis: d.entry.notBeforeMillis };
      if (d.status?.reason) entry.lastError = d.status.reason;
      out.push({ id: d.id, entry, token: (d.status?.seq ?? 0) + 1, leaseUntilMillis: until });
    }
    return out;
  }

  async settle(claimed: ClaimedEntry, outcome: Settlement, nowMillis: number): Promise<boolean> {
    const e = claimed.entry;
    const base = { id: claimed.id, seq: claimed.token + 1, owner: '', leaseUntilMillis: 0, atMillis: nowMillis };
    const event =
      outcome.kind === 'delivered'
        ? { ...base, kind: 'delivered' as const, attempts: e.attempts + 1, notBeforeMillis: 0, reason: '' }
        : outcome.kind === 'release'
          ? { ...base, kind: 'release' as const, attempts: e.attempts, notBeforeMillis: e.notBeforeMillis, reason: e.lastError ?? '' }
          : outcome.kind === 'retry'
            ? { ...base, kind: 'retry' as const, attempts: outcome.attempts, notBeforeMillis: outcome.notBeforeMillis, reason: outcome.lastError }
            : { ...base, kind: 'dead' as const, attempts: outcome.attempts, notBeforeMillis: 0, reason: outcome.reason };
    return (await this.append([event])).has(claimed.id);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const [entries, statuses] = await Promise.all([this.committed(), this.statuses()]);
    const dead = entries.filter((e) => statuses.get(e.id)?.status.kind === 'dead');
    const bodies = await this.bodies(dead);
    const out: DeadLetter[] = [];
    for (const d of dead) {
      const s = statuses.get(d.id)?.status;
      const body = bodies.get(d.id);
      if (!s || !body) continue;
      out.push({ id: d.id, entry: { ...body, attempts: s.attempts, lastError: s.reason }, reason: s.reason, deadAtMillis: s.atMillis });
    }
    return out;
  }

  async requeue(ids: readonly string[] | 'all', nowMillis: number): Promise<number> {
    const dead = (await this.deadLetters()).filter((d) => ids === 'all' || ids.includes(d.id));
    const statuses = await this.statuses(dead.map((d) => d.id));
    const won = await this.append(
      dead.map((d) => ({
        id: d.id,
        seq: (statuses.get(d.id)?.status.seq ?? 0) + 1,
        kind: 'requeue' as const,
        owner: '',
        leaseUntilMillis: 0,
        attempts: 0,
        notBeforeMillis: 0,
        reason: '',
        atMillis: nowMillis,
      })),
    );
    return won.size;
  }
}

/** State and outbox in a ClickHouse database (tables created on first use). */
export class ClickHouseAlertBackend implements AlertBackend {
  readonly state: ClickHouseAlertState;
  readonly monitorState: ClickHouseMonitorState;
  readonly outbox: ClickHouseOutbox;
  readonly location: string;
  private readonly c: Connection;

  constructor(options: ClickHouseAlertBackendOptions) {
    this.c = new Connection(options);
    this.outbox = new ClickHouseOutbox(this.c, {
      ...(options.maxOutboxEntries !== undefined ? { maxEntries: options.maxOutboxEntries } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.state = new ClickHouseAlertState(this.c, this.outbox);
    this.monitorState = new ClickHouseMonitorState(this.c, this.outbox);
    this.location = `clickhouse:${this.c.where}`;
  }

  /** Creates the tables now (they are also created on first use). */
  migrate(): Promise<void> {
    return this.c.migrate();
  }

  close(): Promise<void> {
    return this.c.close();
  }
}
