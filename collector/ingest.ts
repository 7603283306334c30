import { Partitioners } from 'kafkajs';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { ConfigError, JobsloError, StoreError, errorMessage, lifecycleFromJson, noopLogger } from '../contracts/index.js';
import type { LifecycleEventRecord, Logger, SpanRecord } from '../contracts/index.js';
import type { SpanWriter, StoreMaintenance } from '../store/index.js';
import {
  DEFAULT_DEAD_LETTER_TOPIC,
  DEFAULT_INGEST_GROUP,
  DEFAULT_LIFECYCLE_TOPIC,
  DEFAULT_SPANS_TOPIC,
  DLQ_HEADER_ERROR,
  DLQ_HEADER_SOURCE_OFFSET,
  DLQ_HEADER_SOURCE_PARTITION,
  DLQ_HEADER_SOURCE_TOPIC,
  createKafka,
  decodeSpansMessage,
} from './_kafka.js';
import { TelemetryValidator } from './validate.js';
import type { ValidationOptions } from './validate.js';
import type { IngestMetrics } from './metrics.js';

const DAY_MILLIS = 86_400_000;

/** Options of {@link startIngest}. */
export interface IngestOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[];
  /** Where spans go; the caller opens (and migrates) it and closes it after {@link RunningIngest.stop}. */
  store: SpanWriter & StoreMaintenance;
  /** @default 'otlp_spans' */
  topic?: string;
  /** Topic of live lifecycle events to store too; `null` reads none. @default 'jobslo_lifecycle' */
  lifecycleTopic?: string | null;
  /** Consumer group; ingest processes of one group share the topic's partitions. @default 'jobslo-ingest' */
  groupId?: string;
  /** A batch is stored when it holds this many spans... @default 50_000 */
  batchMaxSpans?: number;
  /** ...or when its first message has waited this long, ms. @default 1_000 */
  batchMaxWaitMillis?: number;
  /**
   * Decoded spans waiting behind the batch being stored; past this, fetching
   * pauses (while heartbeating) until the store catches up. @default batchMaxSpans
   */
  maxBufferedSpans?: number;
  /**
   * Topic for messages that cannot be decoded or that the store rejects;
   * `null` drops them (logged and counted). @default 'otlp_spans_dlq'
   */
  deadLetterTopic?: string | null;
  /** Drop stored days older than this at start and daily; undefined keeps everything. */
  retentionDays?: number;
  /**
   * Keep the hour rollups this many days (at least `retentionDays`) instead
   * of dropping them with the raw data. @default retentionDays
   */
  rollupRetentionDays?: number;
  /** Partitions processed at once by this process. @default 4 */
  partitionsConsumedConcurrently?: number;
  /** Consumer group session timeout, ms. @default 30_000 */
  sessionTimeoutMillis?: number;
  /** @default 3_000 */
  heartbeatIntervalMillis?: number;
  /** First wait before retrying a failed insert, ms; doubles per attempt, with jitter. @default 250 */
  retryInitialMillis?: number;
  /** Longest wait between insert attempts, ms. @default 30_000 */
  retryMaxMillis?: number;
  /**
   * Insert failures other than "store unreachable" (those are retried until
   * the store is back) are retried this many times; then the batch is stored
   * message by message and the messages the store still rejects go to the
   * dead-letter topic. @default 3
   */
  rejectedRetries?: number;
  /** How long {@link RunningIngest.stop} may spend storing the current batch, ms. @default 30_000 */
  stopTimeoutMillis?: number;
  /** Where a group without committed offsets starts: the oldest message (true) or new ones only. @default true */
  fromBeginning?: boolean;
  /** @default 'jobslo-ingest' */
  clientId?: string;
  /**
   * Per-span validation, the same rules as the collector's: spans that fail
   * are counted in `rejectedSpans` and logged, the rest of the message is
   * stored; a lifecycle event that fails is dead-lettered.
   */
  validation?: ValidationOptions;
  /** Self-metrics to record into (messages, inserts, dead letters, lag per partition). @default none */
  metrics?: IngestMetrics;
  logger?: Logger;
}

/** Counters of a running ingest. */
export interface IngestStats {
  /** Kafka messages read (redeliveries included). */
  messages: number;
  /** Spans handed to the store in successful inserts. */
  storedSpans: number;
  /** Successful batch inserts. */
  batches: number;
  /** Spans left out by the decoder (bad ids) or by per-span validation (values the stores cannot hold or that are implausible). */
  rejectedSpans: number;
  /** Messages sent to (or, without a dead-letter topic, dropped instead of) the dead-letter topic. */
  deadLettered: number;
  /** Failed insert attempts that were retried. */
  insertRetries: number;
  /** Successful offset commits. */
  commits: number;
  /** Decoded spans not yet stored. */
  bufferedSpans: number;
}

/** A running ingest process. */
export interface RunningIngest {
  /** Resolves after {@link stop}; rejects when the Kafka consumer fails for good. */
  readonly done: Promise<void>;
  stats(): IngestStats;
  /** Stops fetching, stores and commits what was read (within the stop timeout), leaves the group. Idempotent. */
  stop(): Promise<void>;
}

/** A message's place in a partition and what it decoded to. */
interface Chunk {
  topic: string;
  partition: number;
  offset: string;
  /** Group generation the message was fetched in; only the current one's offsets are committed. */
  generation: number;
  spans: readonly SpanRecord[];
  /** Lifecycle events (messages of the lifecycle topic). */
  events: readonly LifecycleEventRecord[];
  message: KafkaMessage;
}

/** Wakes waiters; a waiter also wakes after its timeout. */
class Signal {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    const all = [...this.waiters];
    this.waiters.clear();
    for (const w of all) w();
  }

  wait(timeoutMillis: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMillis));
      this.waiters.add(done);
    });
  }
}

class StoppedError extends Error {}

/**
 * Creates missing topics with the broker's defaults (what auto-creation
 * would do) and waits for their leaders, so subscribing to a topic nobody
 * has written yet does not fail. Best effort: without the right to create
 * topics, subscribing reports the real problem.
 */
async function ensureTopics(kafka: Kafka, brokers: readonly string[], topics: string[], logger: Logger): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (cause) {
    throw new JobsloError(
      'JOBSLO_ERR_BUS_UNAVAILABLE',
      `cannot reach Kafka at ${brokers.join(',')}: ${errorMessage(cause)}. Check --brokers and that the brokers are running ` +
        '(for the development services run "bash scripts/services.sh up").',
      { cause },
    );
  }
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing.map((t) => ({ topic: t })), waitForLeaders: true });
      logger.info('created Kafka topics', { topics: missing.join(',') });
    }
  } catch (err) {
    logger.warn('could not check or create Kafka topics', { topics: topics.join(','), error: errorMessage(err) });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Exponential backoff with jitter: a wait in [base/2, base], base = min(max, initial * 2^(attempt-1)). */
export function backoffMillis(attempt: number, initialMillis: number, maxMillis: number, random: () => number = Math.random): number {
  const base = Math.min(maxMillis, initialMillis * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(base / 2 + (random() * base) / 2);
}

/**
 * Consumes OTLP trace requests from Kafka (the `otlp_proto` messages the
 * collector's Kafka sink or an OpenTelemetry Collector writes), stores their
 * spans in batches and commits offsets only after the batch's insert
 * succeeded: at-least-once. Redelivered messages are harmless because every
 * store treats repeated spans as one.
 *
 * Fetch and store overlap: messages are decoded and their offsets resolved
 * (so kafkajs keeps fetching) into a bounded buffer while the previous batch
 * is inserted; commits name exactly the offsets of the stored batch (not
 * kafkajs' resolved offsets, which run ahead of what is stored). While the
 * store is down, inserts are retried with backoff, nothing is committed,
 * fetching pauses when the buffer is full and the paused handlers keep
 * heartbeating so the group does not rebalance. Messages that cannot be
 * decoded go to the dead-letter topic with the reason in a `jobslo-error`
 * header and their source in `jobslo-source-topic`, `-partition` and
 * `-offset` headers; consumption goes on.
 *
 * @throws {JobsloError} `JOBSLO_ERR_BUS_UNAVAILABLE` when Kafka cannot be reached at start
 *   (after kafkajs' retries, about half a minute); what kafkajs throws when it cannot join the group
 */
export async function startIngest(options: IngestOptions): Promise<RunningIngest> {
  const logger = options.logger ?? noopLogger;
  const store = options.store;
  const topic = options.topic ?? DEFAULT_SPANS_TOPIC;
  const lifecycleTopic = options.lifecycleTopic === undefined ? DEFAULT_LIFECYCLE_TOPIC : options.lifecycleTopic;
  const topics = lifecycleTopic === null ? [topic] : [topic, lifecycleTopic];
  const groupId = options.groupId ?? DEFAULT_INGEST_GROUP;
  const batchMaxSpans = options.batchMaxSpans ?? 50_000;
  const batchMaxWait = options.batchMaxWaitMillis ?? 1_000;
  const maxBuffered = options.maxBufferedSpans ?? batchMaxSpans;
  const dlqTopic = options.deadLetterTopic === undefined ? DEFAULT_DEAD_LETTER_TOPIC : options.deadLetterTopic;
  const heartbeatInterval = options.heartbeatIntervalMillis ?? 3_000;
  const retryInitial = options.retryInitialMillis ?? 250;
  if (options.rollupRetentionDays !== undefined && (options.retentionDays === undefined || options.rollupRetentionDays < options.retentionDays)) {
    throw new ConfigError('rollupRetentionDays', `${options.rollupRetentionDays} needs retentionDays at most as long (got ${options.retentionDays ?? 'none'}): hour rollups can be kept longer than the raw data, not shorter`);
  }
  const retryMax = options.retryMaxMillis ?? 30_000;
  const rejectedRetries = options.rejectedRetries ?? 3;
  const stopTimeout = options.stopTimeoutMillis ?? 30_000;
  const validator = new TelemetryValidator(options.validation);

  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId ?? 'jobslo-ingest', logger, retries: 10, maxRetryTimeMillis: 5_000 });
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout: options.sessionTimeoutMillis ?? 30_000,
    heartbeatInterval,
    rebalanceTimeout: 60_000,
    maxWaitTimeInMs: 250,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 32 * 1024 * 1024,
    allowAutoTopicCreation: true,
  });
  const producer: Producer | undefined = dlqTopic === null ? undefined : kafka.producer({ allowAutoTopicCreation: true, idempotent: false, createPartitioner: Partitioners.DefaultPartitioner });

  const metrics = options.metrics;
  // Per topic/partition: the high watermark at the last fetch and the next offset to commit.
  const positions = new Map<string, { topic: string; partition: number; highWatermark: bigint; next: bigint }>();
  metrics?.registry.onCollect(() => {
    metrics.bufferedSpans.set(undefined, stats.bufferedSpans);
    metrics.lag.reset();
    for (const p of positions.values()) {
      const lag = p.highWatermark - p.next;
      metrics.lag.set({ topic: p.topic, partition: String(p.partition) }, Number(lag > 0n ? lag : 0n));
    }
  });
  const stats: IngestStats = { messages: 0, storedSpans: 0, batches: 0, rejectedSpans: 0, deadLettered: 0, insertRetries: 0, commits: 0, bufferedSpans: 0 };
  let buffer: { chunk: Chunk; addedAt: number }[] = [];
  let generation = 0;
  let activeHandlers = 0;
  let stopping = false;
  let hardStop = false;
  const room = new Signal();
  const work = new Signal();
  const stopSignal = new Signal();
  let failConsumer: (err: unknown) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => {
    failConsumer = reject;
  });
  crashed.catch(() => undefined);

  const sleep = async (ms: number): Promise<void> => {
    await stopSignal.wait(ms);
    if (hardStop) throw new StoppedError('ingest stopped');
  };

  const add = (chunk: Chunk): void => {
    buffer.push({ chunk, addedAt: Date.now() });
    stats.bufferedSpans += chunk.spans.length;
    if (stats.bufferedSpans >= batchMaxSpans || buffer.length === 1) work.notify();
  };

  const waitForRoom = async (heartbeat: () => Promise<void>): Promise<void> => {
    while (stats.bufferedSpans >= maxBuffered && !stopping) {
      await room.wait(heartbeatInterval);
      await heartbeat();
    }
  };

  const deadLetter = async (chunk: Pick<Chunk, 'topic' | 'partition' | 'offset' | 'message'>, kind: 'decode' | 'invalid' | 'rejected', reason: string, heartbeat?: () => Promise<void>): Promise<void> => {
    stats.deadLettered++;
    metrics?.deadLettered.inc({ topic: chunk.topic, reason: kind });
    const fields = { topic: chunk.topic, partition: chunk.partition, offset: chunk.offset, reason: reason.slice(0, 300) };
    if (producer === undefined || dlqTopic === null) {
      logger.error('dropping a message that cannot be stored (no dead-letter topic)', fields);
      return;
    }
    const headers: IHeaders = {
      ...(chunk.message.headers ?? {}),
      [DLQ_HEADER_ERROR]: reason.slice(0, 4_000),
      [DLQ_HEADER_SOURCE_TOPIC]: chunk.topic,
      [DLQ_HEADER_SOURCE_PARTITION]: String(chunk.partition),
      [DLQ_HEADER_SOURCE_OFFSET]: chunk.offset,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send({ topic: dlqTopic, acks: -1, messages: [{ key: chunk.message.key, value: chunk.message.value, headers }] });
        logger.warn('message sent to the dead-letter topic', { ...fields, deadLetterTopic: dlqTopic });
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0) logger.warn('dead-letter send failed; retrying', { ...fields, attempt, error: errorMessage(err) });
        await sleep(backoffMillis(attempt, retryInitial, retryMax));
        await heartbeat?.();
      }
    }
  };

  /** Inserts, retrying until the store takes it; resolves false when the store keeps rejecting it (not unreachable). */
  const insertWithRetry = async (
    rows: { spans: readonly SpanRecord[] } | { events: readonly LifecycleEventRecord[] },
    what: string,
  ): Promise<{ ok: true } | { ok: false; reason: string }> => {
    let failures = 0;
    let rejections = 0;
    const signal = 'spans' in rows ? 'spans' : 'lifecycle';
    for (;;) {
      const started = process.hrtime.bigint();
      const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
      try {
        if ('spans' in rows) await store.insertSpans(rows.spans);
        else await store.insertLifecycleEvents(rows.events);
        metrics?.insertDuration.observe({ signal, outcome: 'ok' }, seconds());
        metrics?.insertBatches.inc({ signal });
        if ('spans' in rows) metrics?.storedSpans.inc(undefined, rows.spans.length);
        else metrics?.storedEvents.inc(undefined, rows.events.length);
        if (failures > 0) logger.info('store accepts inserts again', { what, failedAttempts: failures });
        return { ok: true };
      } catch (err) {
        const unreachable = err instanceof StoreError && err.code === 'JOBSLO_ERR_STORE_UNREACHABLE';
        metrics?.insertDuration.observe({ signal, outcome: 'error' }, seconds());
        metrics?.insertErrors.inc({ signal, kind: unreachable ? 'unreachable' : 'rejected' });
        if (!unreachable && ++rejections > rejectedRetries) return { ok: false, reason: `store rejected the ${'spans' in rows ? 'spans' : 'lifecycle events'}: ${errorMessage(err)}` };
        failures++;
        stats.insertRetries++;
        const wait = backoffMillis(failures, retryInitial, retryMax);
        if (failures === 1 || failures % 10 === 0) {
          logger.warn('store insert failed; retrying, offsets not committed', { what, store: store.location, attempt: failures, retryInMillis: wait, error: errorMessage(err) });
        }
        await sleep(wait);
      }
    }
  };

  const commit = async (chunks: readonly Chunk[]): Promise<void> => {
    const latest = new Map<string, { topic: string; partition: number; offset: bigint }>();
    for (const c of chunks) {
      if (c.generation !== generation) continue;
      const key = `${c.partition}:${c.topic}`;
      const offset = BigInt(c.offset);
      const seen = latest.get(key);
      if (!seen || offset > seen.offset) latest.set(key, { topic: c.topic, partition: c.partition, offset });
    }
    if (latest.size === 0) return;
    try {
      await consumer.commitOffsets([...latest.values()].map((e) => ({ topic: e.topic, partition: e.partition, offset: (e.offset + 1n).toString() })));
      stats.commits++;
      metrics?.commits.inc();
      for (const [key, e] of latest) {
        const p = positions.get(key);
        if (p && e.offset + 1n > p.next) p.next = e.offset + 1n;
      }
    } catch (err) {
      // Not fatal: the messages are stored and will be delivered again, which changes nothing.
      logger.warn('offset commit failed; stored messages will be delivered again', { error: errorMessage(err) });
    }
  };

  const storeBatch = async (chunks: Chunk[]): Promise<void> => {
    const spans = chunks.length === 1 ? (chunks[0] as Chunk).spans : chunks.flatMap((c) => c.spans);
    if (spans.length > 0) {
      const result = await insertWithRetry({ spans }, `batch of ${spans.length} spans`);
      if (!result.ok) {
        logger.warn('store rejects a batch; storing its messages one by one to find the bad ones', { spans: spans.length, messages: chunks.length, error: result.reason });
        for (const c of chunks) {
          if (c.spans.length === 0) continue;
          const one = await insertWithRetry({ spans: c.spans }, `message ${c.topic}/${c.partition}@${c.offset}`);
          if (one.ok) stats.storedSpans += c.spans.length;
          else await deadLetter(c, 'rejected', one.reason);
        }
      } else {
        stats.storedSpans += spans.length;
      }
    }
    const events = chunks.flatMap((c) => c.events);
    if (events.length > 0) {
      const result = await insertWithRetry({ events }, `batch of ${events.length} lifecycle events`);
      if (!result.ok) {
        for (const c of chunks) {
          if (c.events.length === 0) continue;
          const one = await insertWithRetry({ events: c.events }, `message ${c.topic}/${c.partition}@${c.offset}`);
          if (!one.ok) await deadLetter(c, 'rejected', one.reason);
        }
      }
    }
    stats.batches++;
    await commit(chunks);
  };

  const flusher = async (): Promise<void> => {
    for (;;) {
      if (hardStop) return;
      const first = buffer[0];
      if (first === undefined) {
        if (stopping && activeHandlers === 0) return;
        await work.wait(stopping ? 50 : 1_000);
        continue;
      }
      const age = Date.now() - first.addedAt;
      const ready = stats.bufferedSpans >= batchMaxSpans || age >= batchMaxWait || (stopping && activeHandlers === 0);
      if (!ready) {
        await work.wait(batchMaxWait - age);
        continue;
      }
      let take = 0;
      let spans = 0;
      while (take < buffer.length && (take === 0 || spans + (buffer[take]?.chunk.spans.length ?? 0) <= batchMaxSpans)) {
        spans += buffer[take]?.chunk.spans.length ?? 0;
        take++;
      }
      const batch = buffer.slice(0, take).map((b) => b.chunk);
      buffer = buffer.slice(take);
      stats.bufferedSpans -= spans;
      room.notify();
      try {
        await storeBatch(batch);
      } catch (err) {
        if (err instanceof StoppedError) return;
        throw err;
      }
    }
  };

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> => {
    activeHandlers++;
    try {
      const gen = generation;
      if (metrics) {
        const key = `${batch.partition}:${batch.topic}`;
        const hw = BigInt(batch.highWatermark);
        const p = positions.get(key);
        if (p) p.highWatermark = hw;
        else positions.set(key, { topic: batch.topic, partition: batch.partition, highWatermark: hw, next: BigInt(batch.firstOffset() ?? batch.highWatermark) });
      }
      await waitForRoom(heartbeat);
      for (const message of batch.messages) {
        if (stopping || !isRunning() || isStale()) break;
        stats.messages++;
        metrics?.messages.inc({ topic: batch.topic });
        let spans: readonly SpanRecord[] = [];
        let events: readonly LifecycleEventRecord[] = [];
        const place = { topic: batch.topic, partition: batch.partition, offset: message.offset, message };
        // A null value is a tombstone and an empty one an empty request: nothing to store.
        if (batch.topic === lifecycleTopic) {
          if (message.value !== null && message.value.length > 0) {
            try {
              const event = lifecycleFromJson(JSON.parse(message.value.toString('utf8')) as unknown, 'message');
              const problem = validator.lifecycleProblem(event);
              if (problem === undefined) events = [event];
              else await deadLetter(place, 'invalid', `lifecycle event rejected: ${problem.reason} (${problem.detail})`, heartbeat);
            } catch (err) {
              await deadLetter(place, 'decode', `cannot decode lifecycle event: ${errorMessage(err)}`, heartbeat);
            }
          }
        } else if (message.value !== null && message.value.length > 0) {
          try {
            const decoded = decodeSpansMessage(message.value);
            const valid = validator.filterSpans(decoded.spans);
            spans = valid.spans;
            const rejected = decoded.rejectedSpans + valid.rejected.count;
            if (rejected > 0) {
              stats.rejectedSpans += rejected;
              metrics?.rejectedSpans.inc(undefined, rejected);
              logger.warn('message had invalid spans; storing the rest', {
                topic: batch.topic,
                partition: batch.partition,
                offset: message.offset,
                rejected,
                reason: [decoded.rejectionReason, valid.rejected.summary()].filter((r) => r !== '').join('; ').slice(0, 500),
              });
            }
          } catch (err) {
            await deadLetter(place, 'decode', `cannot decode OTLP ExportTraceServiceRequest: ${errorMessage(err)}`, heartbeat);
          }
        }
        add({ ...place, generation: gen, spans, events });
        resolveOffset(message.offset);
        if (stats.bufferedSpans >= maxBuffered) await waitForRoom(heartbeat);
      }
      await heartbeat();
    } finally {
      activeHandlers--;
      if (stopping) work.notify();
    }
  };

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    generation++;
    // Lag is reported for the partitions assigned now; their positions are learnt at the next fetch.
    positions.clear();
    const partitions = (e.payload.memberAssignment[topic] ?? []).join(',');
    const lifecyclePartitions = lifecycleTopic === null ? undefined : (e.payload.memberAssignment[lifecycleTopic] ?? []).join(',');
    logger.info('joined consumer group', { group: groupId, topic, partitions, lifecyclePartitions, leader: e.payload.isLeader });
  });
  consumer.on(consumer.events.CRASH, (e) => {
    if (e.payload.restart) {
      logger.warn('Kafka consumer failed; restarting it', { error: errorMessage(e.payload.error) });
    } else {
      failConsumer(e.payload.error);
    }
  });

  await ensureTopics(kafka, options.brokers, dlqTopic === null ? topics : [...topics, dlqTopic], logger);
  await consumer.connect();
  try {
    if (producer) await producer.connect();
    await consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 4,
      eachBatch,
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    throw err;
  }

  let retentionTimer: NodeJS.Timeout | undefined;
  if (options.retentionDays !== undefined) {
    const days = options.retentionDays;
    const rollupDays = options.rollupRetentionDays ?? days;
    const applyRetention = async (): Promise<void> => {
      try {
        const now = Date.now();
        const dropped = await store.dropBefore(now - days * DAY_MILLIS, { rollupsOlderThanMillis: now - rollupDays * DAY_MILLIS });
        logger.info('retention applied', { retentionDays: days, rollupRetentionDays: rollupDays, droppedDays: dropped.rawDays, droppedRollupPartitions: dropped.rollupPartitions });
      } catch (err) {
        logger.warn('retention failed; will try again in a day', { error: errorMessage(err) });
      }
    };
    await applyRetention();
    retentionTimer = setInterval(() => void applyRetention(), DAY_MILLIS);
    retentionTimer.unref();
  }

  logger.info('ingest running', { topic, group: groupId, store: store.location, deadLetterTopic: dlqTopic ?? 'none', batchMaxSpans, batchMaxWaitMillis: batchMaxWait });
  const flushing = flusher();
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      clearInterval(retentionTimer);
      room.notify();
      work.notify();
      try {
        consumer.pause([{ topic }]);
      } catch {
        // not running (crashed): nothing to pause
      }
      const finished = await Promise.race([flushing.then(() => true), stopSignal.wait(stopTimeout).then(() => false)]);
      if (!finished) hardStop = true;
      // Wakes every sleeper and clears their timers (a pending timer would keep the process alive).
      stopSignal.notify();
      if (!finished) {
        logger.warn('stopped before the current batch was stored; its messages will be delivered again', { bufferedSpans: stats.bufferedSpans });
        await flushing.catch(() => undefined);
      }
      await consumer.disconnect().catch((err: unknown) => logger.warn('consumer disconnect failed', { error: errorMessage(err) }));
      await producer?.disconnect().catch(() => undefined);
      logger.info('ingest stopped', { storedSpans: stats.storedSpans, messages: stats.messages });
    })();
    return stopped;
  };

  const done = Promise.race([
    flushing.then(() => stopped),
    crashed,
  ]).catch(async (err: unknown) => {
    if (!stopping) {
      logger.error('ingest failed', { error: errorMessage(err) });
      hardStop = true;
      stopSignal.notify();
      await consumer.disconnect().catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
    }
    throw err;
  });

  return { done: done.then(() => undefined), stats: () => ({ ...stats }), stop };
}
