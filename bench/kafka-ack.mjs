// Kafka's acknowledgement floor for the collector's sends: kafkajs alone,
// `acks: -1`, two sends in flight (like two OTLP clients with one export
// each), 200 sends of one message of SIZE bytes to a new topic; prints p50
// and mean send latency. `nodelay` turns Nagle off on kafkajs' sockets.
//
//   node bench/kafka-ack.mjs [SIZE=300000] [nagle|nodelay] [BROKERS=127.0.0.1:9092]
import { Buffer } from 'node:buffer';
import console from 'node:console';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { Kafka, Partitioners, logLevel } from 'kafkajs';

const size = Number(process.argv[2] ?? 300_000);
const noDelay = process.argv[3] === 'nodelay';
const brokers = (process.argv[4] ?? '127.0.0.1:9092').split(',');
const socketFactory = ({ host, port, onConnect }) => {
  const s = net.connect({ host, port }, onConnect);
  s.setKeepAlive(true, 60_000);
  if (noDelay) s.setNoDelay(true);
  return s;
};
const kafka = new Kafka({ clientId: 'jobslo-bench-kafka-ack', brokers, logLevel: logLevel.NOTHING, socketFactory });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
await producer.connect();
const topic = `bench_kafka_ack_${Date.now()}`;
const value = Buffer.alloc(size, 7);
await producer.send({ topic, acks: -1, messages: [{ value }] });
const latencies = [];
const t0 = performance.now();
await Promise.all(
  [0, 1].map(async () => {
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await producer.send({ topic, acks: -1, messages: [{ key: String(i), value }] });
      latencies.push(performance.now() - t);
    }
  }),
);
latencies.sort((a, b) => a - b);
const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
console.log(`size ${size} ${noDelay ? 'noDelay' : 'nagle'}: ${latencies.length} sends in ${(performance.now() - t0).toFixed(0)} ms, p50 ${latencies[latencies.length >> 1].toFixed(1)} ms, mean ${mean.toFixed(1)} ms`);
await producer.disconnect();
