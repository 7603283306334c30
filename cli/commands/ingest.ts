import { parseArgs } from 'node:util';
import {
  DEFAULT_DEAD_LETTER_TOPIC,
  DEFAULT_INGEST_GROUP,
  DEFAULT_LIFECYCLE_TOPIC,
  DEFAULT_SPANS_TOPIC,
  parseBrokers,
  startIngest,
  validateTopic,
} from '../../collector/index.js';
import { ConfigError, parseDurationMillis } from '../../contracts/index.js';
import { openStore } from '../../store/index.js';
import type { Command } from '../command.js';
import { STORE_HELP, VALIDATION_FLAGS, VALIDATION_HELP, parsePositiveInt, storeValue, validationOptions } from '../_options.js';

export const ingestCommand: Command = {
  name: 'ingest',
  summary: 'Consume OTLP spans from Kafka and store them (scale-out path)',
  help: `Usage: jobslo ingest --brokers HOST:PORT[,...] --store URL [--group jobslo-ingest]
                     [--topic otlp_spans] [--lifecycle-topic jobslo_lifecycle]
                     [--batch-max-spans 50000] [--batch-max-wait 1s]
                     [--dead-letter-topic otlp_spans_dlq] [--retention-days N] [--session-timeout 30s]

Reads the OTLP trace requests that "jobslo collector --bus kafka" (or an
OpenTelemetry Collector's Kafka exporter with encoding otlp_proto) publishes,
and inserts their spans into the store in batches. Offsets are committed
only after the batch is stored (at-least-once; repeated spans change no SLI).
Start several ingest processes with the same --group to share the topic's
partitions. While the store is unreachable, inserts are retried with backoff
and nothing is committed; ingestion catches up when it is back. Messages
that cannot be decoded go to the dead-letter topic with the reason in the
"jobslo-error" header. SIGTERM or SIGINT: stop fetching, store and commit
the current batch, leave the group.

Options:
  --brokers LIST          Kafka bootstrap brokers HOST:PORT[,HOST:PORT...] (required)
${STORE_HELP.replace(/^ {2}--store URL {9}/, '  --store URL             ').replace(/\n {22}/, '\n                          ')}
  --group NAME            consumer group (default ${DEFAULT_INGEST_GROUP})
  --topic NAME            topic to read (default ${DEFAULT_SPANS_TOPIC})
  --lifecycle-topic T     topic of live lifecycle events to store too
                          (default ${DEFAULT_LIFECYCLE_TOPIC}; "" reads none)
  --batch-max-spans N     store a batch when it holds N spans (default 50000)
  --batch-max-wait DUR    ...or when its first message waited this long (default 1s)
  --dead-letter-topic T   topic for undecodable or rejected messages
                          (default ${DEFAULT_DEAD_LETTER_TOPIC}; "" drops them, logged)
  --retention-days N      drop stored days older than N days, at start and daily
                          (default: keep everything)
  --session-timeout DUR   how long the group waits for a crashed ingest process
                          before giving its partitions to the others (default 30s,
                          at least 6s; the broker's group.min/max.session.timeout.ms bound it)
Span validation (the collector's rules; rejected spans are logged and counted,
the rest of their message stored; a rejected lifecycle event is dead-lettered):
${VALIDATION_HELP}
  -h, --help              show this help
`,
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: {
        brokers: { type: 'string' },
        store: { type: 'string' },
        group: { type: 'string' },
        ...VALIDATION_FLAGS,
        topic: { type: 'string' },
        'lifecycle-topic': { type: 'string' },
        'batch-max-spans': { type: 'string' },
        'batch-max-wait': { type: 'string' },
        'dead-letter-topic': { type: 'string' },
        'retention-days': { type: 'string' },
        'session-timeout': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.brokers === undefined) throw new ConfigError('--brokers', 'is required, e.g. --brokers 127.0.0.1:9092');
    const brokers = parseBrokers(values.brokers);
    const topic = validateTopic(values.topic ?? DEFAULT_SPANS_TOPIC, '--topic');
    const group = values.group ?? DEFAULT_INGEST_GROUP;
    if (group.trim() === '') throw new ConfigError('--group', 'must not be empty');
    const batchMaxSpans = parsePositiveInt(values['batch-max-spans'], '--batch-max-spans', 50_000);
    const batchMaxWaitMillis = parseDurationMillis(values['batch-max-wait'] ?? '1s', '--batch-max-wait');
    if (batchMaxWaitMillis <= 0) throw new ConfigError('--batch-max-wait', 'must be a positive duration');
    const dlq = values['dead-letter-topic'] ?? DEFAULT_DEAD_LETTER_TOPIC;
    const deadLetterTopic = dlq === '' ? null : validateTopic(dlq, '--dead-letter-topic');
    if (deadLetterTopic === topic) throw new ConfigError('--dead-letter-topic', 'must differ from --topic');
    const lc = values['lifecycle-topic'] ?? DEFAULT_LIFECYCLE_TOPIC;
    const lifecycleTopic = lc === '' ? null : validateTopic(lc, '--lifecycle-topic');
    if (lifecycleTopic !== null && (lifecycleTopic === topic || lifecycleTopic === deadLetterTopic)) {
      throw new ConfigError('--lifecycle-topic', 'must differ from --topic and --dead-letter-topic');
    }
    const retentionDays = values['retention-days'] === undefined ? undefined : parsePositiveInt(values['retention-days'], '--retention-days', 1);

    const validation = validationOptions(values);
    const sessionTimeoutMillis = parseDurationMillis(values['session-timeout'] ?? '30s', '--session-timeout');
    if (sessionTimeoutMillis < 6_000) throw new ConfigError('--session-timeout', 'must be at least 6s (Kafka brokers refuse shorter sessions by default)');

    const store = await openStore(storeValue(values.store, ctx));
    try {
      const ingest = await startIngest({
        brokers,
        store,
        topic,
        lifecycleTopic,
        groupId: group,
        batchMaxSpans,
        batchMaxWaitMillis,
        deadLetterTopic,
        sessionTimeoutMillis,
        heartbeatIntervalMillis: Math.min(3_000, Math.floor(sessionTimeoutMillis / 3)),
        ...(retentionDays !== undefined ? { retentionDays } : {}),
        validation,
        logger: ctx.logger,
      });
      const onAbort = (): void => {
        ctx.logger.info('shutting down ingest', { signal: String(ctx.signal.reason) });
        void ingest.stop();
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        await ingest.done;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};
