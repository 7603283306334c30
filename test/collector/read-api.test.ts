import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreSink, startCollector } from '../../collector/index.js';
import type { RunningCollector } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { RemoteStore } from '../../store/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };

let store: DuckDbStore;
let collector: RunningCollector;

beforeEach(async () => {
  store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  collector = await startCollector({ sink: new StoreSink(store), port: 0, readStore: store, readLimits: { maxWindows: 100, windowsPerChunk: 4, maxBodyBytes: 4096 } });
  await store.insertSpans(runSpans({ job: 'read-job', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] }));
});

afterEach(async () => {
  await collector.close();
});

interface Answer {
  status: number;
  type: string;
  body: string;
}

function call(body: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: collector.port, path: '/api/v1/store', method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const query = (method: string, args: unknown[]): string => JSON.stringify({ method, args });

describe('read API: safe for a loopback listener', () => {
  it('answers a good query', async () => {
    const a = await call(query('jobAggregates', [RANGE]));
    expect(a.status).toBe(200);
    expect((JSON.parse(a.body) as { result: { job: string }[] }).result.map((r) => r.job)).toEqual(['read-job']);
  });

  const bad: { name: string; body: string; headers?: Record<string, string>; status: number; message: RegExp }[] = [
    { name: 'a foreign Host (DNS rebinding)', body: query('jobNames', [RANGE]), headers: { host: 'attacker.example:4318' }, status: 403, message: /Host "attacker\.example:4318"/ },
    { name: 'a cross-origin request', body: query('jobNames', [RANGE]), headers: { origin: 'http://attacker.example' }, status: 403, message: /cross-origin/ },
    { name: 'a form post', body: 'method=jobNames', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, message: /application\/json/ },
    { name: 'invalid JSON', body: '{"method": ', status: 400, message: /body is not JSON/ },
    { name: 'an unknown method', body: query('dropBefore', [0]), status: 400, message: /expected \{"method": one of/ },
    { name: 'the wrong number of arguments', body: query('jobNames', []), status: 400, message: /jobNames takes 1 argument/ },
    { name: 'a range backwards', body: query('jobNames', [{ fromMillis: 10, toMillis: 5 }]), status: 400, message: /args\[0\]: toMillis is before fromMillis/ },
    { name: 'a range of strings', body: query('jobAggregates', [{ fromMillis: 'x', toMillis: 5 }]), status: 400, message: /args\[0\]\.fromMillis: expected Unix milliseconds/ },
    { name: 'a range past the limit', body: query('jobNames', [{ fromMillis: 0, toMillis: 400 * 86_400_000 }]), status: 400, message: /exceeds the limit/ },
    {
      name: 'too many windows',
      body: query('windowCountsMany', [Array.from({ length: 30 }, () => ({ jobs: '*', criterion: { kind: 'success' }, endMillis: T0, windowsMillis: [1, 2, 3, 4] }))]),
      status: 400,
      message: /120 windows in one call exceed the limit of 100/,
    },
    { name: 'a bad criterion', body: query('windowCounts', [{ jobs: '*', criterion: { kind: 'nope' }, endMillis: T0, windowsMillis: [1] }]), status: 400, message: /criterion/ },
    { name: 'a list limit past the row bound', body: query('listRuns', [{ ...RANGE, jobs: '*', limit: 1e9 }]), status: 400, message: /limit: expected an integer in 1\.\.10000/ },
    { name: 'too many buckets', body: query('timeSeries', [{ ...RANGE, jobs: '*', bucketMillis: 1 }]), status: 400, message: /buckets exceed/ },
    { name: 'onlyJobs that is a string', body: query('timeSeriesByJob', [{ ...RANGE, jobs: '*', bucketMillis: 60_000, onlyJobs: 'a' }]), status: 400, message: /args\[0\]\.onlyJobs: expected an array of at most 10000 job names/ },
    { name: 'onlyJobs with a number', body: query('timeSeries', [{ ...RANGE, jobs: '*', bucketMillis: 60_000, onlyJobs: ['a', 7] }]), status: 400, message: /args\[0\]\.onlyJobs\[1\]: expected a job name/ },
    { name: 'a where that is a string', body: query('jobAggregates', [{ ...RANGE, where: 'env=prod' }]), status: 400, message: /args\[0\]\.where: expected an object of dimension keys to string values/ },
    { name: 'a where that is a list', body: query('listRuns', [{ ...RANGE, jobs: '*', where: ['prod'] }]), status: 400, message: /args\[0\]\.where: expected an object/ },
    { name: 'a where value that is a number', body: query('windowCounts', [{ jobs: '*', criterion: { kind: 'success' }, endMillis: T0, windowsMillis: [1], where: { shard: 3 } }]), status: 400, message: /args\[0\]\.where\["shard"\]: expected a string/ },
    { name: 'a where value that is null', body: query('windowCountsMany', [[{ jobs: '*', criterion: { kind: 'success' }, endMillis: T0, windowsMillis: [1], where: { env: null } }]]), status: 400, message: /args\[0\]\[0\]\.where\["env"\]: expected a string/ },
    { name: 'a where with an empty key', body: query('timeSeries', [{ ...RANGE, jobs: '*', bucketMillis: 60_000, where: { '': 'x' } }]), status: 400, message: /args\[0\]\.where: expected dimension keys of 1 to 1024 characters/ },
    { name: 'a where with too many keys', body: query('runDistributions', [{ ...RANGE, jobs: '*', latencyEdgesMillis: [1], where: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }]), status: 400, message: /65 keys exceed the limit of 64/ },
    { name: 'run start options that are a string', body: query('runStarts', ['*', RANGE, 'any', 'prod']), status: 400, message: /args\[3\]: expected an object of run start options/ },
    { name: 'a run start where value that is a number', body: query('runStarts', ['*', RANGE, 'any', { where: { shard: 3 } }]), status: 400, message: /args\[3\]\.where\["shard"\]: expected a string/ },
    { name: 'an earliestOnly that is not a boolean', body: query('runStarts', ['*', RANGE, 'any', { earliestOnly: 'yes' }]), status: 400, message: /args\[3\]\.earliestOnly: expected true or false/ },
    { name: 'a negative run start coalesce width', body: query('runStarts', ['*', RANGE, 'any', { coalesceMillis: -1 }]), status: 400, message: /args\[3\]\.coalesceMillis: expected a non-negative number/ },
    { name: 'run start queries that are not a list', body: query('runStartsMany', [{ jobs: '*' }]), status: 400, message: /args\[0\]: expected an array of at most \d+ run start queries/ },
    { name: 'a run start query without which', body: query('runStartsMany', [[{ jobs: '*', ...RANGE }]]), status: 400, message: /args\[0\]\[0\]\.which/ },
    { name: 'a run start query with a bad where', body: query('runStartsMany', [[{ jobs: '*', ...RANGE, which: 'any', where: 'prod' }]]), status: 400, message: /args\[0\]\[0\]\.where: expected an object/ },
    { name: 'too many run start arguments', body: query('runStarts', ['*', RANGE, 'any', {}, {}]), status: 400, message: /runStarts takes 3 argument/ },
    { name: 'a groupBy that is a number', body: query('jobAggregates', [{ ...RANGE, groupBy: 7 }]), status: 400, message: /args\[0\]\.groupBy: expected a dimension key/ },
    { name: 'a groupBy that is empty', body: query('jobAggregates', [{ ...RANGE, groupBy: '' }]), status: 400, message: /args\[0\]\.groupBy: expected a dimension key/ },
    { name: 'a groupBy on a method without it', body: query('listRunsByJob', [{ ...RANGE, jobs: '*', limitPerJob: 1, groupBy: 'service.name' }]), status: 400, message: /args\[0\]\.groupBy: only jobAggregates groups by a dimension/ },
    { name: 'a body over the size limit', body: query('jobNames', [{ ...RANGE, pad: 'x'.repeat(5000) }]), status: 413, message: /exceeds the 4096-byte limit/ },
  ];
  for (const c of bad) {
    it(`${c.name} -> ${c.status}, as JSON without stack or paths`, async () => {
      const a = await call(c.body, c.headers);
      expect(a.status).toBe(c.status);
      expect(a.type).toBe('application/json');
      const parsed = JSON.parse(a.body) as { code: number; message: string };
      expect(parsed.code).toBe(c.status);
      expect(parsed.message).toMatch(c.message);
      expect(a.body).not.toMatch(/<html|at .*\.(ts|js):\d+|\/work\/|node_modules/i);
    });
  }

  it('answers queries with a valid where and groupBy like the store', async () => {
    const where = { 'deployment.environment.name': 'prod' };
    const agg = await call(query('jobAggregates', [{ ...RANGE, where, groupBy: 'service.name' }]));
    expect(agg.status).toBe(200);
    expect((JSON.parse(agg.body) as { result: unknown }).result).toEqual(await store.jobAggregates({ ...RANGE, where, groupBy: 'service.name' }));
    const all = await call(query('jobAggregates', [{ ...RANGE, groupBy: 'service.name' }]));
    expect((JSON.parse(all.body) as { result: unknown[] }).result).toHaveLength(1);
    const w = { jobs: '*', criterion: { kind: 'success' as const }, endMillis: T0 + 60_000, windowsMillis: [3_600_000] };
    const counts = await call(query('windowCounts', [{ ...w, where: { 'deployment.environment.name': '' } }]));
    expect(counts.status).toBe(200);
    expect((JSON.parse(counts.body) as { result: unknown }).result).toEqual([{ windowMillis: 3_600_000, good: 1, total: 1 }]);
    const none = await call(query('windowCounts', [{ ...w, where }]));
    expect((JSON.parse(none.body) as { result: unknown }).result).toEqual([{ windowMillis: 3_600_000, good: 0, total: 0 }]);
  });

  it('splits windowCountsMany into chunks and joins them back equal to one store call', async () => {
    const queries = [
      { jobs: '*', criterion: { kind: 'success' }, endMillis: T0 + 60_000, windowsMillis: [60_000, 120_000, 3_600_000, 7_200_000, 86_400_000, 10] },
      { jobs: 'read-*', criterion: { kind: 'latency', thresholdMillis: 1 }, endMillis: T0 + 60_000, windowsMillis: [3_600_000] },
      { jobs: 'none', criterion: { kind: 'success' }, endMillis: T0, windowsMillis: [] },
    ] as const;
    const a = await call(query('windowCountsMany', [queries]));
    expect(a.status).toBe(200);
    expect((JSON.parse(a.body) as { result: unknown }).result).toEqual(await store.windowCountsMany(queries));
    const one = await call(query('windowCounts', [queries[0]]));
    expect((JSON.parse(one.body) as { result: unknown }).result).toEqual(await store.windowCounts(queries[0]));
  });

  it('RemoteStore reads through it', async () => {
    const remote = new RemoteStore(collector.url, 'test.duckdb');
    expect(await remote.jobNames(RANGE)).toEqual(['read-job']);
  });

  it('ingestion keeps answering while reads are queued, and a full read queue answers 503', async () => {
    const many = Array.from({ length: 25 }, () => ({ jobs: '*', criterion: { kind: 'success' }, endMillis: T0, windowsMillis: [1, 2, 3, 4] }));
    const reads = Array.from({ length: 40 }, () => call(query('windowCountsMany', [many])));
    const write = await fetch(`${collector.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from(encodeTraceRequestProto(runSpans({ job: 'during-reads', startMillis: T0, outcome: 'succeeded', attempts: [] }))),
    });
    expect(write.status).toBe(200);
    const statuses = (await Promise.all(reads)).map((r) => r.status);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(await store.jobNames(RANGE)).toContain('during-reads');
  });
});

describe('read API: a running read is stopped when its client leaves or its time runs out, and writes go on', () => {
  /** Never finishes on its own (10^13 rows): only an interrupt ends it. */
  const SLOW = 'SELECT count(*) AS n FROM range(10000000000000) t(i) WHERE i % 7 = 3';
  let slowCollector: RunningCollector;
  let started = 0;
  let finished: { ok: boolean; error: string }[] = [];

  const startSlow = async (maxReadMillis?: number): Promise<void> => {
    // The store's own reads, with jobNames replaced by a real DuckDB query that runs until interrupted.
    const reader = Object.assign(Object.create(store) as DuckDbStore, {
      jobNames: async () => {
        started++;
        try {
          const rows = await store.query(SLOW);
          finished.push({ ok: true, error: '' });
          return rows;
        } catch (err) {
          finished.push({ ok: false, error: (err as Error).message });
          throw err;
        }
      },
    });
    slowCollector = await startCollector({ sink: new StoreSink(store), port: 0, readStore: reader, ...(maxReadMillis ? { readLimits: { maxReadMillis } } : {}) });
  };
  const writeRun = (job: string): Promise<Response> =>
    fetch(`${slowCollector.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from(encodeTraceRequestProto(runSpans({ job, startMillis: T0, outcome: 'succeeded', attempts: [] }))),
    });
  const until = async (what: string, check: () => boolean): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeEach(() => {
    started = 0;
    finished = [];
  });
  afterEach(async () => {
    await slowCollector.close();
  });

  it('interrupts the running DuckDB query when the client disconnects; the write queued behind it is stored', async () => {
    await startSlow();
    const client = new AbortController();
    const read = fetch(`${slowCollector.url}/api/v1/store`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: query('jobNames', [RANGE]),
      signal: client.signal,
    }).catch((err: unknown) => err);
    await until('the slow query to run', () => started === 1);
    // A write now waits behind the read on the store's one connection.
    const write = writeRun('after-disconnect');
    client.abort();
    await read;
    expect((await write).status).toBe(200);
    expect(finished).toEqual([{ ok: false, error: expect.stringMatching(/interrupt/i) as unknown }]);
    expect(await store.jobNames(RANGE)).toContain('after-disconnect');
  }, 60_000);

  it('interrupts a read past maxReadMillis and answers 503; the write queued behind it is stored', async () => {
    await startSlow(300);
    const read = fetch(`${slowCollector.url}/api/v1/store`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: query('jobNames', [RANGE]) });
    await until('the slow query to run', () => started === 1);
    const write = writeRun('after-budget');
    const answer = await read;
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { message: string }).message).toMatch(/time budget of 300 ms/);
    expect((await write).status).toBe(200);
    expect(await store.jobNames(RANGE)).toContain('after-budget');
    // The connection is usable again: a normal read answers.
    expect((await call(query('jobAggregates', [RANGE]))).status).toBe(200);
  }, 60_000);
});
