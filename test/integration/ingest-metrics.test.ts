/**
 * `jobslo ingest`'s own metrics against a real Kafka: the exposition parses
 * as Prometheus text and its counters move with what the ingest did
 * (messages read, spans stored, inserts, dead letters by reason, lag per
 * partition back to 0 once everything is stored and committed).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { startIngest } from '../../collector/index.js';
import { IngestMetrics } from '../../collector/metrics.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { parsePromText, promValue } from '../support/prom-text.js';
import { runSpans } from '../support/spans.js';
import { kafkaBrokers, probeKafka, requireService } from '../support/services.js';
import { captureLogger, cleanupKafka, unique, waitFor } from './_util.js';

const SUITE = 'ingest metrics (test/integration/ingest-metrics.test.ts)';
const up = await requireService('Kafka', () => probeKafka(), SUITE);
const T0 = Date.UTC(2026, 10, 1, 12);

describe.skipIf(!up)('ingest metrics', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const dlq = `${topic}-dlq`;
  const group = unique('group');
  afterAll(async () => {
    if (up) await cleanupKafka(brokers, [topic, dlq], [group]);
  });

  it('count messages, stored spans, inserts and dead letters, and report lag per partition that returns to 0', async () => {
    const spans = (job: string) => runSpans({ job, startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] });
    const good = [spans('m-1'), spans('m-2'), spans('m-3')];
    const kafka = new Kafka({ clientId: 'jobslo-test', brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [...good.map((s) => ({ key: 'k', value: Buffer.from(encodeTraceRequestProto(s)) })), { key: 'k', value: Buffer.from('not protobuf at all') }],
    });
    await producer.disconnect();

    const { logger } = captureLogger();
    const store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    const metrics = new IngestMetrics();
    const ingest = await startIngest({ brokers, store, topic, lifecycleTopic: null, groupId: group, deadLetterTopic: dlq, batchMaxWaitMillis: 100, metrics, logger });
    const want = good.reduce((n, s) => n + s.length, 0);
    try {
      const samples = await waitFor(
        'all spans stored and the lag back to 0',
        () => {
          const s = parsePromText(metrics.registry.render());
          const lag = s.filter((x) => x.name === 'jobslo_ingest_lag_messages' && x.labels['topic'] === topic);
          return promValue(s, 'jobslo_ingest_stored_spans_total') === want && lag.length > 0 && lag.every((x) => x.value === 0) ? s : undefined;
        },
        30_000,
        100,
      );
      expect(promValue(samples, 'jobslo_ingest_messages_total', { topic })).toBe(4);
      expect(promValue(samples, 'jobslo_ingest_dead_lettered_messages_total', { topic, reason: 'decode' })).toBe(1);
      expect(promValue(samples, 'jobslo_ingest_insert_batches_total', { signal: 'spans' })).toBeGreaterThan(0);
      expect(promValue(samples, 'jobslo_ingest_insert_duration_seconds_count', { signal: 'spans', outcome: 'ok' })).toBe(promValue(samples, 'jobslo_ingest_insert_batches_total', { signal: 'spans' }));
      expect(promValue(samples, 'jobslo_ingest_offset_commits_total')).toBeGreaterThan(0);
      expect(promValue(samples, 'jobslo_ingest_buffered_spans')).toBe(0);
      expect(samples.some((x) => 'job' in x.labels || 'instance' in x.labels)).toBe(false);
    } finally {
      await ingest.stop();
      await store.close();
    }
  }, 60_000);
});
