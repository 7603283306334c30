/**
 * The Kafka pieces that need no Kafka: broker list parsing, message
 * decoding, backoff, and the collector's answers when a "broker" accepts
 * connections but never answers (a black hole), which is how a hung broker
 * looks.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaSink, backoffMillis, parseBrokers, startCollector } from '../../collector/index.js';
import type { RunningCollector } from '../../collector/index.js';
import { decodeSpansMessage, kafkaLogCreator } from '../../collector/_kafka.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { ConfigError, DecodeError } from '../../contracts/index.js';
import { runSpans } from '../support/spans.js';
import { captureLogger, postSpans } from './_util.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const spans = (job = 'j') => runSpans({ job, startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] });

describe('parseBrokers', () => {
  const good: [string, string[]][] = [
    ['127.0.0.1:9092', ['127.0.0.1:9092']],
    ['a:1, b.example:9093', ['a:1', 'b.example:9093']],
    ['[::1]:9092', ['[::1]:9092']],
  ];
  for (const [input, want] of good) it(`accepts ${input}`, () => expect(parseBrokers(input)).toEqual(want));
  for (const bad of ['', 'localhost', 'host:0', 'host:70000', 'http://host:9092', 'a:1,,b']) {
    it(`refuses ${JSON.stringify(bad)} naming --brokers`, () => {
      if (bad === 'a:1,,b') {
        expect(() => parseBrokers(bad)).toThrow(/"b" is not HOST:PORT/);
        return;
      }
      expect(() => parseBrokers(bad)).toThrow(ConfigError);
      expect(() => parseBrokers(bad)).toThrow(/--brokers/);
    });
  }
});

describe('decodeSpansMessage', () => {
  it('decodes otlp_proto and otlp_json values', () => {
    const s = spans();
    expect(decodeSpansMessage(Buffer.from(encodeTraceRequestProto(s))).spans).toHaveLength(s.length);
    const json = JSON.stringify({
      resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'x', startTimeUnixNano: '1', endTimeUnixNano: '2' }] }] }],
    });
    expect(decodeSpansMessage(Buffer.from(json)).spans[0]?.name).toBe('x');
  });

  it('throws DecodeError for garbage, truncation and empty values', () => {
    const proto = Buffer.from(encodeTraceRequestProto(spans()));
    for (const bad of [Buffer.from('definitely not protobuf'), proto.subarray(0, proto.length - 3), Buffer.alloc(0), null]) {
      expect(() => decodeSpansMessage(bad)).toThrow(DecodeError);
    }
  });
});

describe('backoffMillis', () => {
  it('doubles from the initial wait up to the maximum, with jitter in [base/2, base]', () => {
    const lo = (n: number): number => backoffMillis(n, 100, 1_000, () => 0);
    const hi = (n: number): number => backoffMillis(n, 100, 1_000, () => 1);
    expect([1, 2, 3, 4, 5, 50].map(lo)).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 50].map(hi)).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });
});

describe('kafkajs logs go to our logger, never to the console', () => {
  it('maps levels and keeps only small fields', () => {
    const { logger, lines } = captureLogger();
    const log = kafkaLogCreator(logger)(4);
    log({ namespace: 'Connection', level: 1, label: 'ERROR', log: { timestamp: 'x', message: 'Connection error: boom', broker: 'b:1', stack: 'long stack' } });
    log({ namespace: 'Connection', level: 1, label: 'ERROR', log: { timestamp: 'x', message: 'Response Metadata(key: 3)', error: 'retried' } });
    log({ namespace: 'Consumer', level: 4, label: 'INFO', log: { timestamp: 'x', message: 'Starting' } });
    expect(lines).toEqual([
      'jobslo warn: kafka: Connection error: boom namespace=Connection broker=b:1',
      'jobslo debug: kafka: Response Metadata(key: 3) namespace=Connection error=retried',
      'jobslo debug: kafka: Starting namespace=Consumer',
    ]);
  });
});

describe('collector --bus kafka against a broker that never answers', () => {
  let blackHole: Server;
  const sockets = new Set<Socket>();
  let collector: RunningCollector | undefined;

  afterEach(async () => {
    await collector?.close();
    collector = undefined;
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => blackHole.close(() => r()));
  });

  const startBlackHole = async (): Promise<number> => {
    blackHole = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', () => r()));
    return (blackHole.address() as { port: number }).port;
  };

  it('answers 503 with Retry-After at the deadline, then refuses at once while the hand-over queue is full, and keeps serving', async () => {
    const port = await startBlackHole();
    const { logger, lines } = captureLogger();
    const sink = new KafkaSink({ brokers: [`127.0.0.1:${port}`], topic: 'never', timeoutMillis: 400, retryAfterMillis: 3_000, maxPendingBytes: 1, logger });
    await sink.start();
    collector = await startCollector({ sink, port: 0, logger });

    const t = Date.now();
    const first = await postSpans(collector.url, spans());
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(Date.now() - t).toBeGreaterThanOrEqual(350);
    expect(Date.now() - t).toBeLessThan(2_000);

    // The first send still waits for kafkajs: its bytes fill the 1-byte queue.
    const t2 = Date.now();
    const second = await postSpans(collector.url, spans());
    expect(second.status).toBe(503);
    expect(Date.now() - t2).toBeLessThan(300);
    expect(Buffer.from(await second.arrayBuffer()).toString('latin1')).toMatch(/hand-over queue full/);

    expect((await fetch(`${collector.url}/health`)).status).toBe(200);
    expect(lines.some((l) => l.includes('Kafka not reachable yet'))).toBe(true);
  });
});
