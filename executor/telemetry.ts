/**
 * The CLI's span pipeline: a plain `BasicTracerProvider` with a batch
 * processor and the OTLP/HTTP (JSON) exporter, wrapped so delivery failures
 * are observed, flushed within a bounded time at exit. See executor/README.md
 * for why this is not `@opentelemetry/sdk-node`.
 */
import { connect } from 'node:net';
import type { Tracer } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, errorMessage } from '../contracts/index.js';
import { TRACER_NAME } from './options.js';
import { resourceFromEnv } from './resource.js';

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions {
  /** Full OTLP/HTTP traces URL (see `resolveTracesEndpoint`). */
  tracesUrl: string;
  /** Bound on the final flush, and on each export request. @default 5_000 */
  exportTimeoutMillis?: number;
  /**
   * Resource `service.name`. @default env `OTEL_SERVICE_NAME`, else
   * `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else `jobslo`
   */
  serviceName?: string;
  /**
   * Headers sent with every export, e.g. `Authorization` (see
   * `resolveTraceHeaders`). Given explicitly, they replace what the OTLP
   * exporter would read from `process.env` itself. Never logged. @default none
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * Where `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` are read
   * (see executor/resource.ts). @default `process.env`
   */
  env?: NodeJS.ProcessEnv;
  /** The exporter to wrap, for tests. @default OTLP/HTTP JSON to `tracesUrl` */
  exporter?: SpanExporter;
}

/** How delivery went, from the exporter's results. */
export interface DeliveryReport {
  /** `true` when every span was accepted by the collector in time. */
  delivered: boolean;
  exportedSpans: number;
  failedSpans: number;
  /** Why delivery failed (first cause), when it did. */
  reason?: string;
}

/** A running pipeline. */
export interface Telemetry {
  tracer: Tracer;
  provider: BasicTracerProvider;
  /** Resource attributes the spans carry (besides the SDK's own `telemetry.sdk.*`). */
  resourceAttributes: Record<string, string>;
  /** Set when `OTEL_RESOURCE_ATTRIBUTES` was malformed and ignored as a whole: why. */
  resourceWarning?: string;
  /**
   * Flushes and shuts down within the export timeout. Never rejects. If the
   * collector refuses connections (or its host does not resolve), spans are
   * dropped at once instead of being retried until the timeout: a CLI must
   * not hang on a collector that is not there.
   */
  shutdown(): Promise<DeliveryReport>;
}

/**
 * A span exporter that counts what its delegate accepted and refused, loads
 * the delegate lazily (the OTLP exporter module is imported while the job
 * runs, off the start-up path) and can be switched to drop spans.
 */
export class ObservedExporter implements SpanExporter {
  exportedSpans = 0;
  failedSpans = 0;
  firstError: string | undefined;
  private delegate: Promise<SpanExporter> | undefined;
  private dropReason: string | undefined;

  constructor(private readonly load: () => Promise<SpanExporter>) {}

  /** Starts loading the delegate now. */
  preload(): void {
    this.get().catch(() => {
      // reported by the export that needs it
    });
  }

  /** From now on, fail every export at once with `reason`. */
  drop(reason: string): void {
    this.dropReason = reason;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const n = spans.length;
    const fail = (error: Error): void => {
      this.failedSpans += n;
      this.firstError ??= errorMessage(error);
      resultCallback({ code: ExportResultCode.FAILED, error });
    };
    if (this.dropReason !== undefined) {
      fail(new Error(this.dropReason));
      return;
    }
    this.get().then(
      (exporter) =>
        exporter.export(spans, (result) => {
          if (result.code === ExportResultCode.SUCCESS) {
            this.exportedSpans += n;
            resultCallback(result);
          } else {
            fail(result.error ?? new Error('export failed'));
          }
        }),
      (err: unknown) => fail(new Error(`cannot load the OTLP exporter: ${errorMessage(err)}`, { cause: err })),
    );
  }

  async forceFlush(): Promise<void> {
    if (this.delegate) await (await this.delegate).forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.delegate) await (await this.delegate).shutdown();
  }

  private get(): Promise<SpanExporter> {
    return (this.delegate ??= this.load());
  }
}

/** Delay before the OTLP exporter module is loaded in the background. */
const PRELOAD_DELAY_MILLIS = 50;

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Opens (and closes) a TCP connection to the collector. Resolves to an error
 * message when the collector is definitely unreachable, else `undefined`
 * (including when the probe itself times out: then the exporter decides).
 */
export function probeCollector(url: string, timeoutMillis: number): Promise<string | undefined> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.resolve(`invalid URL ${url}`);
  }
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(undefined), timeoutMillis);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(UNREACHABLE.has(err.code ?? '') ? err.message : undefined));
  });
}

/**
 * Starts a tracer provider exporting to `tracesUrl`. Does not register it
 * globally.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const exportTimeoutMillis = options.exportTimeoutMillis ?? 5_000;
  const fromEnv = resourceFromEnv(options.env ?? process.env);
  const resourceAttributes = { ...fromEnv.attributes, [ATTR_SERVICE_NAME]: options.serviceName ?? fromEnv.attributes[ATTR_SERVICE_NAME] ?? 'jobslo' };
  const given = options.exporter;
  const exporter = new ObservedExporter(async () => {
    if (given) return given;
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url: options.tracesUrl, timeoutMillis: exportTimeoutMillis, ...(options.headers && Object.keys(options.headers).length > 0 ? { headers: { ...options.headers } } : {}) });
  });
  // Load the OTLP exporter while a job runs; a job that ends sooner finds out
  // first whether the collector is reachable at all (if not, it never loads).
  const preload = setTimeout(() => exporter.preload(), PRELOAD_DELAY_MILLIS);
  preload.unref();
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes(resourceAttributes)),
    spanProcessors: [new BatchSpanProcessor(exporter, { exportTimeoutMillis })],
  });
  const tracer = provider.getTracer(TRACER_NAME);

  async function shutdown(): Promise<DeliveryReport> {
    clearTimeout(preload);
    const started = Date.now();
    if (!given) {
      const down = await probeCollector(options.tracesUrl, Math.min(1_000, exportTimeoutMillis));
      if (down !== undefined) exporter.drop(`collector unreachable (${down})`);
    }
    const remaining = Math.max(0, exportTimeoutMillis - (Date.now() - started));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      provider.shutdown().then(
        () => false,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), remaining);
      }),
    ]);
    clearTimeout(timer);
    const report: DeliveryReport = {
      delivered: !timedOut && exporter.failedSpans === 0,
      exportedSpans: exporter.exportedSpans,
      failedSpans: exporter.failedSpans,
    };
    if (timedOut) report.reason = `export did not finish within ${exportTimeoutMillis} ms`;
    else if (exporter.firstError !== undefined) report.reason = exporter.firstError;
    return report;
  }

  const telemetry: Telemetry = { tracer, provider, resourceAttributes, shutdown };
  if (fromEnv.warning !== undefined) telemetry.resourceWarning = fromEnv.warning;
  return telemetry;
}
