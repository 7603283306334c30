import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { ConfigError, errorMessage } from '../contracts/index.js';
import type { AuthOutcome, BearerAuth, Scope } from './auth.js';

/** A certificate chain and its private key, PEM, as read from files. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads a PEM certificate (chain) and key and checks that they form a usable
 * pair, so a bad file fails at start with the flag's name instead of at the
 * first handshake.
 *
 * @param flags option names for messages @default `--tls-cert`/`--tls-key`
 * @throws {ConfigError} when a file is missing, unreadable, not PEM, or the key does not match
 */
export function loadTls(certFile: string, keyFile: string, flags = { cert: '--tls-cert', key: '--tls-key' }): TlsMaterial {
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new ConfigError(flag, `cannot read ${path}: ${errorMessage(cause)}`, { cause });
    }
  };
  const material = { cert: read(certFile, flags.cert), key: read(keyFile, flags.key) };
  try {
    createSecureContext(material);
  } catch (cause) {
    throw new ConfigError(flags.cert, `${certFile} and ${keyFile} are not a PEM certificate and its private key: ${errorMessage(cause)}`, { cause });
  }
  return material;
}

/** Options of {@link listen}. */
export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Serve HTTPS with this certificate; plain HTTP without. */
  tls?: TlsMaterial | undefined;
}

/** A listening HTTP(S) server. */
export interface Listener {
  server: Server;
  port: number;
  /** `http(s)://host:port`, IPv6 hosts bracketed. */
  url: string;
}

/** Starts an HTTP or (with `tls`) HTTPS server and resolves once it listens. */
export async function listen(handler: RequestListener, options: ListenOptions): Promise<Listener> {
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { server, port, url: `${options.tls ? 'https' : 'http'}://${host}:${port}` };
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** HTTP status of a failed {@link AuthOutcome}: 401 without a valid token, 403 for a valid token of another scope. */
export function authStatus(outcome: Exclude<AuthOutcome, { ok: true }>): 401 | 403 {
  return outcome.kind === 'unauthenticated' ? 401 : 403;
}

/** gRPC status code of a failed {@link AuthOutcome}: 16 UNAUTHENTICATED or 7 PERMISSION_DENIED. */
export function authGrpcCode(outcome: Exclude<AuthOutcome, { ok: true }>): 16 | 7 {
  return outcome.kind === 'unauthenticated' ? 16 : 7;
}

/** `WWW-Authenticate` value for a 401 (RFC 6750). */
export function wwwAuthenticate(outcome: Exclude<AuthOutcome, { ok: true }>, scope: Scope): string {
  return outcome.message === 'unknown bearer token' ? `Bearer realm="jobslo", scope="${scope}", error="invalid_token"` : `Bearer realm="jobslo", scope="${scope}"`;
}

/**
 * Checks a request's `Authorization` header for `scope`; on failure answers
 * 401/403 with a JSON `{code, message}` body (and `WWW-Authenticate` on 401)
 * and returns false. The request body is not read.
 */
export function authorizeRequest(auth: BearerAuth, scope: Scope, req: IncomingMessage, res: ServerResponse): boolean {
  const outcome = auth.check(req.headers.authorization, scope);
  if (outcome.ok) return true;
  const status = authStatus(outcome);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (status === 401) headers['www-authenticate'] = wwwAuthenticate(outcome, scope);
  // Unread bodies of refused requests are not worth keeping the connection for.
  headers['connection'] = 'close';
  res.writeHead(status, headers).end(JSON.stringify({ code: authGrpcCode(outcome), message: outcome.message }));
  req.resume();
  return false;
}
