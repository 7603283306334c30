/**
 * The multi-process collector: a primary process forks worker processes
 * (`node:cluster`), each running the whole collector (receivers, pipeline,
 * its own sink) on the same ports, which the cluster module shares between
 * them. The primary only relays: `/metrics` answered by one worker includes
 * the others' values, asked for over the cluster's IPC channel.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { errorMessage } from '../contracts/index.js';
import type { Logger } from '../contracts/index.js';
import type { MetricsRegistry, MetricsSnapshot } from '../server/index.js';

interface SnapshotRequest {
  jobslo: 'snapshot?';
  id: number;
}
interface SnapshotReply {
  jobslo: 'snapshot';
  id: number;
  snapshot: MetricsSnapshot;
}
interface PeersRequest {
  jobslo: 'peers?';
  id: number;
}
interface PeersReply {
  jobslo: 'peers';
  id: number;
  snapshots: MetricsSnapshot[];
}
type Message = SnapshotRequest | SnapshotReply | PeersRequest | PeersReply;

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && typeof (m as { jobslo?: unknown }).jobslo === 'string';

/**
 * In a worker, after its servers closed: leaves the cluster so the process
 * can exit (the IPC channel would keep it alive). Elsewhere does nothing.
 */
export function leaveCluster(): void {
  if (cluster.isWorker && cluster.worker?.isConnected()) cluster.worker.disconnect();
}

/** True in a worker process of {@link runClusterPrimary}. */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** Options of {@link runClusterPrimary}. */
export interface ClusterOptions {
  /** Worker processes to run. */
  workers: number;
  /** Stops the workers (SIGTERM: each finishes its in-flight requests) when aborted. */
  signal: AbortSignal;
  /** How long a metrics relay waits for the other workers, ms. @default 1_000 */
  metricsTimeoutMillis?: number;
  logger: Logger;
}

/**
 * Runs the primary: forks `workers` processes running this same command line,
 * replaces a worker that dies unexpectedly (at most once per second), relays
 * metrics snapshots between them, and on `signal` stops them all and resolves
 * with 0, or a failed worker's exit code when one could not start.
 */
export async function runClusterPrimary(options: ClusterOptions): Promise<number> {
  const { logger } = options;
  const timeout = options.metricsTimeoutMillis ?? 1_000;
  let stopping = false;
  let lastRespawn = 0;
  let nextId = 1;
  const pending = new Map<number, { want: number; got: MetricsSnapshot[]; done: () => void }>();

  const onMessage = (worker: Worker, m: unknown): void => {
    if (!isMessage(m)) return;
    if (m.jobslo === 'peers?') {
      const others = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w !== worker && w.isConnected());
      const id = nextId++;
      const entry = { want: others.length, got: [] as MetricsSnapshot[], done: () => undefined as void };
      const finish = (): void => {
        clearTimeout(timer);
        pending.delete(id);
        if (worker.isConnected()) worker.send({ jobslo: 'peers', id: m.id, snapshots: entry.got } satisfies PeersReply);
      };
      entry.done = finish;
      const timer = setTimeout(finish, timeout);
      pending.set(id, entry);
      if (others.length === 0) finish();
      for (const w of others) w.send({ jobslo: 'snapshot?', id } satisfies SnapshotRequest);
    } else if (m.jobslo === 'snapshot') {
      const entry = pending.get(m.id);
      if (!entry) return;
      entry.got.push(m.snapshot);
      if (entry.got.length >= entry.want) entry.done();
    }
  };

  const fork = (): Worker => {
    const w = cluster.fork();
    w.on('message', (m: unknown) => onMessage(w, m));
    return w;
  };

  let started = false;
  let failedCode = 0;
  let wake: () => void = () => undefined;
  const woken = new Promise<void>((resolve) => {
    wake = resolve;
    options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const listening = new Set<number>();
  cluster.on('listening', (w) => {
    listening.add(w.id);
    if (!started && listening.size >= options.workers) {
      started = true;
      logger.info('collector workers listening', { workers: options.workers });
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    if (!started) {
      // A worker that cannot start (port taken, broker unreachable at start): the collector cannot either.
      failedCode = code || 1;
      logger.error('collector worker failed to start; stopping', { pid: w.process.pid, code, signal });
      wake();
      return;
    }
    // At most one replacement a second: a worker that keeps dying does not spin.
    const wait = Math.max(0, 1_000 - (Date.now() - lastRespawn));
    logger.warn('collector worker exited; starting another', { pid: w.process.pid, code, signal, inMillis: wait });
    setTimeout(() => {
      lastRespawn = Date.now();
      if (!stopping) fork();
    }, wait);
  });

  for (let i = 0; i < options.workers; i++) fork();
  await woken;
  stopping = true;
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) {
            resolve();
            return;
          }
          w.once('exit', () => resolve());
          try {
            w.process.kill('SIGTERM');
          } catch (err) {
            logger.debug('worker already gone', { error: errorMessage(err) });
            resolve();
          }
        }),
    ),
  );
  return failedCode;
}

/**
 * In a worker: answers the primary's snapshot requests from `registry`, and
 * returns the function that collects the other workers' snapshots (for
 * `/metrics`). Outside a cluster it returns one that resolves to none.
 */
export function clusterMetricsPeers(registry: MetricsRegistry, timeoutMillis = 2_000): () => Promise<MetricsSnapshot[]> {
  if (!cluster.isWorker) return () => Promise.resolve([]);
  let nextId = 1;
  const waiting = new Map<number, (s: MetricsSnapshot[]) => void>();
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.jobslo === 'snapshot?') process.send?.({ jobslo: 'snapshot', id: m.id, snapshot: registry.snapshot() } satisfies SnapshotReply);
    else if (m.jobslo === 'peers') {
      waiting.get(m.id)?.(m.snapshots);
      waiting.delete(m.id);
    }
  });
  return () =>
    new Promise<MetricsSnapshot[]>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve([]);
      }, timeoutMillis);
      waiting.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      process.send?.({ jobslo: 'peers?', id } satisfies PeersRequest);
    });
}
