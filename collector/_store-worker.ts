/**
 * Entry of the store thread (see store-thread.ts): opens the store, runs the
 * pipeline's decode, validation and {@link StoreSink} writes, and answers
 * read queries, all off the thread that accepts connections and refuses
 * requests. Every message from the main thread gets exactly one reply.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { JobsloError, errorMessage } from '../contracts/index.js';
import type { LifecycleEventRecord, LogFields, Logger, SpanRecord } from '../contracts/index.js';
import { REMOTE_READ_METHODS, openStore } from '../store/index.js';
import type { RemoteReadMethod, Store } from '../store/index.js';
import { CollectorMetrics } from './metrics.js';
import { IngestPipeline } from './pipeline.js';
import { StoreSink } from './sink.js';
import type { SinkResult, SpanSink } from './sink.js';
import type { ReadStore } from './read-api.js';
import type { FromStoreThread, StoreThreadData, ToStoreThread, WireError } from './store-thread.js';

if (parentPort === null) throw new Error('collector/_store-worker.js runs as a worker thread only');
const port: MessagePort = parentPort;
const data = workerData as StoreThreadData;
const post = (m: FromStoreThread, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

const relay =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (message: string, fields?: LogFields): void =>
    post({ op: 'log', level, message, ...(fields !== undefined ? { fields } : {}) });
const logger: Logger = { debug: relay('debug'), info: relay('info'), warn: relay('warn'), error: relay('error') };

const wireError = (err: unknown): WireError => {
  if (err instanceof JobsloError) return { name: err.name, code: err.code, message: err.message, ...('path' in err && typeof err.path === 'string' ? { path: err.path } : {}) };
  return { name: err instanceof Error ? err.name : 'Error', message: errorMessage(err) };
};

/**
 * The store's insert rate: spans stored per ms of time with at least one
 * write pending (the store's service rate, whether it takes writes one by
 * one or several together), over roughly the last 10 s of busy time. Sent
 * with every reply so the main thread's admission can refuse a request the
 * store would not get to in time.
 */
class RateMeter {
  private active = 0;
  private mark = 0;
  private busyMillis = 0;
  private spans = 0;
  start(): void {
    if (this.active++ === 0) this.mark = performance.now();
  }
  end(spans: number): void {
    const now = performance.now();
    this.busyMillis += now - this.mark;
    this.mark = now;
    this.active--;
    this.spans += spans;
    if (this.busyMillis > 10_000) {
      this.busyMillis /= 2;
      this.spans /= 2;
    }
  }
  get spansPerMilli(): number | undefined {
    return this.spans >= 100 && this.busyMillis >= 1 ? this.spans / this.busyMillis : undefined;
  }
}

async function serve(store: Store): Promise<void> {
  const metrics = new CollectorMetrics();
  const rate = new RateMeter();
  const stored = metrics.instrument(new StoreSink(store, { logger }), 'store');
  const sink: SpanSink = {
    async write(spans: readonly SpanRecord[], raw?: Uint8Array): Promise<SinkResult> {
      rate.start();
      let result: SinkResult | undefined;
      try {
        result = await stored.write(spans, raw);
        return result;
      } finally {
        rate.end(result?.kind === 'accepted' ? spans.length : result?.kind === 'partial' ? spans.length - result.rejected : 0);
      }
    },
    writeLifecycle: (events: readonly LifecycleEventRecord[]) => stored.writeLifecycle(events),
    close: () => stored.close(),
  };
  const pipeline = new IngestPipeline({ sink, validation: data.validation, logger });
  const reads = new Set<string>(REMOTE_READ_METHODS);
  /** Reads running now, by message id, to stop them on `cancel`. */
  const running = new Map<number, AbortController>();

  const handle = async (m: ToStoreThread): Promise<unknown> => {
    switch (m.op) {
      case 'traces':
        return pipeline.exportTraces(m.format, m.body);
      case 'lifecycle':
        return pipeline.exportLifecycle(m.body);
      case 'spans':
        return sink.write(m.spans, m.raw);
      case 'events':
        return sink.writeLifecycle(m.events);
      case 'read': {
        if (!reads.has(m.method)) throw new TypeError(`${m.method} is not a read method`);
        const fn = store[m.method as RemoteReadMethod] as ((...a: unknown[]) => Promise<unknown>) | undefined;
        if (typeof fn !== 'function') throw new TypeError(`${m.method} is not available on this store`);
        const stop = new AbortController();
        running.set(m.id, stop);
        try {
          const run = (): Promise<unknown> => fn.apply(store, m.args);
          const cancellable = store as Partial<Pick<ReadStore, 'withSignal'>>;
          return await (cancellable.withSignal ? cancellable.withSignal(stop.signal, run) : run());
        } finally {
          running.delete(m.id);
        }
      }
      case 'cancel':
        running.get(m.read)?.abort(new Error('read cancelled'));
        return undefined;
      case 'metrics':
        return metrics.registry.snapshot();
      case 'close':
        await sink.close();
        return undefined;
    }
  };

  port.on('message', (m: ToStoreThread) => {
    handle(m).then(
      (value) => {
        post({ op: 'reply', id: m.id, value, ...(rate.spansPerMilli !== undefined ? { spansPerMilli: rate.spansPerMilli } : {}) });
        if (m.op === 'close') port.close();
      },
      (err: unknown) => post({ op: 'reply', id: m.id, error: wireError(err) }),
    );
  });
  post({ op: 'ready', kind: store.kind, location: store.location });
}

openStore(data.store, data.env).then(serve, (err: unknown) => {
  post({ op: 'failed', error: wireError(err) });
  port.close();
});
