/**
 * OTLP/gRPC interop with the real exporters: the OpenTelemetry Python SDK's
 * `opentelemetry-exporter-otlp-proto-grpc` and the JS
 * `@opentelemetry/exporter-trace-otlp-grpc`, plain and gzip, into DuckDB and
 * through `collector --bus kafka` and the ingest into ClickHouse: exact run
 * counts, and the poison-span case on both stores (the bad span reported in
 * partial success, every good run stored; spans published to Kafka by
 * another producer are held to the same rules by the ingest).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestPipeline, KafkaSink, StoreSink, startGrpcReceiver, startIngest } from '../../collector/index.js';
import type { RunningGrpcReceiver, SpanSink } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import type { Store } from '../../store/index.js';
import { nativePython, probeNativePython } from '../support/native.js';
import { ExportResultCode, exportSpans, recordSdkRuns } from '../support/sdk-runs.js';
import { clickhouseExec, clickhouseUrl, kafkaBrokers, probeClickHouse, probeKafka, requireService } from '../support/services.js';
import { runSpans } from '../support/spans.js';
import { captureLogger, cleanupKafka, unique, uniqueDatabase, waitFor } from './_util.js';

const SUITE = 'OTLP/gRPC interop (test/integration/grpc-interop.test.ts)';
const python = (await requireService('Python OpenTelemetry exporters', () => probeNativePython(), SUITE, 'install them with "bash scripts/install-native.sh"'))
  ? nativePython()
  : undefined;
const kafkaUp = (await requireService('Kafka', () => probeKafka(), SUITE)) && (await requireService('ClickHouse', () => probeClickHouse(), SUITE));

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 86_400_000 };
const SCRIPT = join(import.meta.dirname, '..', 'collector', 'fixtures', 'otlp_grpc_export.py');

/** Exports `runs` runs with the Python SDK's gRPC exporter; resolves to SUCCESS or FAILURE. */
async function pythonExport(address: string, job: string, runs: number, compression: 'none' | 'gzip', poison = -1): Promise<string> {
  const { stdout } = await promisify(execFile)(python as string, [SCRIPT, address, job, String(runs), String(T0), compression, String(poison)], { timeout: 60_000 });
  return stdout.trim().split('\n').pop() ?? '';
}

async function jsExport(address: string, job: string, runs: number, compression: 'none' | 'gzip', poison = -1): Promise<number> {
  const spans = await recordSdkRuns({ job, runs, startMillis: T0, runAttributes: (i) => (i === poison ? { 'jobslo.run.attempts': 2 ** 31 } : {}) });
  const exporter = new GrpcTraceExporter({ url: `http://${address}`, ...(compression === 'gzip' ? { compression: 'gzip' as never } : {}) });
  return (await exportSpans(exporter, spans)).code;
}

async function runsOf(store: Store, job: string): Promise<number | undefined> {
  return (await store.jobAggregates(RANGE)).find((a) => a.job === job)?.runs;
}

async function withReceiver<T>(sink: SpanSink, fn: (r: RunningGrpcReceiver) => Promise<T>): Promise<T> {
  const receiver = await startGrpcReceiver({ pipeline: new IngestPipeline({ sink }), port: 0 });
  try {
    return await fn(receiver);
  } finally {
    await receiver.close(2_000);
  }
}

describe.skipIf(python === undefined)('OTLP/gRPC: OpenTelemetry Python exporter into DuckDB', () => {
  for (const compression of ['none', 'gzip'] as const) {
    it(`stores exactly the runs sent (${compression})`, async () => {
      const store = await DuckDbStore.open({ path: ':memory:' });
      await store.migrate();
      try {
        await withReceiver(new StoreSink(store), async (r) => {
          expect(await pythonExport(r.address, `py-${compression}`, 60, compression)).toBe('SUCCESS');
        });
        expect(await runsOf(store, `py-${compression}`)).toBe(60);
      } finally {
        await store.close();
      }
    }, 90_000);
  }

  it('poison span: the exporter gets success with partial_success, every good run is stored', async () => {
    const store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    try {
      await withReceiver(new StoreSink(store), async (r) => {
        expect(await pythonExport(r.address, 'py-poison', 50, 'none', 7)).toBe('SUCCESS');
      });
      expect(await runsOf(store, 'py-poison')).toBe(49);
    } finally {
      await store.close();
    }
  }, 90_000);
});

describe.skipIf(!kafkaUp)('OTLP/gRPC through Kafka into ClickHouse', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const lifecycleTopic = `${topic}-lifecycle`;
  const dlq = `${topic}-dlq`;
  const group = unique('group');
  const db = uniqueDatabase();

  afterAll(async () => {
    if (!kafkaUp) return;
    await cleanupKafka(brokers, [topic, lifecycleTopic, dlq], [group]);
    await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  it('Python and JS gRPC exporters, plain and gzip, and a poison span from each and from another producer: exact run counts on ClickHouse', async () => {
    const { logger } = captureLogger();
    const sink = new KafkaSink({ brokers, topic, lifecycleTopic, logger });
    await sink.start();
    const store = await ClickHouseStore.open({ url: clickhouseUrl(), database: db });
    await store.migrate();
    const ingest = await startIngest({ brokers, store, topic, lifecycleTopic, groupId: group, deadLetterTopic: dlq, batchMaxWaitMillis: 200, logger });
    const expected = new Map<string, number>();
    try {
      await withReceiver(sink, async (r) => {
        for (const compression of ['none', 'gzip'] as const) {
          expect(await jsExport(r.address, `js-ch-${compression}`, 30, compression)).toBe(ExportResultCode.SUCCESS);
          expected.set(`js-ch-${compression}`, 30);
          if (python !== undefined) {
            expect(await pythonExport(r.address, `py-ch-${compression}`, 30, compression)).toBe('SUCCESS');
            expected.set(`py-ch-${compression}`, 30);
          }
        }
        expect(await jsExport(r.address, 'js-ch-poison', 50, 'none', 11)).toBe(ExportResultCode.SUCCESS);
        expected.set('js-ch-poison', 49);
        if (python !== undefined) {
          expect(await pythonExport(r.address, 'py-ch-poison', 50, 'gzip', 5)).toBe('SUCCESS');
          expected.set('py-ch-poison', 49);
        }
      });
      // Another collector (no validation) publishes a request with a poison span straight to Kafka.
      const spans: SpanRecord[] = [];
      for (let i = 0; i < 20; i++) spans.push(...runSpans({ job: 'foreign-poison', startMillis: T0 + i * 1000, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] }));
      const [run] = runSpans({ job: 'foreign-poison', startMillis: T0, outcome: 'succeeded', attempts: [] });
      spans.push({ ...(run as SpanRecord), attributes: { ...(run as SpanRecord).attributes, 'jobslo.run.attempts': 2 ** 31 } });
      const kafka = new Kafka({ clientId: 'jobslo-test', brokers, logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'x', value: Buffer.from(encodeTraceRequestProto(spans)) }] });
      await producer.disconnect();
      expected.set('foreign-poison', 20);

      const want = [...expected.entries()].sort(([a], [b]) => a.localeCompare(b));
      await waitFor(
        'every run in ClickHouse',
        async () => {
          const got = (await store.jobAggregates(RANGE)).map((a) => [a.job, a.runs] as [string, number]);
          return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
        },
        90_000,
        500,
      );
      // Nothing clamped: no run reports the poison value.
      const aggs = await store.jobAggregates(RANGE);
      for (const a of aggs) expect(a.retries).toBe(0);
      expect(ingest.stats().rejectedSpans).toBe(1);
    } finally {
      await ingest.stop();
      await sink.close();
      await store.close();
    }
  }, 240_000);
});
