/**
 * The OTLP/gRPC trace receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`
 * over HTTP/2 (`@grpc/grpc-js`), default port 4317. Requests go through the
 * same {@link IngestPipeline} as OTLP/HTTP and are answered from the same
 * outcome table ({@link OUTCOME_STATUS}), with `RetryInfo` on the retryable
 * answers as the OTLP spec's throttling section defines it.
 *
 * grpc-js does not decode: the method is registered with identity
 * (de)serializers, so the handler gets the request's protobuf bytes (gzip
 * already undone by grpc-js, within the receive size limit) and hands them
 * to the project's own decoder, exactly as the HTTP receiver does.
 *
 * Admission runs in a server interceptor when the call's metadata arrives,
 * before its message: past the in-flight bounds the call ends at once with
 * RESOURCE_EXHAUSTED + RetryInfo (and an auth hook's refusal with its code),
 * and the message's bytes are never held.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Metadata, Server, ServerCredentials, ServerInterceptingCall, ServerListenerBuilder, ResponderBuilder, status as grpcStatus } from '@grpc/grpc-js';
import type { ServerInterceptingCallInterface, ServerInterceptor, ServerUnaryCall, sendUnaryData, ServiceDefinition } from '@grpc/grpc-js';
import { errorMessage, noopLogger } from '../contracts/index.js';
import type { TlsMaterial } from '../server/index.js';
import type { Logger } from '../contracts/index.js';
import { encodeRetryInfo, encodeRpcStatusDetails, encodeTraceResponse } from './otlp/index.js';
import { OUTCOME_STATUS, outcomeMessage } from './pipeline.js';
import type { Admitted, ExportOutcome, IngestPipeline, RequestInfo } from './pipeline.js';

/** Full name of the OTLP trace export method. */
export const TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** Options of {@link startGrpcReceiver}. */
export interface GrpcReceiverOptions {
  pipeline: IngestPipeline;
  /** TCP port; 0 picks a free one. @default 4317 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** Largest request message, bytes, after decompression (grpc-js answers RESOURCE_EXHAUSTED past it). @default 16_777_216 (16 MiB) */
  maxReceiveMessageBytes?: number;
  /** Concurrent streams (calls) per HTTP/2 connection; the client queues the rest. @default 100 */
  maxConcurrentStreams?: number;
  /** A connection without calls is closed (HTTP/2 GOAWAY) after this long, ms. @default 300_000 */
  maxConnectionIdleMillis?: number;
  /** Open connections at once; more are closed as they arrive (the client sees UNAVAILABLE and reconnects later). @default 1_024 */
  maxConnections?: number;
  /** The server pings a connection after this long without any frame from it, ms. @default 120_000 */
  keepaliveTimeMillis?: number;
  /** ...and closes it when the ping is not answered within this, ms. @default 20_000 */
  keepaliveTimeoutMillis?: number;
  /** Serve TLS with this certificate (gRPC over HTTPS). @default plaintext (h2c) */
  tls?: TlsMaterial | undefined;
  logger?: Logger;
}

/** A running gRPC receiver. */
export interface RunningGrpcReceiver {
  /** `host:port` it listens on (what a gRPC exporter's endpoint names, with `http://`). */
  readonly address: string;
  readonly port: number;
  /** Stops accepting, lets in-flight calls finish (up to `graceMillis`, default 10 s), then cancels the rest. Does not close the pipeline's sink. */
  close(graceMillis?: number): Promise<void>;
}

const ADMISSION_KEY = 'x-jobslo-admission';

interface Entry {
  info: RequestInfo;
  admitted: Admitted;
  /** The handler has the call: it alone finishes it, when its export is done. */
  claimed: boolean;
  finished: boolean;
}

/** Trailers for an outcome: RetryInfo (both the OTLP/Python and the grpc-status-details-bin forms) when retryable. */
function trailersFor(outcome: ExportOutcome): Metadata {
  const md = new Metadata();
  if ('retryAfterMillis' in outcome) {
    const millis = Math.max(0, Math.round(outcome.retryAfterMillis));
    md.set('google.rpc.retryinfo-bin', Buffer.from(encodeRetryInfo(millis)));
    md.set('grpc-status-details-bin', Buffer.from(encodeRpcStatusDetails(OUTCOME_STATUS[outcome.kind].grpc, outcomeMessage(outcome), millis)));
  }
  return md;
}

function metadataInfo(metadata: Metadata, peer: string): RequestInfo {
  return {
    transport: 'grpc',
    signal: 'traces',
    header: (name) => {
      const v = metadata.get(name)[0];
      return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
    },
    remoteAddress: peer,
  };
}

/** Starts the OTLP/gRPC receiver; see the module comment. */
export async function startGrpcReceiver(options: GrpcReceiverOptions): Promise<RunningGrpcReceiver> {
  const pipeline = options.pipeline;
  const logger = options.logger ?? noopLogger;
  const maxMessage = options.maxReceiveMessageBytes ?? 16 * 1024 * 1024;
  const entries = new Map<string, Entry>();

  const finish = (id: string, outcome: ExportOutcome, byHandler = false): void => {
    const entry = entries.get(id);
    if (entry === undefined || entry.finished || (entry.claimed && !byHandler)) return;
    entry.finished = true;
    entries.delete(id);
    pipeline.finish(entry.info, entry.admitted, outcome);
  };

  // Admission before the message: refused calls end here and never reach the handler.
  const admission: ServerInterceptor = (_method, call: ServerInterceptingCallInterface) => {
    let id: string | undefined;
    const responder = new ResponderBuilder()
      .withSendStatus((status, next) => {
        // A call ended by grpc-js itself (message too large, cancelled, unknown) releases its admission here.
        if (id !== undefined) {
          const kind = status.code === grpcStatus.RESOURCE_EXHAUSTED ? 'too_large' : status.code === grpcStatus.OK ? 'accepted' : 'invalid';
          finish(id, kind === 'accepted' ? { kind, accepted: 0 } : { kind, message: status.details ?? '' });
        }
        next(status);
      })
      .build();
    return new ServerInterceptingCall(call, {
      ...responder,
      start: (next) => {
        const listener = new ServerListenerBuilder()
          .withOnReceiveMetadata((metadata, mdNext) => {
            const info = metadataInfo(metadata, call.getPeer());
            pipeline.admit(info).then(
              (result) => {
                if ('refused' in result) {
                  const s = OUTCOME_STATUS[result.refused.kind];
                  call.sendStatus({ code: s.grpc, details: outcomeMessage(result.refused), metadata: trailersFor(result.refused) });
                  return;
                }
                id = randomUUID();
                entries.set(id, { info, admitted: result.admitted, claimed: false, finished: false });
                // Set here, so a client cannot name another call's admission.
                metadata.set(ADMISSION_KEY, id);
                mdNext(metadata);
              },
              (err: unknown) => {
                logger.error('gRPC admission failed', { error: errorMessage(err) });
                call.sendStatus({ code: grpcStatus.INTERNAL, details: 'internal error' });
              },
            );
          })
          .withOnCancel(() => {
            if (id !== undefined) finish(id, { kind: 'invalid', message: 'cancelled by the client' });
          })
          .build();
        next(listener);
      },
    });
  };

  const exportHandler = (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
    const id = String(call.metadata.get(ADMISSION_KEY)[0] ?? '');
    const entry = entries.get(id);
    const respond = (outcome: ExportOutcome): void => {
      // The outcome is recorded before the answer goes out; the interceptor's status hook then finds it done.
      finish(id, outcome, true);
      const s = OUTCOME_STATUS[outcome.kind];
      if (outcome.kind === 'accepted' || outcome.kind === 'partial') {
        const body = outcome.kind === 'accepted' ? encodeTraceResponse('proto', 0, '') : encodeTraceResponse('proto', outcome.rejected, outcome.message);
        callback(null, Buffer.from(body));
        return;
      }
      if (s.http >= 500) logger.warn('request not stored', { transport: 'grpc', code: s.grpc, reason: outcomeMessage(outcome) });
      callback({ code: s.grpc, details: outcomeMessage(outcome), metadata: trailersFor(outcome) });
    };
    if (entry === undefined) {
      respond({ kind: 'internal', message: 'call was not admitted' });
      return;
    }
    entry.claimed = true;
    const body = call.request;
    if (!entry.admitted.lease.reserve(body.length)) {
      respond(pipeline.overBudget());
      return;
    }
    pipeline.exportTraces('proto', body).then(respond, (err: unknown) => respond({ kind: 'internal', message: `internal error: ${errorMessage(err)}` }));
  };

  const service: ServiceDefinition = {
    Export: {
      path: TRACE_EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  };

  const server = new Server({
    'grpc.max_receive_message_length': maxMessage,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams ?? 100,
    'grpc.max_connection_idle_ms': options.maxConnectionIdleMillis ?? 300_000,
    'grpc.keepalive_time_ms': options.keepaliveTimeMillis ?? 120_000,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMillis ?? 20_000,
    interceptors: [admission],
  });
  server.addService(service, { Export: exportHandler });
  const host = options.host ?? '127.0.0.1';
  const bindHost = host.includes(':') ? `[${host}]` : host;
  // grpc-js has no connection limit of its own: this listener accepts, counts and hands each
  // connection to the gRPC server (TLS, when configured, is done there).
  const injector = server.createConnectionInjector(options.tls ? ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], false) : ServerCredentials.createInsecure());
  const listener = createNetServer((socket) => injector.injectConnection(socket));
  listener.maxConnections = options.maxConnections ?? 1_024;
  let refusedConnections = 0;
  listener.on('drop', () => {
    refusedConnections++;
    if (refusedConnections === 1 || refusedConnections % 1000 === 0) logger.warn('gRPC connection refused: at --max-connections', { max: listener.maxConnections, refused: refusedConnections });
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port ?? 4317, host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const port = (listener.address() as AddressInfo).port;
  logger.debug('gRPC receiver listening', { address: `${bindHost}:${port}` });
  let closing: Promise<void> | undefined;
  return {
    address: `${bindHost}:${port}`,
    port,
    close(graceMillis = 10_000) {
      closing ??= new Promise<void>((resolve) => {
        listener.close();
        // The injector's HTTP/2 server is one of the gRPC server's: shutting it down closes its connections.
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMillis);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
