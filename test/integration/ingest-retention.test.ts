/**
 * `jobslo ingest --retention-days N --rollup-retention-days M` on ClickHouse
 * 18.16 through the ingest's own retention run (at start): raw days older
 * than N go, hour rollups stay M days, so an SLO window longer than N days
 * still counts the old runs while run lists do not list them. The old run is
 * two months back, so that ClickHouse's month partitions of hour rollups would
 * drop it with the raw data by default.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/index.js';
import { startIngest } from '../../collector/index.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { clickhouseExec, clickhouseUrl, kafkaBrokers, probeClickHouse, probeKafka, requireService } from '../support/services.js';
import { runSpans } from '../support/spans.js';
import { captureLogger, cleanupKafka, unique, uniqueDatabase } from './_util.js';

const SUITE = 'ingest retention of raw data and hour rollups (test/integration/ingest-retention.test.ts)';
const up = (await requireService('Kafka', () => probeKafka(), SUITE)) && (await requireService('ClickHouse', () => probeClickHouse(), SUITE));

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe.skipIf(!up)('ingest --retention-days with --rollup-retention-days', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const group = unique('group');
  const databases: string[] = [];

  afterAll(async () => {
    if (!up) return;
    await cleanupKafka(brokers, [topic, `${topic}-dlq`], [group]);
    for (const db of databases) await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  it('drops the old raw days at start and keeps their hour rollups: window counts still see them, run lists do not', async () => {
    const db = uniqueDatabase();
    databases.push(db);
    const store = await ClickHouseStore.open({ url: clickhouseUrl(), database: db });
    const now = Date.now();
    const ok = (job: string, startMillis: number) => runSpans({ job, startMillis, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] });
    try {
      await store.migrate();
      await store.insertSpans([...ok('nightly', now - 70 * DAY), ...ok('nightly', now - 2 * HOUR)]);
      const { logger, lines } = captureLogger();
      const ingest = await startIngest({ brokers, store, topic, lifecycleTopic: null, groupId: group, retentionDays: 40, rollupRetentionDays: 400, batchMaxWaitMillis: 100, logger });
      await ingest.stop();
      expect(lines.join('\n')).toMatch(/retention applied retentionDays=40 rollupRetentionDays=400 droppedDays=1 droppedRollupPartitions=0/);
      expect(await store.listRuns({ jobs: 'nightly', fromMillis: now - 100 * DAY, toMillis: now })).toHaveLength(1);
      expect(await store.windowCounts({ jobs: 'nightly', criterion: { kind: 'success' }, endMillis: now, windowsMillis: [100 * DAY, DAY] })).toEqual([
        { windowMillis: 100 * DAY, good: 2, total: 2 },
        { windowMillis: DAY, good: 1, total: 1 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses hour rollups kept for less time than the raw data before connecting to Kafka', async () => {
    const db = uniqueDatabase();
    databases.push(db);
    const store = await ClickHouseStore.open({ url: clickhouseUrl(), database: db });
    try {
      await expect(startIngest({ brokers: ['127.0.0.1:1'], store, topic, groupId: group, retentionDays: 30, rollupRetentionDays: 7 })).rejects.toThrow(ConfigError);
      await expect(startIngest({ brokers: ['127.0.0.1:1'], store, topic, groupId: group, rollupRetentionDays: 7 })).rejects.toThrow(/rollupRetentionDays: 7 needs retentionDays/);
    } finally {
      await store.close();
    }
  });
});
