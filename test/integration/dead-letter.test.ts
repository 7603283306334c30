/**
 * Poison messages: the ingest sends what it cannot decode to the dead-letter
 * topic with the reason and source in headers, commits past it and keeps
 * storing later messages. Runs the ingest with an embedded DuckDB store: the
 * same ingest code works with either store.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { KafkaMessage } from 'kafkajs';
import {
  DLQ_HEADER_ERROR,
  DLQ_HEADER_SOURCE_OFFSET,
  DLQ_HEADER_SOURCE_PARTITION,
  DLQ_HEADER_SOURCE_TOPIC,
  startIngest,
} from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { StoreError } from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import type { Store } from '../../store/index.js';
import { runSpans } from '../support/spans.js';
import { kafkaBrokers, probeKafka, requireService } from '../support/services.js';
import { captureLogger, cleanupKafka, committedOffsets, topicMessageCount, unique, waitFor } from './_util.js';

const SUITE = 'dead-letter topic (test/integration/dead-letter.test.ts)';
const up = await requireService('Kafka', () => probeKafka(), SUITE);

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };
const proto = (job: string): Buffer =>
  Buffer.from(encodeTraceRequestProto(runSpans({ job, startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] })));

describe.skipIf(!up)('ingest dead-letters poison messages and keeps going', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const dlq = `${topic}-dlq`;
  const groups = [unique('group'), unique('group'), unique('group'), unique('group')];
  const kafka = new Kafka({ clientId: 'jobslo-test', brokers, logLevel: logLevel.NOTHING });

  afterAll(async () => {
    if (up) await cleanupKafka(brokers, [topic, dlq], groups);
  });

  it(
    'sends undecodable messages to the DLQ with jobslo-error and source headers, stores the later ones and commits past them',
    async () => {
      const { logger } = captureLogger();
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const garbage = Buffer.from('definitely not protobuf');
      const good = proto('good-1');
      const truncated = good.subarray(0, good.length - 7);
      // One partition key for all: the poison messages sit between good ones in one partition.
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { key: 'k', value: proto('good-1') },
          { key: 'k', value: garbage, headers: { origin: 'test' } },
          { key: 'k', value: truncated },
          { key: 'k', value: proto('good-2') },
        ],
      });
      await producer.disconnect();

      const store = await DuckDbStore.open({ path: ':memory:' });
      await store.migrate();
      const ingest = await startIngest({ brokers, store, topic, groupId: groups[0], deadLetterTopic: dlq, batchMaxWaitMillis: 100, logger });
      try {
        await waitFor('both good messages stored', async () => (await store.jobNames(RANGE)).join() === 'good-1,good-2', 30_000, 100);
        await waitFor(
          'offsets committed past the poison messages',
          async () => [...(await committedOffsets(brokers, groups[0] as string, topic)).values()].reduce((n, o) => n + Math.max(0, o), 0) === (await topicMessageCount(brokers, topic)),
          30_000,
          200,
        );
        expect(ingest.stats().deadLettered).toBe(2);
      } finally {
        await ingest.stop();
        await store.close();
      }

      const consumer = kafka.consumer({ groupId: groups[1] as string });
      const got: KafkaMessage[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: [dlq], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message);
        },
      });
      try {
        await waitFor('two dead letters', () => got.length >= 2, 30_000, 100);
      } finally {
        await consumer.disconnect();
      }
      const header = (m: KafkaMessage, name: string): string => String(m.headers?.[name] ?? '');
      const byValue = new Map(got.map((m) => [m.value?.toString('latin1'), m]));
      const g = byValue.get(garbage.toString('latin1'));
      const t = byValue.get(truncated.toString('latin1'));
      expect(g && t).toBeTruthy();
      for (const m of [g, t] as KafkaMessage[]) {
        expect(header(m, DLQ_HEADER_ERROR)).toMatch(/^cannot decode OTLP ExportTraceServiceRequest: /);
        expect(header(m, DLQ_HEADER_SOURCE_TOPIC)).toBe(topic);
        expect(header(m, DLQ_HEADER_SOURCE_PARTITION)).toMatch(/^\d+$/);
        expect(m.key?.toString()).toBe('k');
      }
      expect([header(g as KafkaMessage, DLQ_HEADER_SOURCE_OFFSET), header(t as KafkaMessage, DLQ_HEADER_SOURCE_OFFSET)]).toEqual(['1', '2']);
      expect(header(t as KafkaMessage, DLQ_HEADER_ERROR)).toMatch(/offset|truncat|length|end/i);
      // The original headers travel along.
      expect(header(g as KafkaMessage, 'origin')).toBe('test');
    },
    120_000,
  );

  it(
    'stores a batch the store rejects message by message and dead-letters only the message it still rejects',
    async () => {
      const rejectTopic = `${topic}-rejects`;
      const rejectDlq = `${rejectTopic}-dlq`;
      const { logger, lines } = captureLogger();
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic: rejectTopic, acks: -1, messages: ['ok-1', 'poison-row', 'ok-2'].map((job) => ({ key: 'k', value: proto(job) })) });
      await producer.disconnect();

      const duck = await DuckDbStore.open({ path: ':memory:' });
      await duck.migrate();
      // A store that refuses (as a query error, not "unreachable") any insert holding the poison job.
      const picky: Store = Object.assign(Object.create(duck) as Store, {
        async insertSpans(spans: readonly SpanRecord[]): Promise<void> {
          if (spans.some((x) => x.attributes['jobslo.job.name'] === 'poison-row')) throw new StoreError('JOBSLO_ERR_STORE_QUERY', 'value out of range for column attempt');
          await duck.insertSpans(spans);
        },
      });
      const ingest = await startIngest({
        brokers,
        store: picky,
        topic: rejectTopic,
        groupId: groups[2],
        deadLetterTopic: rejectDlq,
        batchMaxWaitMillis: 300,
        retryInitialMillis: 10,
        retryMaxMillis: 50,
        rejectedRetries: 1,
        logger,
      });
      try {
        await waitFor('the good messages stored', async () => (await duck.jobNames(RANGE)).join() === 'ok-1,ok-2', 30_000, 100);
        await waitFor('one dead letter', () => ingest.stats().deadLettered === 1, 30_000, 100);
      } finally {
        await ingest.stop();
        await duck.close();
      }
      expect(lines.some((l) => l.includes('storing its messages one by one'))).toBe(true);
      const consumer = kafka.consumer({ groupId: groups[3] as string });
      const got: KafkaMessage[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: [rejectDlq], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message);
        },
      });
      try {
        await waitFor('the dead letter', () => got.length >= 1, 30_000, 100);
      } finally {
        await consumer.disconnect();
        await cleanupKafka(brokers, [rejectTopic, rejectDlq]);
      }
      expect(got).toHaveLength(1);
      expect(String(got[0]?.headers?.[DLQ_HEADER_ERROR])).toMatch(/^store rejected the spans: .*value out of range/);
      expect(String(got[0]?.headers?.[DLQ_HEADER_SOURCE_OFFSET])).toBe('1');
    },
    120_000,
  );
});
