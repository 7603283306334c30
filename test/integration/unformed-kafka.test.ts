/**
 * Spans that look like job telemetry but form no run, on the scale-out path:
 * `collector --bus kafka` answers OTLP/HTTP protobuf and OTLP/gRPC with the
 * partial-success warning (0 rejected) naming the missing attribute, the spans
 * travel through real Kafka, and the ingest stores them in ClickHouse where
 * `unformedSpans` counts each once (a redelivered request changes nothing)
 * while the formed runs beside them are counted as runs.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestPipeline, KafkaSink, startCollector, startGrpcReceiver, startIngest } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { span } from '../support/native-spans.js';
import { grpcExport, partialSuccess, postProto } from '../support/otlp-response.js';
import { clickhouseExec, clickhouseUrl, kafkaBrokers, probeClickHouse, probeKafka, requireService } from '../support/services.js';
import { runSpans } from '../support/spans.js';
import { captureLogger, cleanupKafka, unique, uniqueDatabase, waitFor } from './_util.js';

const SUITE = 'unformed spans through Kafka (test/integration/unformed-kafka.test.ts)';
const up = (await requireService('Kafka', () => probeKafka(), SUITE)) && (await requireService('ClickHouse', () => probeClickHouse(), SUITE));

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };

describe.skipIf(!up)('spans that form no run, through Kafka into ClickHouse', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const lifecycleTopic = `${topic}-lifecycle`;
  const dlq = `${topic}-dlq`;
  const group = unique('group');
  const db = uniqueDatabase();

  afterAll(async () => {
    if (!up) return;
    await cleanupKafka(brokers, [topic, lifecycleTopic, dlq], [group]);
    await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  it('warns the sender over HTTP and gRPC, and the ingest stores and counts them once beside the formed runs', async () => {
    const { logger } = captureLogger();
    const sink = new KafkaSink({ brokers, topic, lifecycleTopic, logger });
    await sink.start();
    const pipeline = new IngestPipeline({ sink });
    const http = await startCollector({ sink, pipeline, port: 0 });
    const grpc = await startGrpcReceiver({ pipeline, port: 0 });
    const store = await ClickHouseStore.open({ url: clickhouseUrl(), database: db });
    await store.migrate();
    const ingest = await startIngest({ brokers, store, topic, lifecycleTopic, groupId: group, deadLetterTopic: dlq, batchMaxWaitMillis: 200, logger });
    try {
      const noRunId = (i: number): SpanRecord => span({ name: 'nightly', startMillis: T0 + i, durationMillis: 5, attributes: { 'jobslo.job.name': 'nightly', 'jobslo.span.type': 'run' } });
      const pod = span({ name: 'pod', startMillis: T0, resource: { 'k8s.job.name': 'backup' } });
      const good = runSpans({ job: 'formed', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] });
      const first = [...good, noRunId(1), noRunId(2), pod];

      const overHttp = await postProto(http.url, first);
      expect(overHttp.status).toBe(200);
      expect(overHttp.partial.rejected).toBe(0);
      expect(overHttp.partial.message).toMatch(/^3 spans stored but not counted as runs \(2 jobslo spans without jobslo\.run\.id, 1 k8s spans without k8s\.job\.uid\)/);
      // The same request again (an exporter's retry): told again, stored once.
      expect((await postProto(http.url, first)).partial.message).toMatch(/^3 spans stored but not counted as runs/);

      const overGrpc = await grpcExport(grpc.address, encodeTraceRequestProto([noRunId(3)]));
      expect(overGrpc.code).toBe(status.OK);
      expect(partialSuccess(overGrpc.response)).toEqual({ rejected: 0, message: expect.stringMatching(/^1 span stored but not counted as runs \(1 jobslo spans without jobslo\.run\.id\)/) });

      const want = [
        { profile: 'jobslo', missing: 'jobslo.run.id', spans: 3 },
        { profile: 'k8s', missing: 'k8s.job.uid', spans: 1 },
      ];
      await waitFor('the unformed spans in ClickHouse', async () => {
        const got = await store.unformedSpans(RANGE);
        return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
      }, 60_000);
      // A batch's inserts (spans, job rows, unformed spans) run at once: the formed run may show a moment later.
      const runs = await waitFor('the formed run in ClickHouse', async () => {
        const got = (await store.jobAggregates(RANGE)).map((a) => [a.job, a.runs]);
        return got.length > 0 ? got : undefined;
      }, 60_000);
      expect(runs).toEqual([['formed', 1]]);
    } finally {
      await ingest.stop();
      await grpc.close(2_000);
      await http.close();
      await sink.close();
      await store.close();
    }
  }, 120_000);
});
