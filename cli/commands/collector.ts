import { parseArgs } from 'node:util';
import { IngestPipeline, startCollector, startGrpcReceiver, startStoreThread } from '../../collector/index.js';
import type { ReadApiLimits, ReadStore, RunningCollector, RunningGrpcReceiver, SpanSink, TelemetryExporter } from '../../collector/index.js';
import { DEFAULT_LIFECYCLE_TOPIC, DEFAULT_SPANS_TOPIC, KafkaSink, parseBrokers, validateTopic } from '../../collector/index.js';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { clusterMetricsPeers, isClusterWorker, leaveCluster, runClusterPrimary } from '../../collector/cluster.js';
import { ConfigError, parseDurationMillis } from '../../contracts/index.js';
import { CollectorMetrics, collectorHooks } from '../../collector/metrics.js';
import { isLoopback } from '../../server/index.js';
import { SECURITY_HELP, SECURITY_OPTIONS, requireAuthOffLoopback, securityFrom } from '../_security.js';
import { parseStoreUrl, removeOwnerFile, writeOwnerFile } from '../../store/index.js';
import type { BearerAuth, MetricsSnapshot } from '../../server/index.js';
import type { Command } from '../command.js';
import { STORE_HELP, VALIDATION_FLAGS, VALIDATION_HELP, parsePort, parsePositiveInt, storeValue, validationOptions } from '../_options.js';

export const collectorCommand: Command = {
  name: 'collector',
  summary: 'Receive OTLP traces (gRPC and HTTP) from any job runner and store them',
  help: `Usage: jobslo collector [--port 4318] [--grpc-port 4317 | --no-grpc] [--host 127.0.0.1]
                        [--store URL] [--max-body-bytes N]
       jobslo collector --bus kafka --brokers HOST:PORT[,...] [--topic otlp_spans]
                        [--lifecycle-topic jobslo_lifecycle] [--bus-timeout 5s]
       [--ingest-token REF] [--read-token REF] [--tls-cert FILE --tls-key FILE]

Serves OTLP/gRPC (TraceService/Export, optionally gzip) on --grpc-port, and on
--port POST /v1/traces (OTLP/HTTP, application/x-protobuf or application/json,
optionally gzip), POST /v1/lifecycle (live lifecycle events from "jobslo run",
JSON, see docs/conventions.md), GET /metrics (its own metrics, Prometheus
text) and GET /health. Point OTEL_EXPORTER_OTLP_ENDPOINT
at http://HOST:4317 (protocol grpc) or http://HOST:4318 (http/protobuf, http/json).
Both receivers share one pipeline, its bounds and its validation
(docs/collector.md).
SIGTERM or SIGINT stops accepting, finishes in-flight requests and closes
the store. While it holds a DuckDB file, "jobslo analyze", "report", "alerts"
and "serve" on the same file read through it (POST /api/v1/store): on the
HTTP listener when it is plain HTTP on a loopback address, else on a listener
of its own on 127.0.0.1 (--read-port). With tokens set, those readers get a
token of their own from the file DUCKDB_FILE.collector.json (mode 0600).
On an address other than loopback the collector refuses to start without
--ingest-token unless --insecure-allow-unauthenticated is given.

Options:
  --port PORT         OTLP/HTTP port (default 4318, the OTLP/HTTP default)
  --grpc-port PORT    OTLP/gRPC port (default 4317, the OTLP/gRPC default; a free
                      port when --port is 0); messages up to --max-body-bytes,
                      100 concurrent calls per connection
  --no-grpc           serve OTLP/HTTP only
  --host ADDR         interface both listen on (default 127.0.0.1; 0.0.0.0 for all)
${STORE_HELP}
  --max-body-bytes N  largest request body, before and after decompression
                      (default 16777216 = 16 MiB); larger requests get 413
  --bus BUS           store (default): write spans to --store in this process;
                      kafka: publish each request to Kafka for "jobslo ingest"
                      (scale-out; see docs/scale-out.md)
  --brokers LIST      Kafka bootstrap brokers HOST:PORT[,HOST:PORT...] (--bus kafka)
  --topic NAME        Kafka topic (default otlp_spans); one message per request,
                      an OTLP ExportTraceServiceRequest in protobuf (otlp_proto)
  --lifecycle-topic T Kafka topic for live lifecycle events (default
                      jobslo_lifecycle); one JSON event per message
  --bus-timeout DUR   deadline for Kafka to acknowledge a request (all in-sync
                      replicas), e.g. 500ms, 5s (default 5s); when Kafka is
                      unreachable or slower, the request gets 503 + Retry-After
  --workers N|auto    processes serving the same ports, each with its own
                      Kafka producer (--bus kafka; default auto = one per
                      CPU core); with --bus store always 1 (one process
                      holds the store)

Backpressure (checked before a body is read; past a bound the answer is 429 +
Retry-After at once; see docs/collector.md for the memory bound they give):
  --max-in-flight-requests N  requests being read, decoded or stored at once
                      (default 64)
  --max-in-flight-bytes N     body bytes, as received plus decompressed, held
                      by all requests at once (default 67108864 = 64 MiB)
  --max-connections N open connections at once, on each of the HTTP and gRPC
                      listeners (default 1024); more are closed as they arrive

Authentication and TLS (both receivers; see docs/collector.md):
${SECURITY_HELP}
  --insecure-allow-unauthenticated
                      listen on a non-loopback --host without tokens: anyone
                      who can reach the ports may send telemetry
  --read-port PORT    port of the read API's own 127.0.0.1 listener, used when
                      --host is not loopback or TLS is on (default 0: any free
                      port, recorded in the owner file); DuckDB stores only:
                      on ClickHouse there is no read API
  --read-timeout DUR  time budget of one read API query once it runs (default
                      10s): past it the query is interrupted and answered
                      503, so a write waits behind a read at most this long

Span validation (a span that fails is rejected through OTLP partial success
with its reason; the rest of its request is stored):
${VALIDATION_HELP}
  -h, --help          show this help
`,
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        store: { type: 'string' },
        'max-body-bytes': { type: 'string' },
        bus: { type: 'string' },
        brokers: { type: 'string' },
        topic: { type: 'string' },
        'lifecycle-topic': { type: 'string' },
        'bus-timeout': { type: 'string' },
        'max-in-flight-requests': { type: 'string' },
        'max-in-flight-bytes': { type: 'string' },
        'max-connections': { type: 'string' },
        'grpc-port': { type: 'string' },
        'no-grpc': { type: 'boolean' },
        ...VALIDATION_FLAGS,
        ...SECURITY_OPTIONS,
        'insecure-allow-unauthenticated': { type: 'boolean', default: false },
        'read-port': { type: 'string' },
        'read-timeout': { type: 'string' },
        workers: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    const port = parsePort(values.port, '--port', 4318);
    const security = securityFrom(values, ctx);
    requireAuthOffLoopback(values.host, security.auth, values['insecure-allow-unauthenticated'], '--insecure-allow-unauthenticated');
    const metrics = new CollectorMetrics();
    const readPort = parsePort(values['read-port'], '--read-port', 0);
    const maxReadMillis = parseDurationMillis(values['read-timeout'] ?? '10s', '--read-timeout');
    if (maxReadMillis <= 0) throw new ConfigError('--read-timeout', 'must be a positive duration');
    const maxBodyBytes = parsePositiveInt(values['max-body-bytes'], '--max-body-bytes', 16 * 1024 * 1024);
    const receiver = {
      maxBodyBytes,
      admission: {
        maxInFlightRequests: parsePositiveInt(values['max-in-flight-requests'], '--max-in-flight-requests', 64),
        maxInFlightBytes: parsePositiveInt(values['max-in-flight-bytes'], '--max-in-flight-bytes', 64 * 1024 * 1024),
      },
      connections: { maxConnections: parsePositiveInt(values['max-connections'], '--max-connections', 1024) },
      validation: validationOptions(values),
      tls: security.tls,
      metrics,
      logger: ctx.logger,
    };
    const bus = values.bus ?? 'store';
    if (bus !== 'store' && bus !== 'kafka') throw new ConfigError('--bus', `"${bus}" is not a bus; use store or kafka`);
    const workers = values.workers === undefined || values.workers === 'auto' ? (bus === 'kafka' ? availableParallelism() : 1) : parsePositiveInt(values.workers, '--workers', 1);
    if (bus === 'store' && workers > 1) throw new ConfigError('--workers', 'applies to --bus kafka; with --bus store one process holds the store (use --workers 1)');
    if (bus === 'store') {
      for (const flag of ['brokers', 'topic', 'lifecycle-topic', 'bus-timeout'] as const) {
        if (values[flag] !== undefined) throw new ConfigError(`--${flag}`, 'only applies with --bus kafka');
      }
    }
    // With --port 0 (any free port) the gRPC port defaults to a free one too, so such collectors never collide.
    const grpcPort = values['no-grpc'] ? undefined : parsePort(values['grpc-port'], '--grpc-port', port === 0 ? 0 : 4317);
    if (values['no-grpc'] && values['grpc-port'] !== undefined) throw new ConfigError('--grpc-port', 'does not apply with --no-grpc');

    /** Serves HTTP and gRPC from one pipeline until the signal, then closes both and the sink. */
    const serve = async (
      sink: SpanSink,
      extra: {
        exporter?: TelemetryExporter;
        readStore?: ReadStore;
        readLimits?: ReadApiLimits;
        readListener?: { host: string; port: number };
        auth?: BearerAuth;
        metricsPeers?: () => Promise<MetricsSnapshot[]>;
        describe: Record<string, string>;
      },
    ): Promise<{ url: string; readUrl?: string; stop: () => Promise<void> }> => {
      const hooks = collectorHooks({ auth: security.auth, metrics, logger: ctx.logger });
      const pipeline = new IngestPipeline({
        sink,
        ...(extra.exporter ? { exporter: extra.exporter } : {}),
        admission: receiver.admission,
        validation: receiver.validation,
        hooks,
        logger: ctx.logger,
      });
      let http: RunningCollector | undefined;
      let grpc: RunningGrpcReceiver | undefined;
      try {
        http = await startCollector({
          ...receiver,
          sink,
          pipeline,
          port,
          host: values.host,
          auth: extra.auth ?? security.auth,
          metricsPeers: extra.metricsPeers ?? clusterMetricsPeers(metrics.registry),
          ...(extra.readStore ? { readStore: extra.readStore } : {}),
          ...(extra.readLimits ? { readLimits: extra.readLimits } : {}),
          ...(extra.readListener ? { readListener: extra.readListener } : {}),
        });
        if (grpcPort !== undefined) {
          grpc = await startGrpcReceiver({
            pipeline,
            port: grpcPort,
            host: values.host,
            maxReceiveMessageBytes: maxBodyBytes,
            maxConnections: receiver.connections.maxConnections,
            tls: security.tls,
            logger: ctx.logger,
          });
        }
      } catch (err) {
        await http?.close();
        await sink.close();
        throw err;
      }
      ctx.logger.info('collector listening', { url: `${http.url}/v1/traces`, grpc: grpc ? grpc.address : 'off', ...extra.describe });
      const running = http;
      return {
        url: running.url,
        ...(running.readUrl !== undefined ? { readUrl: running.readUrl } : {}),
        stop: async () => {
          await Promise.all([grpc?.close(), running.close()]);
          await sink.close();
        },
      };
    };
    const untilSignal = (): Promise<void> =>
      new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });

    if (bus === 'kafka') {
      for (const flag of ['read-port', 'read-timeout'] as const) {
        if (values[flag] !== undefined) throw new ConfigError(`--${flag}`, 'only applies with --bus store (the read API serves the store this process holds)');
      }
      if (values.store !== undefined) throw new ConfigError('--store', 'does not apply with --bus kafka; "jobslo ingest --store ..." stores what the collector publishes');
      if (values.brokers === undefined) throw new ConfigError('--brokers', 'is required with --bus kafka, e.g. --brokers 127.0.0.1:9092');
      const timeoutMillis = parseDurationMillis(values['bus-timeout'] ?? '5s', '--bus-timeout');
      if (timeoutMillis <= 0) throw new ConfigError('--bus-timeout', 'must be a positive duration');
      const sink = new KafkaSink({
        brokers: parseBrokers(values.brokers),
        topic: validateTopic(values.topic ?? DEFAULT_SPANS_TOPIC, '--topic'),
        lifecycleTopic: validateTopic(values['lifecycle-topic'] ?? DEFAULT_LIFECYCLE_TOPIC, '--lifecycle-topic'),
        timeoutMillis,
        logger: ctx.logger,
      });
      // Several processes share the ports; each worker runs this same command line (the primary's sink never connects).
      if (workers > 1 && !isClusterWorker()) return runClusterPrimary({ workers, signal: ctx.signal, logger: ctx.logger });
      await sink.start();
      const running = await serve(metrics.instrument(sink, 'kafka'), { describe: { bus: 'kafka', topic: values.topic ?? DEFAULT_SPANS_TOPIC } });
      await untilSignal();
      ctx.logger.info('shutting down collector', { signal: String(ctx.signal.reason) });
      await running.stop();
      leaveCluster();
      return 0;
    }
    const storeUrl = parseStoreUrl(storeValue(values.store, ctx));
    // The read API serves the readers of a DuckDB file, which only this process can open; ClickHouse is read directly.
    const readThrough = storeUrl.kind === 'duckdb';
    if (!readThrough) {
      for (const flag of ['read-port', 'read-timeout'] as const) {
        if (values[flag] !== undefined) throw new ConfigError(`--${flag}`, 'only applies with a DuckDB store (the read API serves the DuckDB file this process holds)');
      }
    }
    // The store, decoding and validation run on a thread of their own, so this one always answers at once.
    const store = await startStoreThread({ store: storeValue(values.store, ctx), env: ctx.env, validation: receiver.validation, logger: ctx.logger });
    // Readers of the DuckDB file on this machine get a token through the owner
    // file (readable by the file's owner only), so read-through works when
    // tokens are required without handing them the configured ones.
    const localToken = security.auth.enabled ? randomBytes(32).toString('hex') : undefined;
    // The read API answers any query about the stored runs: only on a plain
    // loopback listener, the HTTP receiver's when it is one, else one of its own.
    const ownReadListener = !isLoopback(values.host) || security.tls !== undefined;
    const running = await serve(store.sink, {
      exporter: store.exporter,
      ...(readThrough ? { readStore: store.reads, readLimits: { maxReadMillis } } : {}),
      metricsPeers: async () => [await store.metricsSnapshot()],
      ...(readThrough && ownReadListener ? { readListener: { host: '127.0.0.1', port: readPort } } : {}),
      ...(readThrough && localToken !== undefined ? { auth: security.auth.withTokens('read', [localToken]) } : {}),
      describe: { store: store.location },
    });
    // Other jobslo commands read a DuckDB file this process holds through us.
    if (storeUrl.kind === 'duckdb') writeOwnerFile(storeUrl.path, running.readUrl ?? running.url, localToken);
    await untilSignal();
    ctx.logger.info('shutting down collector', { signal: String(ctx.signal.reason) });
    await running.stop();
    if (storeUrl.kind === 'duckdb') removeOwnerFile(storeUrl.path);
    return 0;
  },
};

export { isLoopback };
