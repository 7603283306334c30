/**
 * Live lifecycle events on the Kafka path: the collector publishes them to
 * their own topic (one JSON event per message), the ingest stores them, and
 * queue depth "now" works as on the embedded path. A malformed event goes
 * to the dead-letter topic with its reason.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { DLQ_HEADER_ERROR, KafkaSink, startCollector, startIngest } from '../../collector/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { kafkaBrokers, probeKafka, requireService } from '../support/services.js';
import { captureLogger, cleanupKafka, unique, waitFor } from './_util.js';

const SUITE = 'lifecycle events through Kafka (test/integration/lifecycle.test.ts)';
const up = await requireService('Kafka', () => probeKafka(), SUITE);

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };
const event = (runId: string, type: string, atMillis: number): Record<string, unknown> => ({
  schema: 'jobslo.lifecycle/v1',
  type,
  job: 'kafka-queued',
  run_id: runId,
  time_unix_nano: String(BigInt(atMillis) * 1_000_000n),
});

describe.skipIf(!up)('collector --bus kafka -> lifecycle topic -> ingest', () => {
  const brokers = kafkaBrokers();
  const spansTopic = unique();
  const lifecycleTopic = `${spansTopic}-lifecycle`;
  const dlq = `${spansTopic}-dlq`;
  const group = unique('group');

  afterAll(async () => {
    if (up) await cleanupKafka(brokers, [spansTopic, lifecycleTopic, dlq], [group]);
  });

  it('publishes posted events, stores them, shows the waiting run as queue depth, and dead-letters a malformed one', async () => {
    const { logger } = captureLogger();
    const sink = new KafkaSink({ brokers, topic: spansTopic, lifecycleTopic, logger });
    await sink.start();
    const collector = await startCollector({ sink, port: 0, logger });
    const store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    const ingest = await startIngest({ brokers, store, topic: spansTopic, lifecycleTopic, groupId: group, deadLetterTopic: dlq, batchMaxWaitMillis: 100, logger });
    try {
      const res = await fetch(`${collector.url}/v1/lifecycle`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: [event('waiting', 'job.queued', T0), event('started', 'job.queued', T0 + 1), event('started', 'job.started', T0 + 2)] }),
      });
      expect(res.status).toBe(200);
      // A producer that bypasses the collector's validation: the ingest must not choke on it.
      const kafka = new Kafka({ clientId: 'jobslo-test', brokers, logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic: lifecycleTopic, acks: -1, messages: [{ key: 'x', value: Buffer.from('{"schema":"jobslo.lifecycle/v1","type":"job.bogus"}') }] });
      await producer.disconnect();

      await waitFor('the waiting run to show as queue depth', async () => (await store.queueDepths(RANGE))[0]?.now === 1, 30_000, 100);
      expect(await store.queueDepths(RANGE)).toEqual([{ job: 'kafka-queued', now: 1, max: 1 }]);
      await waitFor('the malformed event to be dead-lettered', async () => ingest.stats().deadLettered === 1, 30_000, 100);

      const consumer = kafka.consumer({ groupId: unique('dlq-reader') });
      await consumer.connect();
      await consumer.subscribe({ topics: [dlq], fromBeginning: true });
      const reason = await new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.headers?.[DLQ_HEADER_ERROR] ?? '')) });
      });
      await consumer.disconnect();
      expect(reason).toMatch(/cannot decode lifecycle event: message.type: "job.bogus" is not a lifecycle event/);
    } finally {
      await ingest.stop();
      await collector.close();
      await store.close();
    }
  }, 120_000);
});
