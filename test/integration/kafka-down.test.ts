/**
 * Kafka stops and comes back while the collector runs. Uses a private
 * broker (the shared dev Kafka must never be stopped), killed with SIGKILL
 * and restarted on the same ports and data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaSink, startCollector, startIngest } from '../../collector/index.js';
import type { RunningCollector } from '../../collector/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { runSpans } from '../support/spans.js';
import { probeKafkaJars, startPrivateKafka } from '../support/kafka-broker.js';
import type { PrivateKafkaBroker } from '../support/kafka-broker.js';
import { requireService } from '../support/services.js';
import { captureLogger, postSpans, unique, waitFor } from './_util.js';

const SUITE = 'collector with Kafka stopped and restarted (test/integration/kafka-down.test.ts)';
const up = await requireService('Kafka jars and java for a private broker', probeKafkaJars, SUITE);

const T0 = Date.UTC(2026, 10, 1, 12);
const HOUR = 3_600_000;
const run = (job: string): SpanRecord[] =>
  runSpans({ job, startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] });

describe.skipIf(!up)('collector --bus kafka while Kafka is down', () => {
  let broker: PrivateKafkaBroker;
  let collector: RunningCollector | undefined;
  const { logger, lines } = captureLogger();

  beforeAll(async () => {
    broker = await startPrivateKafka();
  }, 120_000);

  afterAll(async () => {
    await collector?.close();
    await broker?.destroy();
  });

  it(
    'answers 503 + Retry-After while Kafka is down, keeps serving, and hands data over again once Kafka is back, without a restart',
    async () => {
      const topic = unique();
      const sink = new KafkaSink({ brokers: broker.brokers, topic, timeoutMillis: 1_500, retryAfterMillis: 2_000, logger });
      await sink.start();
      collector = await startCollector({ sink, port: 0, logger });
      const url = collector.url;

      expect((await postSpans(url, run('before'))).status).toBe(200);

      await broker.kill('SIGKILL');
      for (const job of ['down-1', 'down-2', 'down-3']) {
        const t = Date.now();
        const res = await postSpans(url, run(job));
        expect(res.status, job).toBe(503);
        expect(res.headers.get('retry-after')).toBe('2');
        // OTLP/HTTP error body: a google.rpc.Status protobuf with code 14 (UNAVAILABLE).
        expect(res.headers.get('content-type')).toContain('application/x-protobuf');
        expect(Buffer.from(await res.arrayBuffer())[0]).toBe(0x08);
        expect(Date.now() - t, 'bounded by --bus-timeout').toBeLessThan(1_500 + 1_500);
        expect((await fetch(`${url}/health`)).status).toBe(200);
      }

      await broker.start();
      // The OTLP client retries after Retry-After; until the broker has elected leaders the answer may still be 503.
      const after = run('after');
      await waitFor('200 from the same collector after Kafka restarted', async () => (await postSpans(url, after)).status === 200, 60_000, 500);
      expect((await postSpans(url, run('after-2'))).status).toBe(200);

      // Everything acknowledged with 200 is in Kafka; nothing answered 503 is claimed.
      const store = await DuckDbStore.open({ path: ':memory:' });
      await store.migrate();
      const ingest = await startIngest({ brokers: broker.brokers, store, topic, groupId: unique('group'), deadLetterTopic: null, batchMaxWaitMillis: 100, logger });
      try {
        const range = { fromMillis: T0 - HOUR, toMillis: T0 + HOUR };
        const names = await waitFor(
          'the acknowledged runs in the store',
          async () => {
            const n = await store.jobNames(range);
            return n.includes('before') && n.includes('after') && n.includes('after-2') ? n : undefined;
          },
          30_000,
          200,
        );
        expect(names.filter((n) => n.startsWith('down-'))).toEqual([]);
      } finally {
        await ingest.stop();
        await store.close();
      }
      expect(lines.some((l) => /Kafka (send failed|did not acknowledge)/.test(l))).toBe(true);
    },
    180_000,
  );
});
