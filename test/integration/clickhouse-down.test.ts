/**
 * ClickHouse stops and comes back while the ingest runs. Uses a private
 * clickhouse-server (the shared dev server must never be stopped), killed
 * with SIGKILL and restarted on the same ports and data; Kafka is the shared
 * dev broker with a unique topic and group.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../analyzer/index.js';
import { KafkaSink, startIngest } from '../../collector/index.js';
import type { RunningIngest } from '../../collector/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { probeClickHouseBinary, startPrivateClickHouse } from '../support/clickhouse-server.js';
import type { PrivateClickHouse } from '../support/clickhouse-server.js';
import { kafkaBrokers, probeKafka, requireService } from '../support/services.js';
import { FIXTURE_T0, comparisonFixture } from './_fixture.js';
import { captureLogger, cleanupKafka, committedOffsets, requests, topicMessageCount, unique, uniqueDatabase, waitFor } from './_util.js';

const SUITE = 'ingest with ClickHouse stopped and restarted (test/integration/clickhouse-down.test.ts)';
const up = (await requireService('Kafka', () => probeKafka(), SUITE)) && (await requireService('clickhouse-server binary for a private server', probeClickHouseBinary, SUITE));

const RANGE = { fromMillis: FIXTURE_T0, toMillis: FIXTURE_T0 + 24 * 3_600_000 };

describe.skipIf(!up)('jobslo ingest while ClickHouse is down', () => {
  let server: PrivateClickHouse;
  const brokers = kafkaBrokers();
  const topic = unique();
  const group = unique('group');
  const { logger, lines } = captureLogger();

  beforeAll(async () => {
    server = await startPrivateClickHouse();
  }, 90_000);

  afterAll(async () => {
    await server?.destroy();
    if (up) await cleanupKafka(brokers, [topic], [group]);
  });

  it(
    'stops committing and retries while ClickHouse is down, then catches up with nothing lost',
    async () => {
      const spans = comparisonFixture(21, 400);
      const reqs = requests(spans, 40);
      const half = Math.floor(reqs.length / 2);
      const sink = new KafkaSink({ brokers, topic, logger });
      const publish = async (batch: SpanRecord[][]): Promise<void> => {
        for (const r of batch) expect(await sink.write(r)).toEqual({ kind: 'accepted' });
      };
      const store = await ClickHouseStore.open({ url: server.url, database: uniqueDatabase(), requestTimeoutMillis: 3_000 });
      await store.migrate();
      let ingest: RunningIngest | undefined;
      try {
        ingest = await startIngest({
          brokers,
          store,
          topic,
          groupId: group,
          deadLetterTopic: null,
          batchMaxSpans: 200,
          batchMaxWaitMillis: 100,
          retryInitialMillis: 100,
          retryMaxMillis: 1_000,
          logger,
        });
        const running = ingest;
        const allCommitted = async (): Promise<boolean> => {
          const total = await topicMessageCount(brokers, topic);
          const offsets = await committedOffsets(brokers, group, topic);
          return [...offsets.values()].reduce((n, o) => n + Math.max(0, o), 0) === total;
        };

        await publish(reqs.slice(0, half));
        await waitFor('the first half stored and committed', allCommitted, 30_000, 200);
        const committedBefore = await committedOffsets(brokers, group, topic);

        await server.kill('SIGKILL');
        await publish(reqs.slice(half));
        await waitFor('insert retries', () => running.stats().insertRetries >= 3, 30_000, 100);
        // Retrying, not committing: the group's offsets stay where the last stored batch left them.
        expect(await committedOffsets(brokers, group, topic)).toEqual(committedBefore);
        expect(running.stats().bufferedSpans + running.stats().storedSpans).toBeGreaterThan(0);
        expect(lines.some((l) => l.includes('store insert failed; retrying, offsets not committed') && l.includes('cannot reach ClickHouse'))).toBe(true);

        await server.start();
        await waitFor('catch-up: everything stored and committed', allCommitted, 60_000, 250);
        expect(lines.some((l) => l.includes('store accepts inserts again'))).toBe(true);

        const duck = await DuckDbStore.open({ path: ':memory:' });
        await duck.migrate();
        await duck.insertSpans(spans);
        expect(await analyze(store, RANGE)).toEqual(await analyze(duck, RANGE));
        await duck.close();
      } finally {
        await ingest?.stop();
        await sink.close();
        await store.close();
      }
    },
    180_000,
  );
});
