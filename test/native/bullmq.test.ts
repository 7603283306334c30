/**
 * A real BullMQ worker (bullmq-otel) against real Redis runs the known mix
 * (test/native/_harness.ts) with attempts 3 and a fixed backoff, exporting
 * OTLP/HTTP protobuf to a real `jobslo collector`: over a fresh DuckDB file,
 * and with `--bus kafka` through Kafka and `jobslo ingest` into ClickHouse.
 * `jobslo analyze --format json` must count runs, outcomes and retries
 * exactly on both, with a queue delay, although every span's status is UNSET.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupKafka, uniqueDatabase } from '../integration/_util.js';
import { startCollectorProcess } from '../support/jobslo.js';
import { NATIVE_HINT, probeRedis } from '../support/native.js';
import { killManagedAfterEach, spawnManaged } from '../support/processes.js';
import { clickhouseExec, clickhouseUrl, kafkaBrokers, probeClickHouse, probeKafka, requireService } from '../support/services.js';
import { MIX, runBullmqMix } from './_harness.js';
import { checkJobs, useE2e } from './_e2e.js';

const SUITE = 'a real BullMQ worker through jobslo (test/native/bullmq.test.ts)';
const up =
  (await requireService('Redis', () => probeRedis(), SUITE, NATIVE_HINT)) &&
  (await requireService('ClickHouse', () => probeClickHouse(), SUITE)) &&
  (await requireService('Kafka', () => probeKafka(), SUITE));

killManagedAfterEach();

describe.skipIf(!up)(SUITE, () => {
  const e2e = useE2e();
  const topics: string[] = [];
  const databases: string[] = [];

  afterAll(async () => {
    await cleanupKafka(kafkaBrokers(), topics).catch(() => undefined);
    for (const db of databases) await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
  }, 60_000);

  it('BullMQ worker -> jobslo collector (DuckDB) -> analyze: attempts 3 with fixed backoff, every span status UNSET, outcomes still exact', async () => {
    const store = `duckdb:${join(e2e.dir(), `bullmq-${randomUUID()}.duckdb`)}`;
    const collector = await startCollectorProcess(e2e.cli().bin, ['--store', store], { cwd: e2e.dir() });
    const queue = `bullmq-e2e-${randomUUID()}`;
    const { result } = await runBullmqMix({ tracesEndpoint: `${collector.url}/v1/traces`, queue, serviceName: 'native-bullmq-e2e' });
    expect(Object.values(result.states).sort()).toEqual([...Array(MIX.ok + MIX.flaky).fill('completed'), ...Array(MIX.doomed).fill('failed')]);
    checkJobs(await e2e.analyzeUntilComplete(store, (k) => `${queue}/${k}`));
  }, 240_000);

  it('BullMQ worker -> jobslo collector --bus kafka -> Kafka -> jobslo ingest -> ClickHouse -> analyze: the same numbers', async () => {
    const topic = `native-${randomUUID()}`;
    const db = uniqueDatabase();
    topics.push(topic, `${topic}-dlq`);
    databases.push(db);
    const store = `clickhouse:${clickhouseUrl()}/${db}`;
    const brokers = kafkaBrokers().join(',');
    const migrated = await e2e.jobslo(['migrate', '--store', store]);
    expect(migrated.code, migrated.stderr).toBe(0);
    const ingest = spawnManaged(
      process.execPath,
      [e2e.cli().bin, 'ingest', '--brokers', brokers, '--topic', topic, '--group', `group-${topic}`, '--store', store, '--dead-letter-topic', `${topic}-dlq`, '--batch-max-wait', '100ms', '--lifecycle-topic', ''],
      { cwd: e2e.dir() },
    );
    await ingest.waitForOutput(/ingest running/, 60_000);
    const collector = await startCollectorProcess(e2e.cli().bin, ['--bus', 'kafka', '--brokers', brokers, '--topic', topic], { cwd: e2e.dir() });
    const queue = `bullmq-kafka-${randomUUID()}`;
    await runBullmqMix({ tracesEndpoint: `${collector.url}/v1/traces`, queue, serviceName: 'native-bullmq-kafka' });
    checkJobs(await e2e.analyzeUntilComplete(store, (k) => `${queue}/${k}`));
  }, 240_000);
});
