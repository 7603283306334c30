/**
 * The scale-out path with the real CLI and real services: OTLP/HTTP protobuf
 * into `jobslo collector --bus kafka`, `jobslo ingest` into ClickHouse, and
 * `jobslo analyze` on ClickHouse equal to the embedded DuckDB path for the
 * same requests; then the same with the ingest killed (SIGKILL) mid-stream,
 * whose rolled-up numbers must equal those of a clean load.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../analyzer/index.js';
import { StoreSink, startCollector } from '../../collector/index.js';
import { ATTR_JOB_NAME } from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import type { WindowCountsQuery } from '../../store/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { clickhouseExec, clickhouseUrl, kafkaBrokers, probeClickHouse, probeKafka, requireService } from '../support/services.js';
import { freePort } from '../support/kafka-broker.js';
import { span } from '../support/native-spans.js';
import { partialSuccess } from '../support/otlp-response.js';
import { FIXTURE_T0, comparisonFixture } from './_fixture.js';
import { buildCli, cleanupKafka, committedOffsets, postSpans, requests, runCli, spawnCli, topicMessageCount, unique, uniqueDatabase, waitFor } from './_util.js';
import type { CliProcess } from './_util.js';

const SUITE = 'scale-out pipeline with the real CLI (test/integration/pipeline.test.ts)';
const up = (await requireService('ClickHouse', () => probeClickHouse(), SUITE)) && (await requireService('Kafka', () => probeKafka(), SUITE));

const RANGE = { fromMillis: FIXTURE_T0, toMillis: FIXTURE_T0 + 24 * 3_600_000 };
const UNTIL = new Date(RANGE.toMillis).toISOString();

/** SLO window counts over the fixture's day: every job and a glob, success and two latency thresholds, windows ending on and off hour edges. */
const WINDOW_QUERIES: WindowCountsQuery[] = ['*', 'billing', 'etl-*', "quote'job"].flatMap((jobs) =>
  [{ kind: 'success' } as const, { kind: 'latency', thresholdMillis: 1_000 } as const, { kind: 'latency', thresholdMillis: 4_000 } as const].flatMap((criterion) =>
    [RANGE.toMillis, RANGE.toMillis - 5 * 3_600_000 - 17 * 60_000 - 3_001].map((endMillis) => ({ jobs, criterion, endMillis, windowsMillis: [5 * 60_000, 3_600_000, 6 * 3_600_000, 86_400_000] })),
  ),
);

/** What the embedded path computes for these requests: HTTP into a collector writing DuckDB in-process. */
async function duckDbPath(reqs: SpanRecord[][]): Promise<{ analysis: unknown; printed: unknown; counts: unknown }> {
  const store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  const collector = await startCollector({ sink: new StoreSink(store), port: 0 });
  try {
    for (const r of reqs) expect((await postSpans(collector.url, r)).status).toBe(200);
    // As `jobslo analyze --format json` prints it: the analysis and the unformed spans of the window.
    const unformed = await store.unformedSpans(RANGE);
    const analysis = await analyze(store, RANGE);
    const printed = { ...analysis, unformed_spans: { spans: unformed.reduce((n, u) => n + u.spans, 0), by_reason: unformed } };
    return { analysis, printed, counts: await store.windowCountsMany(WINDOW_QUERIES) };
  } finally {
    await collector.close();
  }
}

/**
 * The rolled-up numbers of two stores are equal: window counts (success and
 * latency), freshness run starts and time series, read after every stored run
 * (so from the rollups, not the raw path), for each job and all of them.
 */
async function expectSameRollups(got: ClickHouseStore, want: ClickHouseStore, jobs: readonly string[]): Promise<void> {
  const at = RANGE.toMillis + 6 * 3_600_000;
  const selectors = [...jobs, '*'];
  const queries = selectors.flatMap((j) =>
    [{ kind: 'success' as const }, { kind: 'latency' as const, thresholdMillis: 2_500 }].map((criterion) => ({
      jobs: j,
      criterion,
      endMillis: at,
      windowsMillis: [300_000, 3_600_000, 6 * 3_600_000, 86_400_000, 3 * 86_400_000],
    })),
  );
  const counts = await got.windowCountsMany(queries);
  expect(counts).toEqual(await want.windowCountsMany(queries));
  expect(counts.flat().some((c) => c.total > 0)).toBe(true);
  for (const j of selectors) {
    const range = { fromMillis: RANGE.fromMillis - 3 * 3_600_000, toMillis: at + 1 };
    expect(await got.runStarts(j, range, 'succeeded', { coalesceMillis: 600_000 }), `run starts of ${j}`).toEqual(await want.runStarts(j, range, 'succeeded', { coalesceMillis: 600_000 }));
    const series = { jobs: j, fromMillis: range.fromMillis, toMillis: at, bucketMillis: 3_600_000 };
    expect(await got.timeSeries(series), `time series of ${j}`).toEqual(await want.timeSeries(series));
  }
}

async function distinctSpans(db: string): Promise<number> {
  return Number((await clickhouseExec(`SELECT uniqExact(trace_id, span_id) FROM ${db}.spans FORMAT TSV`)).trim());
}

describe.skipIf(!up)('OTLP -> jobslo collector --bus kafka -> Kafka -> jobslo ingest -> ClickHouse', () => {
  const brokers = kafkaBrokers().join(',');
  const topics: string[] = [];
  const groups: string[] = [];
  const databases: string[] = [];
  const procs: CliProcess[] = [];

  beforeAll(() => {
    buildCli();
  }, 240_000);

  afterEach(async (ctx) => {
    const failed = ctx.task.result?.state === 'fail';
    for (const p of procs.splice(0)) {
      await p.kill('SIGKILL');
      if (failed) console.error(`--- output of a spawned CLI ---\n${p.output().slice(-4_000)}`);
    }
  });

  afterAll(async () => {
    if (!up) return;
    await cleanupKafka(kafkaBrokers(), topics, groups);
    for (const db of databases) await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  const setup = async (): Promise<{ topic: string; group: string; db: string; store: string; collectorUrl: string; collector: CliProcess }> => {
    const topic = unique();
    const group = unique('group');
    const db = uniqueDatabase();
    topics.push(topic, `${topic}-dlq`);
    groups.push(group);
    databases.push(db);
    const port = await freePort();
    const collector = spawnCli(['collector', '--bus', 'kafka', '--brokers', brokers, '--topic', topic, '--port', String(port), '--grpc-port', '0', '--bus-timeout', '10s']);
    procs.push(collector);
    const collectorUrl = `http://127.0.0.1:${port}`;
    await waitFor('collector /health', async () => (await fetch(`${collectorUrl}/health`)).ok, 30_000, 200);
    return { topic, group, db, store: `clickhouse:${clickhouseUrl()}/${db}`, collectorUrl, collector };
  };

  const startIngest = (s: { topic: string; group: string; store: string }, batchMaxWait = '100ms'): CliProcess => {
    const p = spawnCli([
      'ingest',
      '--brokers',
      brokers,
      '--topic',
      s.topic,
      '--group',
      s.group,
      '--store',
      s.store,
      '--dead-letter-topic',
      `${s.topic}-dlq`,
      '--batch-max-spans',
      '300',
      '--batch-max-wait',
      batchMaxWait,
      // A killed member holds its partitions until its session expires.
      '--session-timeout',
      '6s',
    ]);
    procs.push(p);
    return p;
  };

  it(
    'analyze on ClickHouse equals the DuckDB path for the same OTLP requests',
    async () => {
      // Plus spans that look like job telemetry but form no run: stored, told to the sender, counted by analyze.
      const unformed = [
        span({ name: 'nightly', startMillis: FIXTURE_T0 + 3_600_000, durationMillis: 5, attributes: { 'jobslo.job.name': 'nightly', 'jobslo.span.type': 'run' } }),
        span({ name: 'pod', startMillis: FIXTURE_T0 + 7_200_000, resource: { 'k8s.job.name': 'backup' } }),
      ];
      const fixture = comparisonFixture(11, 600);
      const spans = [...fixture, ...unformed];
      const reqs = [...requests(fixture, 60), unformed];
      const s = await setup();
      const migrated = await runCli(['migrate', '--store', s.store]);
      expect(migrated.code, migrated.output).toBe(0);
      expect(migrated.stdout).toBe(`schema up to date: ${s.store}\n`);
      const ingest = startIngest(s);
      const warnings: string[] = [];
      for (const r of reqs) {
        const res = await postSpans(s.collectorUrl, r);
        expect(res.status).toBe(200);
        const partial = partialSuccess(new Uint8Array(await res.arrayBuffer()));
        expect(partial.rejected).toBe(0);
        if (partial.message !== '') warnings.push(partial.message);
      }
      // The Kafka path answers after the broker's ack, with the warning of the request that held them.
      expect(warnings).toEqual([expect.stringMatching(/^2 spans stored but not counted as runs \(1 jobslo spans without jobslo\.run\.id, 1 k8s spans without k8s\.job\.uid\)/)]);
      const want = new Set(spans.map((x) => `${x.traceId}/${x.spanId}`)).size;
      await waitFor('all spans in ClickHouse', async () => (await distinctSpans(s.db)) === want, 60_000, 250);

      const res = await runCli(['analyze', '--store', s.store, '--since', '24h', '--until', UNTIL, '--format', 'json']);
      expect(res.code, res.output).toBe(0);
      const printed = JSON.parse(res.stdout) as { unformed_spans: { spans: number } };
      expect(printed.unformed_spans.spans).toBe(2);
      expect(printed).toEqual((await duckDbPath(reqs)).printed);

      // SIGTERM: the ingest finishes, commits and exits 0.
      expect(await ingest.kill('SIGTERM')).toBe(0);
      expect(await s.collector.kill('SIGTERM')).toBe(0);
    },
    180_000,
  );

  it(
    'loses nothing and changes no SLI when the ingest is killed with SIGKILL mid-stream and restarted',
    async () => {
      const spans = comparisonFixture(12, 900);
      const reqs = requests(spans, 30);
      const s = await setup();
      let ingest = startIngest(s);
      const want = new Set(spans.map((x) => `${x.traceId}/${x.spanId}`)).size;
      let killedAt = -1;
      for (let i = 0; i < reqs.length; i++) {
        expect((await postSpans(s.collectorUrl, reqs[i] as SpanRecord[])).status).toBe(200);
        // The database appears only once the ingest has migrated it: until then nothing is stored.
        if (killedAt < 0 && i > reqs.length / 3 && (await distinctSpans(s.db).catch(() => 0)) > 0) {
          expect(await ingest.kill('SIGKILL')).toBe('SIGKILL');
          killedAt = i;
        }
        if (killedAt >= 0 && i === killedAt + 10) ingest = startIngest(s);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(killedAt).toBeGreaterThan(0);
      // Killed too late in the stream to have been restarted inside the loop.
      if (killedAt + 10 >= reqs.length) ingest = startIngest(s);
      await waitFor('all spans in ClickHouse after the restart', async () => (await distinctSpans(s.db)) === want, 90_000, 250);
      const store = await ClickHouseStore.open({ url: clickhouseUrl(), database: s.db });
      // A clean load of the same requests, once each, into a database of its own.
      const cleanDb = uniqueDatabase();
      databases.push(cleanDb);
      const cleanCh = await ClickHouseStore.open({ url: clickhouseUrl(), database: cleanDb });
      try {
        const clean = await duckDbPath(reqs);
        expect(await analyze(store, RANGE)).toEqual(clean.analysis);
        // The SLO counts from the rollups, maintained by the killed and the restarted ingest, equal the raw runs and a clean load.
        const rolled = await store.windowCountsMany(WINDOW_QUERIES);
        store.useRollups(false);
        expect(rolled).toEqual(await store.windowCountsMany(WINDOW_QUERIES));
        expect(rolled).toEqual(clean.counts);
        expect(Number((await clickhouseExec(`SELECT count() FROM ${s.db}.rollup_hour FORMAT TSV`)).trim())).toBeGreaterThan(0);
        const rows = Number((await clickhouseExec(`SELECT count() FROM ${s.db}.spans FORMAT TSV`)).trim());
        // Redelivered copies (stored before the kill, committed after) are allowed, never missing spans.
        expect(rows).toBeGreaterThanOrEqual(want);
        store.useRollups(true);
        await cleanCh.migrate();
        for (const r of reqs) await cleanCh.insertSpans(r);
        await expectSameRollups(store, cleanCh, [...new Set(spans.map((x) => String(x.attributes[ATTR_JOB_NAME] ?? '')))].filter((j) => j !== ''));
      } finally {
        await store.close();
        await cleanCh.close();
      }
      expect(await ingest.kill('SIGTERM')).toBe(0);
    },
    240_000,
  );

  it(
    'on SIGTERM stores the batch it holds (before --batch-max-wait), commits it and exits 0',
    async () => {
      const spans = comparisonFixture(13, 100);
      const s = await setup();
      // A 60 s batch wait: nothing would be stored before the stop.
      const ingest = startIngest(s, '60s');
      for (const r of requests(spans, 50)) expect((await postSpans(s.collectorUrl, r)).status).toBe(200);
      await waitFor('the ingest to have read the messages', () => /joined consumer group/.test(ingest.output()), 30_000, 100);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await distinctSpans(s.db).catch(() => 0)).toBe(0);
      expect(await ingest.kill('SIGTERM'), ingest.output()).toBe(0);
      expect(await distinctSpans(s.db)).toBe(new Set(spans.map((x) => `${x.traceId}/${x.spanId}`)).size);
      const committed = [...(await committedOffsets(kafkaBrokers(), s.group, s.topic)).values()].reduce((n, o) => n + Math.max(0, o), 0);
      expect(committed).toBe(await topicMessageCount(kafkaBrokers(), s.topic));
    },
    120_000,
  );
});
