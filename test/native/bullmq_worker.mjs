// A real BullMQ worker and producer with bullmq-otel, for the end-to-end
// tests in test/native/ (see _harness.ts).
//
//   node bullmq_worker.mjs worker            runs until SIGTERM
//   node bullmq_worker.mjs enqueue OK FLAKY DOOMED
//        adds the mix, waits until every job completed or failed for good, and
//        prints {"ids": {kind: [job id...]}, "states": {job id: "completed"|"failed"}}
//
// Environment: JOBSLO_NATIVE_REDIS_URL, JOBSLO_NATIVE_QUEUE,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (OTLP/HTTP protobuf), OTEL_SERVICE_NAME.
//
// Jobs (the known mix), every one added with attempts 3 and a fixed 200 ms backoff:
//   ok      always completes
//   flaky   throws on its first attempt, completes on the second
//   doomed  always throws: 3 attempts, then failed
import process from 'node:process';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import { Redis } from 'ioredis';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

const redisUrl = process.env.JOBSLO_NATIVE_REDIS_URL;
const queueName = process.env.JOBSLO_NATIVE_QUEUE;
if (!redisUrl || !queueName) throw new Error('JOBSLO_NATIVE_REDIS_URL and JOBSLO_NATIVE_QUEUE must be set');

const ATTEMPTS = 3;
const BACKOFF_MILLIS = 200;

// envDetector reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
const provider = new NodeTracerProvider({
  resource: detectResources({ detectors: [envDetector] }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 200 })],
});
provider.register();
const telemetry = new BullMQOtel({ tracerName: 'jobslo-native-bullmq', version: '1' });
const connection = () => new Redis(redisUrl, { maxRetriesPerRequest: null });

const role = process.argv[2];
if (role === 'worker') {
  const worker = new Worker(
    queueName,
    async (job) => {
      if (job.name === 'flaky' && job.attemptsMade === 0) throw new Error(`flaky ${job.data.n}: first attempt fails`);
      if (job.name === 'doomed') throw new Error(`doomed ${job.data.n}: always fails`);
      return job.data.n;
    },
    { connection: connection(), telemetry, concurrency: 1 },
  );
  worker.on('error', (err) => process.stderr.write(`worker error: ${err.message}\n`));
  await worker.waitUntilReady();
  process.stderr.write('bullmq worker ready\n');
  const stop = async () => {
    await worker.close();
    await provider.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else if (role === 'enqueue') {
  const [ok = 5, flaky = 3, doomed = 2] = process.argv.slice(3).map(Number);
  const conn = connection();
  const eventsConn = connection();
  const queue = new Queue(queueName, { connection: conn, telemetry });
  const events = new QueueEvents(queueName, { connection: eventsConn });
  await events.waitUntilReady();
  const ids = { ok: [], flaky: [], doomed: [] };
  const jobs = [];
  for (const [kind, count] of [['ok', ok], ['flaky', flaky], ['doomed', doomed]]) {
    for (let n = 0; n < count; n++) {
      const job = await queue.add(kind, { n }, { attempts: ATTEMPTS, backoff: { type: 'fixed', delay: BACKOFF_MILLIS } });
      ids[kind].push(job.id);
      jobs.push(job);
    }
  }
  const states = {};
  await Promise.all(
    jobs.map((job) =>
      job.waitUntilFinished(events, 60_000).then(
        () => (states[job.id] = 'completed'),
        () => (states[job.id] = 'failed'),
      ),
    ),
  );
  await events.close();
  await queue.close();
  await Promise.all([conn.quit(), eventsConn.quit()]);
  await provider.shutdown();
  process.stdout.write(`${JSON.stringify({ ids, states })}\n`);
} else {
  throw new Error(`unknown role ${role}: worker | enqueue`);
}
