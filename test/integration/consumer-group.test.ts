/**
 * Several ingest processes of one consumer group share a topic's partitions
 * and together store everything once (as far as any SLI can tell).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { analyze } from '../../analyzer/index.js';
import { KafkaSink, startIngest } from '../../collector/index.js';
import type { RunningIngest } from '../../collector/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { clickhouseExec, clickhouseUrl, kafkaBrokers, probeClickHouse, probeKafka, requireService } from '../support/services.js';
import { FIXTURE_T0, comparisonFixture } from './_fixture.js';
import { captureLogger, cleanupKafka, requests, unique, uniqueDatabase, waitFor } from './_util.js';

const SUITE = 'ingest consumer group (test/integration/consumer-group.test.ts)';
const up = (await requireService('ClickHouse', () => probeClickHouse(), SUITE)) && (await requireService('Kafka', () => probeKafka(), SUITE));

const RANGE = { fromMillis: FIXTURE_T0, toMillis: FIXTURE_T0 + 24 * 3_600_000 };

describe.skipIf(!up)('ingest processes of one group', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const group = unique('group');
  const db = uniqueDatabase();

  afterAll(async () => {
    if (!up) return;
    await cleanupKafka(brokers, [topic], [group]);
    await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  it(
    'split the partitions between them and store every span',
    async () => {
      const admin = new Kafka({ clientId: 'jobslo-test', brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
      await admin.disconnect();

      const spans = comparisonFixture(31, 400);
      const { logger, lines } = captureLogger();
      const stores = [await ClickHouseStore.open({ url: clickhouseUrl(), database: db }), await ClickHouseStore.open({ url: clickhouseUrl(), database: db })];
      await stores[0]?.migrate();
      const ingests: RunningIngest[] = [];
      try {
        for (const store of stores) {
          ingests.push(await startIngest({ brokers, store, topic, groupId: group, deadLetterTopic: null, batchMaxWaitMillis: 100, logger }));
        }
        // Both members in the group, two partitions each.
        await waitFor(
          'a generation with both members',
          () => lines.filter((l) => /joined consumer group/.test(l) && /partitions=\d,\d /.test(l)).length >= 2,
          30_000,
          100,
        );
        const sink = new KafkaSink({ brokers, topic, logger });
        for (const r of requests(spans, 20)) expect(await sink.write(r)).toEqual({ kind: 'accepted' });
        await sink.close();

        const want = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`)).size;
        await waitFor(
          'every span stored',
          async () => Number((await clickhouseExec(`SELECT uniqExact(trace_id, span_id) FROM ${db}.spans FORMAT TSV`)).trim()) === want,
          30_000,
          200,
        );
        expect(ingests.every((i) => i.stats().messages > 0)).toBe(true);

        const duck = await DuckDbStore.open({ path: ':memory:' });
        await duck.migrate();
        await duck.insertSpans(spans);
        expect(await analyze(stores[0] as ClickHouseStore, RANGE)).toEqual(await analyze(duck, RANGE));
        await duck.close();
      } finally {
        await Promise.all(ingests.map((i) => i.stop()));
        await Promise.all(stores.map((s) => s.close()));
      }
    },
    120_000,
  );
});
