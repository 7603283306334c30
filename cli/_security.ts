import { ConfigError } from '../contracts/index.js';
import { BearerAuth, isLoopback, loadTls, readTokenRefs } from '../server/index.js';
import type { Scope, TlsMaterial } from '../server/index.js';
import type { CliContext } from './command.js';

/** parseArgs options shared by every command that listens. */
export const SECURITY_OPTIONS = {
  'ingest-token': { type: 'string', multiple: true },
  'read-token': { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

/** Help lines of {@link SECURITY_OPTIONS}, for commands that accept both scopes. */
export const SECURITY_HELP = `  --ingest-token REF  bearer token allowed to send telemetry: env:VARIABLE or
                      file:PATH (one token per line; repeat the flag or list
                      several lines to rotate). Clients send it the
                      OpenTelemetry way: OTEL_EXPORTER_OTLP_HEADERS=
                      "Authorization=Bearer TOKEN". With any token set,
                      every request needs one: 401 without or with an
                      unknown token, 403 for a token of the other scope
  --read-token REF    bearer token allowed to read: /metrics and the store
                      read API (env:VARIABLE or file:PATH, as above)
  --tls-cert FILE     serve HTTPS with this PEM certificate (chain)...
  --tls-key FILE      ...and its PEM private key`;

/** Help lines for commands that only serve reads (serve, ingest's metrics). */
export const READ_SECURITY_HELP = `  --read-token REF    bearer token required to read (env:VARIABLE or file:PATH,
                      one token per line); clients send
                      "Authorization: Bearer TOKEN" (Prometheus:
                      authorization.credentials_file); 401 without or with a
                      wrong token
  --tls-cert FILE     serve HTTPS with this PEM certificate (chain)...
  --tls-key FILE      ...and its PEM private key`;

/** What {@link securityFrom} resolved. */
export interface Security {
  auth: BearerAuth;
  tls: TlsMaterial | undefined;
}

interface SecurityValues {
  'ingest-token'?: string[] | undefined;
  'read-token'?: string[] | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
}

/**
 * Reads the tokens and TLS files the flags name.
 * @throws {ConfigError} naming the flag (never a token)
 */
export function securityFrom(values: SecurityValues, ctx: CliContext, scopes: readonly Scope[] = ['ingest', 'read']): Security {
  const tokens: Partial<Record<Scope, string[]>> = {};
  for (const scope of scopes) {
    const refs = values[`${scope}-token`];
    if (refs !== undefined) tokens[scope] = readTokenRefs(refs, `--${scope}-token`, { env: ctx.env, cwd: ctx.cwd });
  }
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError(cert === undefined ? '--tls-cert' : '--tls-key', 'give both --tls-cert and --tls-key');
  const resolve = (p: string): string => (p.startsWith('/') ? p : `${ctx.cwd}/${p}`);
  return { auth: new BearerAuth(tokens), tls: cert !== undefined && key !== undefined ? loadTls(resolve(cert), resolve(key)) : undefined };
}

/** What {@link requireAuthOffLoopback} names in its refusal. */
export interface OffLoopbackWording {
  /** The flag that set the address. @default '--host' */
  addressFlag?: string;
  /** The token flags that would make it safe. @default '--ingest-token (and --read-token)' */
  tokenFlags?: string;
  /** What the insecure flag allows. @default 'accept telemetry from anyone who can reach it' */
  consequence?: string;
}

/**
 * Refuses to listen on a non-loopback address without authentication unless
 * the user said so with the flag named `insecureFlag`.
 * @throws {ConfigError} naming the address flag
 */
export function requireAuthOffLoopback(host: string, auth: BearerAuth, insecure: boolean, insecureFlag: string, wording: OffLoopbackWording = {}): void {
  if (isLoopback(host) || auth.enabled || insecure) return;
  throw new ConfigError(
    wording.addressFlag ?? '--host',
    `${host} is reachable from other machines, and no token is set: give ${wording.tokenFlags ?? '--ingest-token (and --read-token)'}, ` +
      `or ${insecureFlag} to ${wording.consequence ?? 'accept telemetry from anyone who can reach it'}`,
  );
}
