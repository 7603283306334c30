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
import { ConfigError, errorMessage, parseDurationMillis } from '../../contracts/index.js';
import { openStore } from '../../store/index.js';
import { IngestMetrics } from '../../collector/metrics.js';
import { PROMETHEUS_CONTENT_TYPE, authorizeRequest, listen } from '../../server/index.js';
import type { Listener } from '../../server/index.js';
import { READ_SECURITY_HELP, SECURITY_OPTIONS, requireAuthOffLoopback, securityFrom } from '../_security.js';
import type { Command } from '../command.js';
import { RETENTION_FLAGS, STORE_HELP, VALIDATION_FLAGS, VALIDATION_HELP, parsePositiveInt, retentionDays, retentionHelp, storeValue, validationOptions } from '../_options.js';

export const ingestCommand: Command = {
  name: 'ingest',
  summary: 'Consume OTLP spans from Kafka and store them (scale-out path)',
  help: `Usage: jobslo ingest --brokers HOST:PORT[,...] --store URL [--group jobslo-ingest]
                     [--topic otlp_spans] [--lifecycle-topic jobslo_lifecycle]
                     [--batch-max-spans 50000] [--batch-max-wait 1s]
                     [--dead-letter-topic otlp_spans_dlq] [--retention-days N [--rollup-retention-days M]]
                     [--session-timeout 30s]
                     [--metrics 127.0.0.1:9465|off] [--read-token REF] [--tls-cert FILE --tls-key FILE]
                     [--insecure-allow-unauthenticated]

Reads the OTLP trace requests that "jobslo collector --bus kafka" (or an
OpenTelemetry Collector's Kafka exporter with encoding otlp_proto) publishes,
and inserts their spans into the store in batches. Offsets are committed
only after the batch is stored (at-least-once; repeated spans change no SLI).
Start several ingest processes with the same --group to share the topic's
partitions. While the store is unreachable, inserts are retried with backoff
and nothing is committed; ingestion catches up when it is back. Messages
that cannot be decoded go to the dead-letter topic with the reason in the
"jobslo-error" header. SIGTERM or SIGINT: stop fetching, store and commit
the current batch, leave the group. Its own metrics (messages, inserts,
dead letters, lag per partition; Prometheus text) are served at
GET /metrics on --metrics, with GET /health.

Options:
  --brokers LIST          Kafka bootstrap brokers HOST:PORT[,HOST:PORT...] (required)
${STORE_HELP.replace(/^ {2}--store URL {9}/, '  --store URL             ').replace(/\n {22}/g, '\n                          ')}
  --group NAME            consumer group (default ${DEFAULT_INGEST_GROUP})
  --topic NAME            topic to read (default ${DEFAULT_SPANS_TOPIC})
  --lifecycle-topic T     topic of live lifecycle events to store too
                          (default ${DEFAULT_LIFECYCLE_TOPIC}; "" reads none)
  --batch-max-spans N     store a batch when it holds N spans (default 50000)
  --batch-max-wait DUR    ...or when its first message waited this long (default 1s)
  --dead-letter-topic T   topic for undecodable or rejected messages
                          (default ${DEFAULT_DEAD_LETTER_TOPIC}; "" drops them, logged)
${retentionHelp('at start and daily')}
  --session-timeout DUR   how long the group waits for a crashed ingest process
                          before giving its partitions to the others (default 30s,
                          at least 6s; the broker's group.min/max.session.timeout.ms bound it)
  --metrics ADDR:PORT     where to serve /metrics and /health (default
                          127.0.0.1:9465, skipped with a warning when taken;
                          port 0 picks a free one; off: none). An address other
                          than loopback needs --read-token, unless
                          --insecure-allow-unauthenticated is given
  --insecure-allow-unauthenticated
                          serve /metrics on a non-loopback --metrics address
                          without a token (anyone who can reach it reads it)
${READ_SECURITY_HELP.replace(/^ {2}(--[a-z-]+(?: [A-Z]+)?) +/gm, (_m, f: string) => `  ${f.padEnd(22)}  `).replace(/\n {22}/g, '\n                          ')}

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
        ...RETENTION_FLAGS,
        'session-timeout': { type: 'string' },
        metrics: { type: 'string' },
        'read-token': SECURITY_OPTIONS['read-token'],
        'tls-cert': SECURITY_OPTIONS['tls-cert'],
        'tls-key': SECURITY_OPTIONS['tls-key'],
        'insecure-allow-unauthenticated': { type: 'boolean', default: false },
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
    const retention = retentionDays(values);

    const validation = validationOptions(values);
    const sessionTimeoutMillis = parseDurationMillis(values['session-timeout'] ?? '30s', '--session-timeout');
    if (sessionTimeoutMillis < 6_000) throw new ConfigError('--session-timeout', 'must be at least 6s (Kafka brokers refuse shorter sessions by default)');

    const metricsAt = parseListenAddress(values.metrics ?? '127.0.0.1:9465', '--metrics');
    const security = securityFrom(values, ctx, ['read']);
    if (metricsAt === undefined && (values['read-token'] !== undefined || values['tls-cert'] !== undefined)) {
      throw new ConfigError(values['read-token'] !== undefined ? '--read-token' : '--tls-cert', 'applies to the metrics listener, which --metrics off turns off');
    }
    if (metricsAt !== undefined) {
      requireAuthOffLoopback(metricsAt.host, security.auth, values['insecure-allow-unauthenticated'], '--insecure-allow-unauthenticated', {
        addressFlag: '--metrics',
        tokenFlags: '--read-token',
        consequence: 'let anyone who can reach it read the metrics',
      });
    }
    const metrics = new IngestMetrics();
    let metricsListener: Listener | undefined;
    if (metricsAt !== undefined) {
      const listening = listen(
        (req, res) => {
          const path = (req.url ?? '/').split('?')[0];
          if (path === '/health') {
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
            return;
          }
          if (!authorizeRequest(security.auth, 'read', req, res)) return;
          if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(metrics.registry.render());
          else res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":5,"message":"try GET /metrics"}');
        },
        { ...metricsAt, tls: security.tls },
      );
      try {
        metricsListener = await listening;
        ctx.logger.info('ingest metrics listening', { url: `${metricsListener.url}/metrics` });
      } catch (cause) {
        // The default port taken (another ingest on this host) costs the metrics, not the ingest.
        if (values.metrics === undefined) ctx.logger.warn('metrics not served: cannot listen on 127.0.0.1:9465; set --metrics HOST:PORT', { error: errorMessage(cause) });
        else throw new ConfigError('--metrics', `cannot listen on ${values.metrics}: ${errorMessage(cause)}; choose another address or --metrics off`, { cause });
      }
    }
    let store;
    try {
      store = await openStore(storeValue(values.store, ctx), ctx.env);
    } catch (err) {
      metricsListener?.server.close();
      throw err;
    }
    try {
      const ingest = await startIngest({
        metrics,
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
        ...retention,
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
      if (metricsListener) {
        const server = metricsListener.server;
        await new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections();
      }
    }
  },
};

/**
 * Parses `HOST:PORT` (`[::1]:PORT` for IPv6) or `off`.
 * @throws {ConfigError} naming the flag
 */
export function parseListenAddress(value: string, flag: string): { host: string; port: number } | undefined {
  if (value === 'off') return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new ConfigError(flag, `"${value}" is not HOST:PORT (e.g. 127.0.0.1:9465) or off`);
  return { host: (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}
