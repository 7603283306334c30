/**
 * `POST /api/v1/store`: the read API other jobslo processes on this machine
 * use to query a DuckDB file the collector holds. Served only on loopback
 * listeners, and guarded for that setting:
 *
 * - `Host` must name this listener by a loopback name (DNS rebinding), and an
 *   `Origin`, when sent, must be that same origin (a web page cannot call it);
 * - `Content-Type: application/json`, body at most `maxBodyBytes`, read
 *   before parsing; every argument checked, 400 naming the bad one;
 * - work bounded: windows, queries, rows, buckets, histogram edges and
 *   selector length per call;
 * - reads run one at a time through their own bounded queue (503 +
 *   Retry-After when it is full), and `windowCountsMany` in chunks of
 *   {@link ReadApiLimits.windowsPerChunk} windows, so a write waits behind at
 *   most one chunk or one single query; a read whose client has gone is
 *   dropped from the queue and stops between chunks;
 * - every answer is JSON (`{result}` or `{code, message}`), store failures
 *   without paths or stack traces (those go to the log).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage, noopLogger } from '../contracts/index.js';
import type { Logger } from '../contracts/index.js';
import { REMOTE_READ_METHODS } from '../store/index.js';
import type { RemoteReadMethod, RunReader, WindowCount, WindowCountsQuery } from '../store/index.js';

/**
 * What the read API needs of a store: its read queries and, to stop a query
 * whose client left or whose time ran out, `withSignal` (DuckDB has it: the
 * running query is interrupted).
 */
export type ReadStore = Pick<RunReader, RemoteReadMethod> & {
  withSignal?<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T>;
};

const DAY_MILLIS = 86_400_000;
/** Dimension keys one `where` may name (runs carry at most 64 dimensions). */
const MAX_WHERE_KEYS = 64;

/** Bounds of the read API; each is documented in docs/collector.md. */
export interface ReadApiLimits {
  /** Largest request body, bytes. @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /** Reads waiting for the store at once; more get 503. @default 16 */
  maxQueuedReads?: number;
  /** Longest time range or window of a query, ms (run starts asked for the earliest only excepted). @default 31_622_400_000 (366 days) */
  maxRangeMillis?: number;
  /** Windows in one call, all queries of `windowCountsMany` together. @default 10_000 */
  maxWindows?: number;
  /** Windows per store query when `windowCountsMany` is split. @default 64 */
  windowsPerChunk?: number;
  /** Runs one list may return (`limit`, `limitPerJob`), and job names a time series may name (`onlyJobs`). @default 10_000 */
  maxRows?: number;
  /** Buckets of one time series. @default 10_000 */
  maxBuckets?: number;
  /** Latency histogram edges. @default 1_000 */
  maxEdges?: number;
  /** Length of a job selector. @default 1_024 */
  maxSelectorLength?: number;
  /**
   * Time budget of one read once it runs, ms: a read still running after it
   * is interrupted (503), so a write waits behind a read at most this long.
   * @default 10_000
   */
  maxReadMillis?: number;
  logger?: Logger;
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The read API over one store; see the module comment. */
export class ReadApi {
  private readonly limits: Required<Omit<ReadApiLimits, 'logger'>>;
  private readonly logger: Logger;
  private queued = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ReadStore,
    limits: ReadApiLimits = {},
  ) {
    this.limits = {
      maxBodyBytes: limits.maxBodyBytes ?? 1024 * 1024,
      maxQueuedReads: limits.maxQueuedReads ?? 16,
      maxRangeMillis: limits.maxRangeMillis ?? 366 * DAY_MILLIS,
      maxWindows: limits.maxWindows ?? 10_000,
      windowsPerChunk: limits.windowsPerChunk ?? 64,
      maxRows: limits.maxRows ?? 10_000,
      maxBuckets: limits.maxBuckets ?? 10_000,
      maxEdges: limits.maxEdges ?? 1_000,
      maxSelectorLength: limits.maxSelectorLength ?? 1_024,
      maxReadMillis: limits.maxReadMillis ?? 10_000,
    };
    this.logger = limits.logger ?? noopLogger;
  }

  async handle(req: IncomingMessage, res: ServerResponse, address: AddressInfo): Promise<void> {
    let gone = false;
    // Aborted when the client leaves or the read's time budget runs out: the running query is interrupted.
    const stop = new AbortController();
    res.on('close', () => {
      gone = !res.writableFinished;
      if (gone) stop.abort(new Error('the client went away'));
    });
    try {
      this.checkOrigin(req, address);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') throw new BadRequest(415, 'send Content-Type: application/json');
      const body = await this.readJson(req);
      const { method, args } = isObject(body) ? body : {};
      if (typeof method !== 'string' || !(REMOTE_READ_METHODS as readonly string[]).includes(method) || !Array.isArray(args)) {
        throw new BadRequest(400, `expected {"method": one of ${REMOTE_READ_METHODS.join(', ')}, "args": [...]}`);
      }
      this.checkArgs(method as RemoteReadMethod, args);
      if (typeof this.store[method as RemoteReadMethod] !== 'function') throw new BadRequest(400, `${method} is not available on this store`);
      if (this.queued >= this.limits.maxQueuedReads) {
        reply(res, 503, { code: 503, message: `read queue full (${this.queued} reads waiting); try again` }, { 'retry-after': '1' });
        return;
      }
      const result = await this.run(method as RemoteReadMethod, args, () => gone, stop);
      if (result === ABANDONED || gone) {
        this.logger.debug('read abandoned: the client went away', { method });
        return;
      }
      if (result === OVER_BUDGET) {
        this.logger.warn('read interrupted: over its time budget', { method, maxReadMillis: this.limits.maxReadMillis });
        reply(res, 503, { code: 503, message: `the read ran past its time budget of ${this.limits.maxReadMillis} ms and was stopped; ask for a shorter range or fewer windows` });
        return;
      }
      reply(res, 200, { result });
    } catch (err) {
      if (err instanceof BadRequest) {
        if (!req.readableEnded) req.resume();
        reply(res, err.status, { code: err.status, message: err.message });
        return;
      }
      if (gone) {
        this.logger.debug('read stopped: the client went away', { error: errorMessage(err) });
        return;
      }
      this.logger.warn('read API query failed', { error: errorMessage(err) });
      reply(res, 500, { code: 500, message: 'the store query failed; see the collector log' });
    }
  }

  /** Host must name this listener by a loopback name; an Origin, when sent, must be the same origin. */
  private checkOrigin(req: IncomingMessage, address: AddressInfo): void {
    const port = address.port;
    const allowed = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
    if (address.family === 'IPv4' && address.address.startsWith('127.')) allowed.add(`${address.address}:${port}`);
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowed.has(host)) throw new BadRequest(403, `Host "${host.slice(0, 100)}" is not this collector's loopback address`);
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) throw new BadRequest(403, 'cross-origin requests are not accepted');
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.limits.maxBodyBytes;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw new BadRequest(413, `request body of ${declared} bytes exceeds the ${limit}-byte limit`);
    if (req.headers['content-encoding'] !== undefined && req.headers['content-encoding'] !== 'identity') throw new BadRequest(415, 'send the body uncompressed');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new BadRequest(413, `request body exceeds the ${limit}-byte limit`);
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks, size).toString('utf8')) as unknown;
    } catch (err) {
      throw new BadRequest(400, `body is not JSON: ${errorMessage(err)}`);
    }
  }

  /**
   * Runs after every earlier read; skipped when the client has gone by then.
   * Once running it has `maxReadMillis`: then `stop` aborts, which
   * interrupts the store's running query (when the store can) and gives
   * {@link OVER_BUDGET}.
   */
  private run(method: RemoteReadMethod, args: unknown[], gone: () => boolean, stop: AbortController): Promise<unknown> {
    this.queued++;
    const job = this.tail.then(async () => {
      this.queued--;
      if (gone()) return ABANDONED;
      let overBudget = false;
      const timer = setTimeout(() => {
        overBudget = true;
        stop.abort(new Error('over the time budget'));
      }, this.limits.maxReadMillis);
      const stopped = (): boolean => gone() || overBudget;
      const read = async (): Promise<unknown> => {
        if (method === 'windowCountsMany') return this.windowCountsMany(args[0] as WindowCountsQuery[], stopped);
        if (method === 'windowCounts') {
          const many = await this.windowCountsMany([args[0] as WindowCountsQuery], stopped);
          return many === ABANDONED ? many : (many as WindowCount[][])[0];
        }
        const fn = this.store[method] as (...a: unknown[]) => Promise<unknown>;
        return fn.apply(this.store, args);
      };
      try {
        const result = await (this.store.withSignal ? this.store.withSignal(stop.signal, read) : read());
        return overBudget ? OVER_BUDGET : result;
      } catch (err) {
        if (overBudget) return OVER_BUDGET;
        throw err;
      } finally {
        clearTimeout(timer);
      }
    });
    this.tail = job.catch(() => undefined);
    return job;
  }

  /**
   * One store query per chunk of at most `windowsPerChunk` windows (a query
   * with more windows is split and its counts joined again), so writes get
   * the store between chunks.
   */
  private async windowCountsMany(queries: readonly WindowCountsQuery[], gone: () => boolean): Promise<unknown> {
    const per = this.limits.windowsPerChunk;
    const out: WindowCount[][] = queries.map(() => []);
    let chunk: WindowCountsQuery[] = [];
    let owners: number[] = [];
    let windows = 0;
    const flush = async (): Promise<void> => {
      const counts = await this.store.windowCountsMany(chunk);
      counts.forEach((c, i) => (out[owners[i] as number] as WindowCount[]).push(...c));
      chunk = [];
      owners = [];
      windows = 0;
    };
    for (let qi = 0; qi < queries.length; qi++) {
      const q = queries[qi] as WindowCountsQuery;
      const parts: (readonly number[])[] = q.windowsMillis.length === 0 ? [[]] : [];
      for (let i = 0; i < q.windowsMillis.length; i += per) parts.push(q.windowsMillis.slice(i, i + per));
      for (const part of parts) {
        if (windows > 0 && windows + part.length > per) {
          await flush();
          if (gone()) return ABANDONED;
        }
        chunk.push({ ...q, windowsMillis: part });
        owners.push(qi);
        windows += part.length;
      }
    }
    if (chunk.length > 0) await flush();
    return out;
  }

  private checkArgs(method: RemoteReadMethod, args: unknown[]): void {
    const arity: Record<RemoteReadMethod, number> = {
      jobAggregates: 1,
      windowCounts: 1,
      windowCountsMany: 1,
      timeSeries: 1,
      listRuns: 1,
      runStarts: 3,
      runStartsMany: 1,
      jobNames: 1,
      queueDepths: 1,
      timeSeriesByJob: 1,
      listRunsByJob: 1,
      runDistributions: 1,
      openRuns: 2,
      unformedSpans: 1,
    };
    // runStarts takes its options as an optional fourth argument.
    const optional = method === 'runStarts' && args.length === arity[method] + 1;
    if (args.length !== arity[method] && !optional) throw new BadRequest(400, `${method} takes ${arity[method]} argument(s), got ${args.length}`);
    const [a0, a1, a2, a3] = args;
    switch (method) {
      case 'jobAggregates': {
        const q = this.range(a0, 'args[0]');
        this.dimensions(q, 'args[0]', true);
        return;
      }
      case 'jobNames':
      case 'queueDepths':
      case 'unformedSpans':
        this.range(a0, 'args[0]');
        return;
      case 'windowCounts':
        this.windowQuery(a0, 'args[0]');
        return;
      case 'windowCountsMany': {
        if (!Array.isArray(a0)) throw new BadRequest(400, 'args[0]: expected an array of window queries');
        let total = 0;
        a0.forEach((q, i) => (total += this.windowQuery(q, `args[0][${i}]`)));
        if (total > this.limits.maxWindows) throw new BadRequest(400, `args[0]: ${total} windows in one call exceed the limit of ${this.limits.maxWindows}`);
        return;
      }
      case 'timeSeries':
      case 'timeSeriesByJob': {
        const q = this.range(a0, 'args[0]');
        this.selector(q['jobs'], 'args[0].jobs');
        const bucket = this.positive(q['bucketMillis'], 'args[0].bucketMillis');
        const buckets = Math.ceil(((q['toMillis'] as number) - (q['fromMillis'] as number)) / bucket);
        if (buckets > this.limits.maxBuckets) throw new BadRequest(400, `args[0]: ${buckets} buckets exceed the limit of ${this.limits.maxBuckets}`);
        if (q['criterion'] !== undefined) this.criterion(q['criterion'], 'args[0].criterion');
        const only = q['onlyJobs'];
        if (only !== undefined) {
          if (!Array.isArray(only) || only.length > this.limits.maxRows) throw new BadRequest(400, `args[0].onlyJobs: expected an array of at most ${this.limits.maxRows} job names`);
          only.forEach((j, i) => this.selector(j, `args[0].onlyJobs[${i}]`));
        }
        this.dimensions(q, 'args[0]', false);
        return;
      }
      case 'listRuns':
      case 'listRunsByJob': {
        const q = this.range(a0, 'args[0]');
        this.selector(q['jobs'], 'args[0].jobs');
        this.oneOf(q['filter'], ['all', 'failed'], 'args[0].filter', true);
        this.oneOf(q['order'], ['latest', 'slowest'], 'args[0].order', true);
        this.dimensions(q, 'args[0]', false);
        const key = method === 'listRuns' ? 'limit' : 'limitPerJob';
        const n = q[key];
        if ((n !== undefined || key === 'limitPerJob') && !(Number.isInteger(n) && (n as number) >= 1 && (n as number) <= this.limits.maxRows)) {
          throw new BadRequest(400, `args[0].${key}: expected an integer in 1..${this.limits.maxRows}`);
        }
        return;
      }
      case 'openRuns':
        this.selector(a0, 'args[0]');
        this.range(a1, 'args[1]');
        return;
      case 'runStarts':
        this.selector(a0, 'args[0]');
        // The earliest start only (a freshness SLO's first run seen) covers the whole history: one value back.
        this.range(a1, 'args[1]', optional && isObject(a3) && a3['earliestOnly'] === true);
        this.oneOf(a2, ['succeeded', 'any'], 'args[2]', false);
        if (optional) {
          if (!isObject(a3)) throw new BadRequest(400, 'args[3]: expected an object of run start options');
          this.startsOptions(a3, 'args[3]');
        }
        return;
      case 'runStartsMany':
        if (!Array.isArray(a0) || a0.length > this.limits.maxWindows) throw new BadRequest(400, `args[0]: expected an array of at most ${this.limits.maxWindows} run start queries`);
        a0.forEach((q, i) => {
          const path = `args[0][${i}]`;
          const o = this.range(q, path, isObject(q) && q['earliestOnly'] === true);
          this.selector(o['jobs'], `${path}.jobs`);
          this.oneOf(o['which'], ['succeeded', 'any'], `${path}.which`, false);
          this.startsOptions(o, path);
        });
        return;
      case 'runDistributions': {
        const q = this.range(a0, 'args[0]');
        this.selector(q['jobs'], 'args[0].jobs');
        this.dimensions(q, 'args[0]', false);
        const edges = q['latencyEdgesMillis'];
        if (!Array.isArray(edges) || edges.length > this.limits.maxEdges) throw new BadRequest(400, `args[0].latencyEdgesMillis: expected an array of at most ${this.limits.maxEdges} numbers`);
        edges.forEach((e, i) => {
          if (typeof e !== 'number' || !Number.isFinite(e) || e < 0 || (i > 0 && e <= (edges[i - 1] as number))) {
            throw new BadRequest(400, `args[0].latencyEdgesMillis[${i}]: expected ascending non-negative finite numbers`);
          }
        });
        return;
      }
    }
  }

  /** `coalesceMillis`, `earliestOnly` and `where` of a run starts query. */
  private startsOptions(o: Json, path: string): void {
    const c = o['coalesceMillis'];
    if (c !== undefined && !(typeof c === 'number' && Number.isFinite(c) && c >= 0)) throw new BadRequest(400, `${path}.coalesceMillis: expected a non-negative number of ms`);
    const e = o['earliestOnly'];
    if (e !== undefined && typeof e !== 'boolean') throw new BadRequest(400, `${path}.earliestOnly: expected true or false`);
    this.dimensions(o, path, false);
  }

  /** A time range; `unbounded` lifts the length limit (for a query that answers one value). */
  private range(v: unknown, path: string, unbounded = false): Json {
    if (!isObject(v)) throw new BadRequest(400, `${path}: expected an object with fromMillis and toMillis`);
    const from = this.time(v['fromMillis'], `${path}.fromMillis`);
    const to = this.time(v['toMillis'], `${path}.toMillis`);
    if (to < from) throw new BadRequest(400, `${path}: toMillis is before fromMillis`);
    if (!unbounded && to - from > this.limits.maxRangeMillis) throw new BadRequest(400, `${path}: the range exceeds the limit of ${this.limits.maxRangeMillis} ms`);
    return v;
  }

  /** Returns the number of windows. */
  private windowQuery(v: unknown, path: string): number {
    if (!isObject(v)) throw new BadRequest(400, `${path}: expected a window query object`);
    this.selector(v['jobs'], `${path}.jobs`);
    this.criterion(v['criterion'], `${path}.criterion`);
    this.time(v['endMillis'], `${path}.endMillis`);
    this.dimensions(v, path, false);
    const windows = v['windowsMillis'];
    if (!Array.isArray(windows) || windows.length > this.limits.maxWindows) throw new BadRequest(400, `${path}.windowsMillis: expected an array of at most ${this.limits.maxWindows} window lengths`);
    windows.forEach((w, i) => {
      const n = this.positive(w, `${path}.windowsMillis[${i}]`);
      if (n > this.limits.maxRangeMillis) throw new BadRequest(400, `${path}.windowsMillis[${i}]: exceeds the limit of ${this.limits.maxRangeMillis} ms`);
    });
    return windows.length;
  }

  private criterion(v: unknown, path: string): void {
    if (isObject(v) && v['kind'] === 'success') return;
    if (isObject(v) && v['kind'] === 'latency' && typeof v['thresholdMillis'] === 'number' && Number.isFinite(v['thresholdMillis']) && v['thresholdMillis'] >= 0) return;
    throw new BadRequest(400, `${path}: expected {"kind": "success"} or {"kind": "latency", "thresholdMillis": n}`);
  }

  /**
   * `where` (optional): an object of at most {@link MAX_WHERE_KEYS} dimension
   * keys to string values; `groupBy` (optional, only where the method takes
   * it): a non-empty dimension key. Keys and values are bounded like selectors.
   */
  private dimensions(q: Json, path: string, groupBy: boolean): void {
    const max = this.limits.maxSelectorLength;
    const where = q['where'];
    if (where !== undefined) {
      if (!isObject(where)) throw new BadRequest(400, `${path}.where: expected an object of dimension keys to string values`);
      const entries = Object.entries(where);
      if (entries.length > MAX_WHERE_KEYS) throw new BadRequest(400, `${path}.where: ${entries.length} keys exceed the limit of ${MAX_WHERE_KEYS}`);
      for (const [k, v] of entries) {
        if (k === '' || k.length > max) throw new BadRequest(400, `${path}.where: expected dimension keys of 1 to ${max} characters`);
        if (typeof v !== 'string' || v.length > max) throw new BadRequest(400, `${path}.where[${JSON.stringify(k.slice(0, 64))}]: expected a string of at most ${max} characters`);
      }
    }
    const g = q['groupBy'];
    if (g === undefined) return;
    if (!groupBy) throw new BadRequest(400, `${path}.groupBy: only jobAggregates groups by a dimension`);
    if (typeof g !== 'string' || g === '' || g.length > max) throw new BadRequest(400, `${path}.groupBy: expected a dimension key of 1 to ${max} characters`);
  }

  private selector(v: unknown, path: string): void {
    if (typeof v !== 'string' || v.length > this.limits.maxSelectorLength) throw new BadRequest(400, `${path}: expected a job name or glob of at most ${this.limits.maxSelectorLength} characters`);
  }

  private time(v: unknown, path: string): number {
    // Unix ms between 1970 and 2262 (the nanosecond Int64 range the stores query in).
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 9_223_372_036_854) throw new BadRequest(400, `${path}: expected Unix milliseconds`);
    return v;
  }

  private positive(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new BadRequest(400, `${path}: expected a positive number of milliseconds`);
    return v;
  }

  private oneOf(v: unknown, allowed: readonly string[], path: string, optional: boolean): void {
    if (v === undefined && optional) return;
    if (typeof v !== 'string' || !allowed.includes(v)) throw new BadRequest(400, `${path}: expected one of ${allowed.join(', ')}`);
  }
}

const ABANDONED = Symbol('abandoned');
const OVER_BUDGET = Symbol('over budget');
