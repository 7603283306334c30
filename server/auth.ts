import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../contracts/index.js';

/**
 * What a token may do. `ingest`: send telemetry (`/v1/traces`,
 * `/v1/lifecycle`, gRPC `TraceService/Export`). `read`: read what was stored
 * or measured (the store read API, reports, `/metrics`).
 */
export type Scope = 'ingest' | 'read';

/** Every scope, in the order help texts list them. */
export const SCOPES: readonly Scope[] = ['ingest', 'read'];

/** Outcome of checking a request's credentials, as a value each transport maps to its status. */
export type AuthOutcome =
  | { ok: true }
  /** `unauthenticated`: no token, a malformed header or an unknown token (HTTP 401, gRPC UNAUTHENTICATED). `forbidden`: a valid token of another scope (HTTP 403, gRPC PERMISSION_DENIED). */
  | { ok: false; kind: 'unauthenticated' | 'forbidden'; message: string };

/** Shortest token accepted: shorter ones are guessable. */
export const MIN_TOKEN_LENGTH = 16;

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Bearer-token authentication with scopes. Tokens are compared in constant
 * time: the presented token and every configured one are hashed to 32 bytes
 * and compared with `timingSafeEqual`, always against all configured tokens,
 * so neither a token's length nor its position leaks through timing.
 *
 * With no token configured at all, authentication is off and every request
 * is allowed ({@link enabled} is false). Once any token is configured, every
 * request needs a token of the scope of what it asks for.
 */
export class BearerAuth {
  private readonly digests: { scope: Scope; digest: Buffer }[] = [];

  /** @param tokens tokens per scope; a token may appear under several scopes */
  constructor(tokens: Partial<Record<Scope, readonly string[]>> = {}) {
    for (const scope of SCOPES) {
      for (const t of tokens[scope] ?? []) this.digests.push({ scope, digest: digest(t) });
    }
  }

  /** No authentication: every request is allowed. */
  static readonly none = new BearerAuth();

  /** A copy that also accepts `tokens` for `scope`. */
  withTokens(scope: Scope, tokens: readonly string[]): BearerAuth {
    const copy = new BearerAuth();
    copy.digests.push(...this.digests, ...tokens.map((t) => ({ scope, digest: digest(t) })));
    return copy;
  }

  /** True when at least one token is configured. */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Scopes that have at least one token. */
  scopes(): Scope[] {
    return SCOPES.filter((s) => this.digests.some((d) => d.scope === s));
  }

  /**
   * Checks an `Authorization` header value (`Bearer TOKEN`, scheme
   * case-insensitive, as OpenTelemetry exporters send it from
   * `OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer TOKEN"`). The
   * message never contains the presented value.
   */
  check(authorization: string | undefined, scope: Scope): AuthOutcome {
    if (!this.enabled) return { ok: true };
    if (authorization === undefined || authorization === '') {
      return { ok: false, kind: 'unauthenticated', message: `a bearer token of scope "${scope}" is required (header Authorization: Bearer TOKEN)` };
    }
    const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(authorization);
    if (!m) return { ok: false, kind: 'unauthenticated', message: 'the Authorization header must be "Bearer TOKEN"' };
    const presented = digest(m[1] as string);
    let inScope = false;
    let known = false;
    for (const d of this.digests) {
      // No early exit: the time taken does not depend on which token matched.
      const equal = timingSafeEqual(presented, d.digest);
      known ||= equal;
      inScope ||= equal && d.scope === scope;
    }
    if (inScope) return { ok: true };
    if (known) return { ok: false, kind: 'forbidden', message: `the token is not allowed scope "${scope}"` };
    return { ok: false, kind: 'unauthenticated', message: 'unknown bearer token' };
  }
}

/** Where {@link readTokenRefs} reads `env:` and `file:` references. */
export interface SecretSources {
  env: NodeJS.ProcessEnv;
  /** Working directory for relative `file:` paths. */
  cwd?: string;
  /** @default readFileSync utf8 */
  readFile?: (path: string) => string;
}

/**
 * Resolves token references the way `jobslo.yaml` resolves secrets:
 * `env:VARIABLE` (one token) or `file:PATH` (one token per line; blank lines
 * and lines starting with `#` are skipped, so a file can hold the old and the
 * new token while clients rotate). A literal token is refused: on the command
 * line it would be visible to every user of the machine in the process list.
 *
 * @param flag the option name, for messages (e.g. `--ingest-token`)
 * @throws {ConfigError} naming the flag and the reference (never a token)
 */
export function readTokenRefs(refs: readonly string[], flag: string, sources: SecretSources): string[] {
  const out: string[] = [];
  const readFile = sources.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  for (const ref of refs) {
    let tokens: string[];
    if (ref.startsWith('env:')) {
      const name = ref.slice(4);
      const v = sources.env[name]?.trim();
      if (v === undefined || v === '') throw new ConfigError(flag, `environment variable ${name} is not set (or empty)`);
      tokens = [v];
    } else if (ref.startsWith('file:')) {
      const path = ref.slice(5);
      const full = sources.cwd !== undefined && !path.startsWith('/') ? `${sources.cwd}/${path}` : path;
      let text: string;
      try {
        text = readFile(full);
      } catch (cause) {
        throw new ConfigError(flag, `cannot read token file ${path}: ${errorMessage(cause)}`, { cause });
      }
      tokens = text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
      if (tokens.length === 0) throw new ConfigError(flag, `token file ${path} holds no token`);
    } else {
      // The value itself is never echoed: it may be a pasted token.
      throw new ConfigError(flag, 'must be env:VARIABLE or file:PATH; a token written on the command line is visible to every user in the process list');
    }
    for (const t of tokens) {
      if (t.length < MIN_TOKEN_LENGTH) throw new ConfigError(flag, `a token from ${describeRef(ref)} is shorter than ${MIN_TOKEN_LENGTH} characters`);
      if (!/^[\x21-\x7e]+$/.test(t)) throw new ConfigError(flag, `a token from ${describeRef(ref)} has spaces or non-ASCII characters; use printable ASCII (e.g. openssl rand -hex 32)`);
      out.push(t);
    }
  }
  return out;
}

function describeRef(ref: string): string {
  return ref.startsWith('env:') ? `environment variable ${ref.slice(4)}` : `file ${ref.slice(5)}`;
}
