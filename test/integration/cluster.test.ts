/**
 * `jobslo collector --bus kafka --workers 2`: two worker processes share the
 * ports; every request is answered after Kafka's acknowledgement whichever
 * worker takes it, /metrics sums both workers, and SIGTERM stops them all.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { freePort } from '../support/kafka-broker.js';
import { parsePromText, promValue } from '../support/prom-text.js';
import { runSpans } from '../support/spans.js';
import { kafkaBrokers, probeKafka, requireService } from '../support/services.js';
import { send } from '../support/tls.js';
import { buildCli, cleanupKafka, spawnCli, topicMessageCount, unique, waitFor } from './_util.js';
import type { CliProcess } from './_util.js';

const SUITE = 'multi-process collector (test/integration/cluster.test.ts)';
const up = await requireService('Kafka', () => probeKafka(), SUITE);
const T0 = Date.UTC(2026, 10, 1, 12);

describe.skipIf(!up)('collector with two worker processes', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const procs: CliProcess[] = [];
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    if (up) await cleanupKafka(brokers, [topic, `${topic}-lc`]);
  });

  it('publishes every request, sums both workers in /metrics, and stops on SIGTERM', async () => {
    buildCli();
    const port = await freePort();
    const collector = spawnCli(['collector', '--bus', 'kafka', '--brokers', brokers.join(','), '--topic', topic, '--lifecycle-topic', `${topic}-lc`, '--port', String(port), '--grpc-port', '0', '--workers', '2']);
    procs.push(collector);
    const base = `http://127.0.0.1:${port}`;
    await waitFor('both workers listening', () => /collector workers listening workers=2/.test(collector.output()), 60_000, 200);
    const requests = 20;
    let sent = 0;
    for (let i = 0; i < requests; i++) {
      const spans = runSpans({ job: `cl-${i}`, startMillis: T0 + i, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] });
      sent += spans.length;
      // A new connection per request: the cluster hands connections to the workers in turn.
      const r = await send(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', connection: 'close' }, body: encodeTraceRequestProto(spans) });
      expect(r.status, r.body).toBe(200);
    }
    expect(await topicMessageCount(brokers, topic)).toBe(requests);
    // Whichever worker answers, the figures are both workers' together.
    for (let i = 0; i < 4; i++) {
      const m = await send(`${base}/metrics`, { headers: { connection: 'close' } });
      expect(m.status).toBe(200);
      const samples = parsePromText(m.body);
      expect(promValue(samples, 'jobslo_receiver_accepted_spans_total', { transport: 'http' })).toBe(sent);
      expect(promValue(samples, 'jobslo_exporter_sent_items_total', { exporter: 'kafka', signal: 'spans' })).toBe(sent);
      expect(promValue(samples, 'jobslo_exporter_send_duration_seconds_count', { exporter: 'kafka', outcome: 'accepted' })).toBe(requests);
    }
    expect(await collector.kill('SIGTERM')).toBe(0);
  }, 120_000);
});
