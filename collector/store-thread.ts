/**
 * The embedded store on a thread of its own. Inserting a request's spans
 * into DuckDB holds the thread that does it for a long time (appends and
 * their flush are synchronous: 100-500 ms for 2,000 spans on a busy
 * machine), and a thread busy inserting cannot answer anyone. So the
 * collector's main thread only accepts connections, authenticates, admits
 * or refuses, reads bodies and answers; a worker thread opens the store and
 * does the rest of the pipeline (decode, validate, {@link StoreSink}
 * writes) and the read API's queries. Bodies move to it without copying
 * when they can (transferred), outcomes and read results come back.
 *
 * Admission on the main thread refuses a request the store would not get to
 * within {@link StoreThreadOptions.maxQueueWaitMillis}: every admitted
 * request stays in flight until the thread answered it, so the in-flight
 * bytes are the store's backlog, and the thread reports its measured insert
 * rate with every reply (StoreSink's own rule, decided where the answer is
 * written).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Worker } from 'node:worker_threads';
import { ConfigError, JobsloError, StoreError, errorMessage, noopLogger } from '../contracts/index.js';
import type { JobsloErrorCode, LifecycleEventRecord, LogFields, Logger, SpanRecord } from '../contracts/index.js';
import { REMOTE_READ_METHODS } from '../store/index.js';
import type { MetricsSnapshot } from '../server/index.js';
import type { ExportOutcome, TelemetryExporter } from './pipeline.js';
import type { ReadStore } from './read-api.js';
import type { SinkResult, SpanSink } from './sink.js';
import type { ValidationOptions } from './validate.js';

/** What the store thread starts from (structured-cloned). @internal */
export interface StoreThreadData {
  store: string;
  env: Record<string, string | undefined>;
  validation: Omit<ValidationOptions, 'nowMillis'>;
}

/** @internal */
export interface WireError {
  name: string;
  code?: JobsloErrorCode;
  path?: string;
  message: string;
}

/** Main thread to store thread; every message is answered by one `reply` with its id. @internal */
export type ToStoreThread = { id: number } & (
  | { op: 'traces'; format: 'proto' | 'json'; body: Uint8Array }
  | { op: 'lifecycle'; body: Uint8Array }
  | { op: 'spans'; spans: readonly SpanRecord[]; raw?: Uint8Array }
  | { op: 'events'; events: readonly LifecycleEventRecord[] }
  | { op: 'read'; method: string; args: unknown[] }
  /** Stops the read with id `read` (interrupting its running query); answered at once. */
  | { op: 'cancel'; read: number }
  | { op: 'metrics' }
  | { op: 'close' }
);

/** Store thread to main thread. @internal */
export type FromStoreThread =
  | { op: 'ready'; kind: string; location: string }
  | { op: 'failed'; error: WireError }
  | { op: 'reply'; id: number; value?: unknown; error?: WireError; spansPerMilli?: number }
  | { op: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: LogFields };

/** Options of {@link startStoreThread}. */
export interface StoreThreadOptions {
  /** Store URL, as for `--store`. */
  store: string;
  /** Environment the store reads credentials from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Per-span validation rules (the clock is the thread's own). */
  validation?: Omit<ValidationOptions, 'nowMillis'>;
  /**
   * Longest a request may expect to wait for the store: past it, admission
   * answers 503 + Retry-After before the body is read. @default 2_000
   */
  maxQueueWaitMillis?: number;
  /** Retry-After sent with those refusals, at least, ms. @default 1_000 */
  retryAfterMillis?: number;
  logger?: Logger;
}

/** A running store thread. */
export interface StoreThread {
  /** The store's kind and location (without credentials). */
  readonly kind: string;
  readonly location: string;
  /** For {@link IngestPipeline}'s `exporter`: decode, validate and store on the thread. */
  readonly exporter: TelemetryExporter;
  /** For the pipeline's `sink`: the admission backlog check, and direct writes. */
  readonly sink: SpanSink;
  /** The store's read queries, run on the thread (for the read API); `withSignal` stops them there. */
  readonly reads: ReadStore;
  /** The thread's exporter metrics (`jobslo_exporter_*{exporter="store"}`), to merge into `/metrics`. */
  metricsSnapshot(): Promise<MetricsSnapshot>;
  /** Closes the store (after everything queued) and ends the thread. */
  close(): Promise<void>;
}

/** Insert rate assumed before one is measured, spans per ms (StoreSink's). */
const ASSUMED_SPANS_PER_MILLI = 5;
/** Protobuf body bytes per span, roughly (StoreSink's estimate for requests not decoded yet). */
const BYTES_PER_SPAN = 300;

function toError(e: WireError): Error {
  if (e.name === 'ConfigError' && e.path !== undefined) return new ConfigError(e.path, e.message.startsWith(`${e.path}: `) ? e.message.slice(e.path.length + 2) : e.message);
  if (e.code !== undefined) return e.name === 'StoreError' ? new StoreError(e.code, e.message) : new JobsloError(e.code, e.message);
  return new Error(e.message);
}

/** Moves `body` to the thread: transferred when it owns its whole buffer, else copied first (never a pooled slab). */
function ownBuffer(body: Uint8Array): Uint8Array {
  if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer) return body;
  return new Uint8Array(body);
}

/**
 * Starts the thread and opens the store on it; resolves once the store is
 * open and migrated.
 * @throws {JobsloError} what opening the store threw (StoreError, ConfigError), with its code
 */
export async function startStoreThread(options: StoreThreadOptions): Promise<StoreThread> {
  const logger = options.logger ?? noopLogger;
  const maxWait = options.maxQueueWaitMillis ?? 2_000;
  const retryAfter = options.retryAfterMillis ?? 1_000;
  const env: Record<string, string | undefined> = { ...(options.env ?? process.env) };
  const data: StoreThreadData = { store: options.store, env, validation: options.validation ?? {} };
  const worker = new Worker(new URL('./_store-worker.js', import.meta.url), { workerData: data });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let spansPerMilli: number | undefined;
  let gone: Error | undefined;
  let closing: Promise<void> | undefined;

  const ready = new Promise<{ kind: string; location: string }>((resolve, reject) => {
    worker.on('message', (m: FromStoreThread) => {
      switch (m.op) {
        case 'ready':
          resolve(m);
          return;
        case 'failed':
          reject(toError(m.error));
          return;
        case 'log':
          logger[m.level](m.message, m.fields);
          return;
        case 'reply': {
          if (m.spansPerMilli !== undefined) spansPerMilli = m.spansPerMilli;
          const w = waiting.get(m.id);
          waiting.delete(m.id);
          if (m.error !== undefined) w?.reject(toError(m.error));
          else w?.resolve(m.value);
          return;
        }
      }
    });
    const end = (err: Error): void => {
      gone ??= err;
      reject(err);
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
      if (closing === undefined) logger.error('store thread stopped; answering 503', { error: err.message });
    };
    worker.on('error', (err) => end(new StoreError('JOBSLO_ERR_STORE_UNREACHABLE', `store thread failed: ${errorMessage(err)}`, { cause: err })));
    worker.on('exit', (code) => end(new StoreError('JOBSLO_ERR_STORE_UNREACHABLE', `store thread exited (${code})`)));
  });
  const { kind, location } = await ready.catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });

  const call = <T>(message: ToStoreThread, transfer: ArrayBuffer[] = []): Promise<T> => {
    if (gone !== undefined) return Promise.reject(gone);
    return new Promise<T>((resolve, reject) => {
      waiting.set(message.id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage(message, transfer);
    });
  };
  const unavailable = (err: unknown): ExportOutcome => ({ kind: 'unavailable', message: `not stored, try again: ${errorMessage(err)}`, retryAfterMillis: retryAfter });
  const retryable = (err: unknown): SinkResult => ({ kind: 'retryable', retryAfterMillis: retryAfter, reason: errorMessage(err) });

  const exported = (message: ToStoreThread, body: Uint8Array): Promise<ExportOutcome> => call<ExportOutcome>(message, [body.buffer as ArrayBuffer]).catch(unavailable);
  const exporter: TelemetryExporter = {
    exportTraces(format, body) {
      const own = ownBuffer(body);
      return exported({ op: 'traces', id: nextId++, format, body: own }, own);
    },
    exportLifecycle(body) {
      const own = ownBuffer(body);
      return exported({ op: 'lifecycle', id: nextId++, body: own }, own);
    },
  };
  const sink: SpanSink = {
    write: (spans, raw) => call<SinkResult>({ op: 'spans', id: nextId++, spans, ...(raw !== undefined ? { raw } : {}) }).catch(retryable),
    writeLifecycle: (events) => call<SinkResult>({ op: 'events', id: nextId++, events }).catch(retryable),
    backlog(inFlightBodyBytes: number): SinkResult | undefined {
      if (gone !== undefined) return retryable(gone);
      // Every admitted request is in flight until the thread answered it: its bytes are the backlog.
      const coming = inFlightBodyBytes / BYTES_PER_SPAN;
      if (coming === 0) return undefined;
      const expectedWait = coming / (spansPerMilli ?? ASSUMED_SPANS_PER_MILLI);
      if (expectedWait <= maxWait) return undefined;
      return {
        kind: 'retryable',
        retryAfterMillis: Math.max(retryAfter, Math.min(30_000, Math.round(expectedWait))),
        reason: `store busy (about ${Math.round(coming)} spans arriving, about ${Math.round(expectedWait)} ms of work)`,
      };
    },
    close: () => thread.close(),
  };
  const readSignal = new AsyncLocalStorage<AbortSignal>();
  const read = async (method: string, args: unknown[]): Promise<unknown> => {
    const signal = readSignal.getStore();
    const id = nextId++;
    const cancel = (): void => {
      if (gone === undefined) worker.postMessage({ op: 'cancel', id: nextId++, read: id } satisfies ToStoreThread);
    };
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await call({ op: 'read', id, method, args });
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  };
  const reads = {
    ...Object.fromEntries(REMOTE_READ_METHODS.map((method) => [method, (...args: unknown[]) => read(method, args)])),
    withSignal: <T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> => readSignal.run(signal, fn),
  } as unknown as ReadStore;
  const thread: StoreThread = {
    kind,
    location,
    exporter,
    sink,
    reads,
    metricsSnapshot: () => call<MetricsSnapshot>({ op: 'metrics', id: nextId++ }),
    close() {
      closing ??= (async () => {
        if (gone === undefined) await call({ op: 'close', id: nextId++ }).catch((err: unknown) => logger.warn('closing the store failed', { error: errorMessage(err) }));
        await worker.terminate();
      })();
      return closing;
    },
  };
  return thread;
}
