import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerOptions, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate } from 'node:zlib';
import { errorMessage, noopLogger } from '../contracts/index.js';
import type { Logger } from '../contracts/index.js';
import { encodeRpcStatus, encodeTraceResponse } from './otlp/index.js';
import { IngestPipeline, OUTCOME_STATUS, outcomeMessage, retryAfterSeconds } from './pipeline.js';
import type { AdmissionLimits, Admitted, ExportOutcome, Lease, PipelineHooks, RequestInfo } from './pipeline.js';
import type { ValidationOptions } from './validate.js';
import type { SpanSink } from './sink.js';
import { ReadApi } from './read-api.js';
import type { ReadApiLimits, ReadStore } from './read-api.js';
import { BearerAuth, PROMETHEUS_CONTENT_TYPE, authorizeRequest } from '../server/index.js';
import type { MetricsSnapshot, TlsMaterial } from '../server/index.js';
import type { CollectorMetrics } from './metrics.js';

/** Per-connection limits of the HTTP listener (see docs/collector.md). */
export interface HttpConnectionLimits {
  /** Time to receive a request's headers, ms. @default 10_000 */
  headersTimeoutMillis?: number;
  /** Time to receive a whole request (headers and body), ms. @default 30_000 */
  requestTimeoutMillis?: number;
  /** How long an idle keep-alive connection stays open, ms. @default 5_000 */
  keepAliveTimeoutMillis?: number;
  /** Open connections at once; more are closed as they arrive. @default 1_024 */
  maxConnections?: number;
}

/** Options of {@link startCollector}. */
export interface CollectorOptions {
  /** Where telemetry goes; ignored when `pipeline` is given. */
  sink: SpanSink;
  /** An existing pipeline to serve (shared with a gRPC receiver); built from the options below when absent. */
  pipeline?: IngestPipeline;
  /** TCP port; 0 picks a free one. @default 4318 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /**
   * Largest request body accepted, in bytes, both as received and after
   * decompression (so a small gzip bomb is refused too). @default 16_777_216 (16 MiB)
   */
  maxBodyBytes?: number;
  /** In-flight bounds (requests, body bytes) of the pipeline. */
  admission?: AdmissionLimits;
  /** Accepted time ranges and plausibility rules of per-span validation. */
  validation?: ValidationOptions;
  /** Auth and metrics hooks of the pipeline. */
  hooks?: PipelineHooks;
  connections?: HttpConnectionLimits;
  /**
   * Store to answer `POST /api/v1/store` read queries from, so other jobslo
   * processes can read a DuckDB file this process holds. @default none (404)
   */
  readStore?: ReadStore;
  /** Bounds of the read API. */
  readLimits?: ReadApiLimits;
  /**
   * Serve the read API on a plain-HTTP listener of its own (a loopback
   * address) instead of this one, for when this one is public or uses TLS.
   * @default the read API is served on this listener
   */
  readListener?: { host: string; port: number };
  /**
   * Bearer tokens for the HTTP-only routes: scope `read` for `/metrics` and
   * the read API. Telemetry routes are authorized by the pipeline's
   * `authorize` hook (see `collectorHooks`). `/health` is always open.
   * @default none (no authentication)
   */
  auth?: BearerAuth;
  /** Serve HTTPS with this certificate. @default plain HTTP */
  tls?: TlsMaterial | undefined;
  /** Self-metrics served at `GET /metrics` (record them with `collectorHooks`). @default none (no /metrics) */
  metrics?: CollectorMetrics;
  /** Snapshots of the other processes serving this port (cluster workers), merged into `/metrics`. */
  metricsPeers?: () => Promise<MetricsSnapshot[]>;
  logger?: Logger;
}

/** A running collector. */
export interface RunningCollector {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly pipeline: IngestPipeline;
  /** Base URL of the read API when it has a listener of its own. */
  readonly readUrl?: string;
  /** Stops accepting, waits for in-flight requests, closes the sink. */
  close(): Promise<void>;
}

type Format = 'proto' | 'json';

function formatOf(contentType: string | undefined): Format | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'proto';
  if (type === 'application/json') return 'json';
  return undefined;
}

function requestInfo(req: IncomingMessage, signal: RequestInfo['signal']): RequestInfo {
  const declared = Number(req.headers['content-length']);
  return {
    transport: 'http',
    signal,
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    ...(Number.isSafeInteger(declared) && declared >= 0 ? { declaredBytes: declared } : {}),
    ...(req.socket.remoteAddress !== undefined ? { remoteAddress: req.socket.remoteAddress } : {}),
  };
}

/**
 * Reads and decompresses a body within the per-request `limit` and the
 * pipeline's byte budget (the lease): compressed and decompressed bytes both
 * count, and reading stops as soon as either bound is passed.
 */
async function readBody(req: IncomingMessage, lease: Lease, limit: number, pipeline: IngestPipeline): Promise<Buffer | ExportOutcome> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '' && encoding !== 'gzip' && encoding !== 'deflate') {
    return { kind: 'unsupported', message: `Content-Encoding "${encoding}" is not supported; use gzip or none` };
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return { kind: 'too_large', message: `request body of ${declared} bytes exceeds the ${limit}-byte limit; send smaller batches (lower the exporter's max batch size)` };
  }
  // The declared length was reserved at admission.
  let reserved = Number.isSafeInteger(declared) && declared >= 0 ? declared : 0;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      return { kind: 'too_large', message: `request body exceeds the ${limit}-byte limit; send smaller batches (lower the exporter's max batch size)` };
    }
    if (size > reserved) {
      if (!lease.reserve(size - reserved)) return pipeline.overBudget();
      reserved = size;
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks, size);
  if (encoding === 'identity' || encoding === '') return raw;
  const z = encoding === 'gzip' ? createGunzip() : createInflate();
  const out: Buffer[] = [];
  let outSize = 0;
  try {
    z.end(raw);
    for await (const chunk of z as AsyncIterable<Buffer>) {
      outSize += chunk.length;
      if (outSize > limit) {
        z.destroy();
        return { kind: 'too_large', message: `decompressed body exceeds the ${limit}-byte limit; send smaller batches` };
      }
      if (!lease.reserve(chunk.length)) {
        z.destroy();
        return pipeline.overBudget();
      }
      out.push(chunk);
    }
  } catch (err) {
    return { kind: 'invalid', message: `body is not valid ${encoding} data: ${errorMessage(err)}` };
  }
  return Buffer.concat(out, outSize);
}

/** Writes an outcome as the OTLP/HTTP answer: ExportTraceServiceResponse on 200, google.rpc.Status otherwise. */
function sendTraceOutcome(res: ServerResponse, format: Format, outcome: ExportOutcome): void {
  const status = OUTCOME_STATUS[outcome.kind];
  const type = format === 'proto' ? 'application/x-protobuf' : 'application/json';
  let body: string | Uint8Array;
  if (outcome.kind === 'accepted') body = encodeTraceResponse(format, 0, '');
  else if (outcome.kind === 'partial') body = encodeTraceResponse(format, outcome.rejected, outcome.message);
  else body = encodeRpcStatus(format, status.grpc, outcome.message);
  const headers: Record<string, string> = { 'content-type': type };
  if (outcome.kind === 'unauthenticated') headers['www-authenticate'] = 'Bearer realm="jobslo", scope="ingest"';
  if ('retryAfterMillis' in outcome) headers['retry-after'] = String(retryAfterSeconds(outcome.retryAfterMillis));
  send(res, status.http, headers, body);
}

/** Lifecycle answers are JSON: `{accepted, rejected?, errorMessage?}` on 200, `{code, message}` otherwise. */
function sendLifecycleOutcome(res: ServerResponse, outcome: ExportOutcome): void {
  const status = OUTCOME_STATUS[outcome.kind];
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (outcome.kind === 'unauthenticated') headers['www-authenticate'] = 'Bearer realm="jobslo", scope="ingest"';
  if ('retryAfterMillis' in outcome) headers['retry-after'] = String(retryAfterSeconds(outcome.retryAfterMillis));
  let body: unknown;
  if (outcome.kind === 'accepted') body = { accepted: outcome.accepted };
  else if (outcome.kind === 'partial') body = { accepted: outcome.accepted, rejected: outcome.rejected, errorMessage: outcome.message };
  else body = { code: status.http, message: outcome.message };
  send(res, status.http, headers, JSON.stringify(body));
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Uint8Array): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.length);
  res.writeHead(status, { ...headers, 'content-length': String(bytes.length) });
  res.end(bytes);
}

/** Answers JSON `{code, message}` with `status`. */
export function sendJsonError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  send(res, status, { 'content-type': 'application/json', ...headers }, JSON.stringify({ code: status, message }));
}

/**
 * Starts the OTLP/HTTP receiver: `POST /v1/traces` with protobuf or JSON
 * bodies, optionally gzip-compressed, answered per the OTLP/HTTP spec;
 * `POST /v1/lifecycle`; `GET /health`; and, with `readStore`, the read API.
 * Every request goes through the shared {@link IngestPipeline}.
 */
export async function startCollector(options: CollectorOptions): Promise<RunningCollector> {
  const logger = options.logger ?? noopLogger;
  const limit = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const pipeline =
    options.pipeline ??
    new IngestPipeline({
      sink: options.sink,
      logger,
      ...(options.admission ? { admission: options.admission } : {}),
      ...(options.validation ? { validation: options.validation } : {}),
      ...(options.hooks ? { hooks: options.hooks } : {}),
    });
  const host = options.host ?? '127.0.0.1';
  const readApi = options.readStore ? new ReadApi(options.readStore, { ...options.readLimits, logger }) : undefined;
  const auth = options.auth ?? BearerAuth.none;
  const metrics = options.metrics;
  metrics?.registry.onCollect(() => metrics.inFlight(pipeline.inFlight()));

  const ingest = async (req: IncomingMessage, res: ServerResponse, signal: RequestInfo['signal']): Promise<void> => {
    const info = requestInfo(req, signal);
    const format: Format | undefined = signal === 'traces' ? formatOf(req.headers['content-type']) : 'json';
    const answer = (outcome: ExportOutcome): void => {
      // Whatever is left of a refused body is read and dropped, never buffered; the connection closes
      // after the answer so the client stops sending the rest instead of the collector reading it.
      if (!req.complete) {
        res.setHeader('connection', 'close');
        req.resume();
      }
      if (signal === 'traces') sendTraceOutcome(res, format ?? 'json', outcome);
      else sendLifecycleOutcome(res, outcome);
    };
    const admission = await pipeline.admit(info);
    if ('refused' in admission) {
      answer(admission.refused);
      return;
    }
    const admitted: Admitted = admission.admitted;
    let outcome: ExportOutcome;
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (format === undefined) {
        outcome = { kind: 'unsupported', message: `Content-Type "${req.headers['content-type'] ?? ''}" is not supported; send application/x-protobuf or application/json (OTLP/HTTP)` };
      } else if (signal === 'lifecycle' && type !== 'application/json') {
        outcome = { kind: 'unsupported', message: `Content-Type "${req.headers['content-type'] ?? ''}" is not supported; send application/json ({"events": [...]})` };
      } else {
        const body = await readBody(req, admitted.lease, limit, pipeline);
        if (!Buffer.isBuffer(body)) outcome = body;
        else if (body.length === 0 && signal === 'traces') outcome = { kind: 'invalid', message: 'empty request body; expected an ExportTraceServiceRequest' };
        else outcome = signal === 'traces' ? await pipeline.exportTraces(format, body) : await pipeline.exportLifecycle(body);
      }
    } catch (err) {
      // The client went away or the socket failed mid-body.
      outcome = { kind: 'invalid', message: `cannot read the request body: ${errorMessage(err)}` };
    }
    const status = OUTCOME_STATUS[outcome.kind].http;
    if (status >= 500) logger.warn('request not stored', { status, reason: outcomeMessage(outcome) });
    answer(outcome);
    pipeline.finish(info, admitted, outcome);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ status: 'ok' }));
      return;
    }
    if (req.method === 'POST' && path === '/v1/traces') return ingest(req, res, 'traces');
    if (req.method === 'POST' && path === '/v1/lifecycle') return ingest(req, res, 'lifecycle');
    if (path === '/metrics' && metrics) {
      if (!authorizeRequest(auth, 'read', req, res)) return;
      req.resume();
      const peers = options.metricsPeers ? await options.metricsPeers().catch(() => []) : [];
      send(res, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }, metrics.registry.render(peers));
      return;
    }
    if (path === '/api/v1/store' && readApi && !options.readListener) return handleRead(req, res, server);
    req.resume();
    send(res, 404, { 'content-type': 'application/json' }, JSON.stringify({ code: 5, message: `no route for ${req.method ?? ''} ${path ?? ''}; OTLP traces go to POST /v1/traces` }));
  };

  const handleRead = async (req: IncomingMessage, res: ServerResponse, listener: Server): Promise<void> => {
    if (!readApi) return;
    if (!authorizeRequest(auth, 'read', req, res)) return;
    if (req.method !== 'POST') {
      req.resume();
      sendJsonError(res, 405, 'the read API takes POST', { allow: 'POST' });
      return;
    }
    return readApi.handle(req, res, listener.address() as AddressInfo);
  };

  const conn = options.connections ?? {};
  const headersTimeout = conn.headersTimeoutMillis ?? 10_000;
  const requestTimeout = conn.requestTimeoutMillis ?? 30_000;
  const serverOptions: ServerOptions = {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: conn.keepAliveTimeoutMillis ?? 5_000,
    // Node checks both timeouts only this often (30 s by default, which would double them).
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(Math.min(headersTimeout, requestTimeout) / 4))),
  };
  const guarded =
    (h: (req: IncomingMessage, res: ServerResponse) => Promise<void>): RequestListener =>
    (req, res) => {
      h(req, res).catch((err: unknown) => {
        logger.error('unexpected collector error', { error: errorMessage(err) });
        sendJsonError(res, 500, 'internal error');
      });
    };
  const server: Server = options.tls ? createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, guarded(handle)) : createServer(serverOptions, guarded(handle));
  server.maxConnections = conn.maxConnections ?? 1_024;
  // A client that stops sending mid-request is cut off by requestTimeout; a half-open socket by this.
  server.on('clientError', (err, socket) => {
    if (!socket.writable) return;
    const code = (err as { code?: string }).code;
    const status = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ code: status, message: code === undefined ? 'bad request' : `bad request (${code})` });
    socket.end(`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4318, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // The read API's own listener: plain HTTP, same connection limits.
  let readServer: Server | undefined;
  let readUrl: string | undefined;
  if (readApi && options.readListener) {
    const rl = options.readListener;
    const rs: Server = createServer(serverOptions, guarded(async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/api/v1/store') return handleRead(req, res, rs);
      req.resume();
      if (path === '/health') send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ status: 'ok' }));
      else sendJsonError(res, 404, `no route for ${req.method ?? ''} ${path ?? ''}; this listener serves the read API (POST /api/v1/store)`);
    }));
    rs.maxConnections = 64;
    try {
      await new Promise<void>((resolve, reject) => {
        rs.once('error', reject);
        rs.listen(rl.port, rl.host, () => {
          rs.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      server.close();
      throw err;
    }
    readServer = rs;
    readUrl = `http://${rl.host.includes(':') ? `[${rl.host}]` : rl.host}:${(rs.address() as AddressInfo).port}`;
  }
  const stop = (s: Server): Promise<void> =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
    });
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    server,
    pipeline,
    ...(readUrl !== undefined ? { readUrl } : {}),
    close() {
      closing ??= (async () => {
        await Promise.all([stop(server), ...(readServer ? [stop(readServer)] : [])]);
        logger.debug('collector stopped', { inFlight: pipeline.inFlight().requests });
        // A shared pipeline's sink is closed by whoever built the pipeline.
        if (!options.pipeline) await pipeline.sink.close();
      })();
      return closing;
    },
  };
}
