import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzip, inflate } from 'node:zlib';
import { promisify } from 'node:util';
import express from 'express';
import type { Request, Response } from 'express';
import { DecodeError, errorMessage, noopLogger, parseLifecycleBatch } from '../contracts/index.js';
import type { Logger } from '../contracts/index.js';
import { decodeTraceRequestJson, decodeTraceRequestProto, encodeRpcStatus, encodeTraceResponse } from './otlp/index.js';
import type { SpanSink } from './sink.js';
import { REMOTE_READ_METHODS } from '../store/index.js';
import type { RemoteReadMethod, Store } from '../store/index.js';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/** Options of {@link startCollector}. */
export interface CollectorOptions {
  sink: SpanSink;
  /** TCP port; 0 picks a free one. @default 4318 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /**
   * Largest request body accepted, in bytes, both as received and after
   * decompression (so a small gzip bomb is refused too). @default 16_777_216 (16 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Store to answer `POST /api/v1/store` read queries from, so other jobslo
   * processes can read a DuckDB file this process holds. @default none (404)
   */
  readStore?: Store;
  logger?: Logger;
}

/** A running collector. */
export interface RunningCollector {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops accepting, waits for in-flight requests, closes the sink. */
  close(): Promise<void>;
}

type Format = 'proto' | 'json';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function formatOf(contentType: string | undefined): Format | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'proto';
  if (type === 'application/json') return 'json';
  return undefined;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new HttpError(413, `request body of ${declared} bytes exceeds the ${limit}-byte limit; send smaller batches (lower the exporter's max batch size)`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `request body exceeds the ${limit}-byte limit; send smaller batches (lower the exporter's max batch size)`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

async function decompress(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return body;
  if (enc !== 'gzip' && enc !== 'deflate') {
    throw new HttpError(415, `Content-Encoding "${enc}" is not supported; use gzip or none`);
  }
  try {
    return enc === 'gzip' ? await gunzipAsync(body, { maxOutputLength: limit }) : await inflateAsync(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new HttpError(413, `decompressed body exceeds the ${limit}-byte limit; send smaller batches`);
    }
    throw new HttpError(400, `body is not valid ${enc} data: ${errorMessage(err)}`);
  }
}

/**
 * Starts the OTLP/HTTP trace receiver: `POST /v1/traces` with protobuf or
 * JSON bodies, optionally gzip-compressed, answered per the OTLP/HTTP spec.
 */
export async function startCollector(options: CollectorOptions): Promise<RunningCollector> {
  const logger = options.logger ?? noopLogger;
  const limit = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const sink = options.sink;
  const app = express();
  app.disable('x-powered-by');
  let inFlight = 0;
  let rejectedTotal = 0;

  const sendStatus = (res: Response, format: Format, status: number, message: string, headers: Record<string, string> = {}): void => {
    const body = encodeRpcStatus(format, status === 400 ? 3 : status === 413 ? 8 : status === 503 ? 14 : status === 415 ? 3 : 13, message);
    res.status(status).set(headers).type(format === 'proto' ? 'application/x-protobuf' : 'application/json').send(typeof body === 'string' ? body : Buffer.from(body));
  };

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post('/v1/traces', async (req: Request, res: Response) => {
    inFlight++;
    const format = formatOf(req.headers['content-type']);
    try {
      if (!format) {
        req.resume();
        throw new HttpError(
          415,
          `Content-Type "${req.headers['content-type'] ?? ''}" is not supported; send application/x-protobuf or application/json (OTLP/HTTP)`,
        );
      }
      const raw = await readBody(req, limit);
      const body = await decompress(raw, req.headers['content-encoding'], limit);
      if (body.length === 0) throw new HttpError(400, 'empty request body; expected an ExportTraceServiceRequest');
      let decoded;
      try {
        decoded = format === 'proto' ? decodeTraceRequestProto(body) : decodeTraceRequestJson(body.toString('utf8'));
      } catch (err) {
        if (err instanceof DecodeError) throw new HttpError(400, `cannot decode ${format === 'proto' ? 'protobuf' : 'JSON'} ExportTraceServiceRequest: ${err.message}`);
        throw err;
      }
      if (decoded.rejectedSpans > 0) {
        rejectedTotal += decoded.rejectedSpans;
        logger.warn('rejected spans', { count: decoded.rejectedSpans, total: rejectedTotal, reason: decoded.rejectionReason });
      }
      if (decoded.spans.length > 0) {
        const result = await sink.write(decoded.spans, format === 'proto' ? body : undefined);
        if (result.kind === 'retryable') {
          throw Object.assign(new HttpError(503, `not stored, try again: ${result.reason}`), {
            retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMillis / 1000)),
          });
        }
        if (result.kind === 'failed') throw new HttpError(500, `not stored: ${result.reason}`);
      }
      const response = encodeTraceResponse(format, decoded.rejectedSpans, decoded.rejectionReason);
      res.status(200).type(format === 'proto' ? 'application/x-protobuf' : 'application/json').send(typeof response === 'string' ? response : Buffer.from(response));
    } catch (err) {
      if (err instanceof HttpError) {
        const retry = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
        if (err.status >= 500) logger.warn('request not stored', { status: err.status, reason: err.message });
        else logger.debug('bad request', { status: err.status, reason: err.message });
        sendStatus(res, format ?? 'json', err.status, err.message, retry ? { 'Retry-After': String(retry) } : {});
      } else {
        logger.error('unexpected collector error', { error: errorMessage(err) });
        sendStatus(res, format ?? 'json', 500, `internal error: ${errorMessage(err)}`);
      }
    } finally {
      inFlight--;
    }
  });

  const readStore = options.readStore;
  if (readStore) {
    app.post('/api/v1/store', express.json({ limit: '1mb' }), async (req: Request, res: Response) => {
      const { method, args } = (req.body ?? {}) as { method?: unknown; args?: unknown };
      if (typeof method !== 'string' || !(REMOTE_READ_METHODS as readonly string[]).includes(method) || !Array.isArray(args)) {
        res.status(400).json({ message: `expected {"method": one of ${REMOTE_READ_METHODS.join(', ')}, "args": [...]}` });
        return;
      }
      try {
        const fn = readStore[method as RemoteReadMethod] as (...a: unknown[]) => Promise<unknown>;
        res.json({ result: await fn.apply(readStore, args) });
      } catch (err) {
        res.status(500).json({ message: errorMessage(err) });
      }
    });
  }

  // Live lifecycle events from the executor (JSON, schema jobslo.lifecycle/v1).
  app.post('/v1/lifecycle', async (req: Request, res: Response) => {
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        req.resume();
        throw new HttpError(415, `Content-Type "${req.headers['content-type'] ?? ''}" is not supported; send application/json ({"events": [...]})`);
      }
      const body = await decompress(await readBody(req, limit), req.headers['content-encoding'], limit);
      let events;
      try {
        events = parseLifecycleBatch(body.toString('utf8'));
      } catch (err) {
        if (err instanceof DecodeError) throw new HttpError(400, `cannot decode lifecycle events: ${err.message}`);
        throw err;
      }
      const result = events.length === 0 ? ({ kind: 'accepted' } as const) : await sink.writeLifecycle(events);
      if (result.kind === 'retryable') {
        res.set('Retry-After', String(Math.max(1, Math.ceil(result.retryAfterMillis / 1000))));
        throw new HttpError(503, `not stored, try again: ${result.reason}`);
      }
      if (result.kind === 'failed') throw new HttpError(500, `not stored: ${result.reason}`);
      res.status(200).json({ accepted: events.length });
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      res.status(status).json({ code: status, message: errorMessage(err) });
    }
  });

  app.use((req: Request, res: Response) => {
    res.status(404).json({ code: 5, message: `no route for ${req.method} ${req.path}; OTLP traces go to POST /v1/traces` });
  });

  const server = createServer(app);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4318, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    server,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        logger.debug('collector stopped', { inFlight });
        await sink.close();
      })();
      return closing;
    },
  };
}
