/**
 * Runs the real Celery and BullMQ workers of test/native/ against real Redis
 * with the known mix (see README-style table below), exporting OTLP/HTTP
 * protobuf to `tracesEndpoint`.
 *
 * | kind   | count | behaviour                              | attempts |
 * |--------|-------|----------------------------------------|----------|
 * | ok     | 5     | always succeeds                        | 1        |
 * | flaky  | 3     | first attempt fails, the retry succeeds| 2        |
 * | doomed | 2     | always fails, retries exhausted        | 3        |
 *
 * Both retry after 200 ms. The workers keep running after the mix finished
 * (their batch span processors flush within 200 ms); the caller's
 * `killManagedAfterEach` stops them.
 */
import { spawnManaged } from '../support/processes.js';
import type { ManagedProcess } from '../support/processes.js';
import { NATIVE_DIR, nativePython, redisUrl } from '../support/native.js';

export const MIX = { ok: 5, flaky: 3, doomed: 2 } as const;
export type Kind = keyof typeof MIX;
/** Attempts each kind makes. */
export const ATTEMPTS: Record<Kind, number> = { ok: 1, flaky: 2, doomed: 3 };

export interface MixResult {
  ids: Record<Kind, string[]>;
  /** Final state per task/job id, as the framework itself reports it. */
  states: Record<string, string>;
}

export interface MixOptions {
  /** OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. */
  tracesEndpoint: string;
  /** Queue name; unique per test. */
  queue: string;
  serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES` for the worker and the producer. */
  resourceAttributes?: string;
  /** @default 120_000 */
  timeoutMillis?: number;
}

function env(opts: MixOptions): NodeJS.ProcessEnv {
  // no inherited OTEL_* setting may change what the SDKs send
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  return {
    ...base,
    JOBSLO_NATIVE_REDIS_URL: `${redisUrl()}/0`,
    JOBSLO_NATIVE_QUEUE: opts.queue,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: opts.tracesEndpoint,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
    OTEL_SERVICE_NAME: opts.serviceName,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    ...(opts.resourceAttributes === undefined ? {} : { OTEL_RESOURCE_ATTRIBUTES: opts.resourceAttributes }),
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  };
}

async function runProducer(p: ManagedProcess, what: string, timeoutMillis: number): Promise<MixResult> {
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    p.exited,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMillis);
    }),
  ]);
  clearTimeout(timer);
  if (exit === 'timeout') throw new Error(`${what} did not finish within ${timeoutMillis} ms:\n${p.stderr().slice(-4_000)}`);
  if (exit.code !== 0) throw new Error(`${what} exited with ${exit.code ?? exit.signal}:\n${p.stderr().slice(-4_000)}`);
  const line = p.stdout().trim().split('\n').pop() ?? '';
  return JSON.parse(line) as MixResult;
}

/**
 * Starts a Celery worker (solo pool, one queue) and enqueues the mix;
 * resolves once every task reached its final state.
 */
export async function runCeleryMix(opts: MixOptions): Promise<{ worker: ManagedProcess; result: MixResult }> {
  const timeoutMillis = opts.timeoutMillis ?? 120_000;
  const python = nativePython();
  const e = env(opts);
  const worker = spawnManaged(
    python,
    ['-m', 'celery', '-A', 'celery_app', 'worker', '--pool=solo', '-Q', opts.queue, '-n', `${opts.queue}@%h`, '--without-gossip', '--without-mingle', '--without-heartbeat', '--loglevel=INFO'],
    { cwd: NATIVE_DIR, env: e },
  );
  await worker.waitForOutput(/ready\./, timeoutMillis);
  const producer = spawnManaged(python, ['celery_enqueue.py', String(MIX.ok), String(MIX.flaky), String(MIX.doomed)], { cwd: NATIVE_DIR, env: e });
  return { worker, result: await runProducer(producer, 'celery_enqueue.py', timeoutMillis) };
}

/**
 * Starts a BullMQ worker (concurrency 1) and adds the mix with attempts 3
 * and a fixed 200 ms backoff; resolves once every job completed or failed for good.
 */
export async function runBullmqMix(opts: MixOptions): Promise<{ worker: ManagedProcess; result: MixResult }> {
  const timeoutMillis = opts.timeoutMillis ?? 120_000;
  const e = env(opts);
  const worker = spawnManaged(process.execPath, ['bullmq_worker.mjs', 'worker'], { cwd: NATIVE_DIR, env: e });
  await worker.waitForOutput(/bullmq worker ready/, timeoutMillis);
  const producer = spawnManaged(process.execPath, ['bullmq_worker.mjs', 'enqueue', String(MIX.ok), String(MIX.flaky), String(MIX.doomed)], { cwd: NATIVE_DIR, env: e });
  return { worker, result: await runProducer(producer, 'bullmq_worker.mjs enqueue', timeoutMillis) };
}
