import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/index.js';
import { BearerAuth, readTokenRefs } from '../../server/index.js';
import { parseOtlpHeaders, resolveTraceHeaders } from '../../executor/index.js';
import { withClickHouseCredentials } from '../../store/index.js';

const INGEST = 'ingest-token-0123456789abcdef';
const READ = 'read-token-0123456789abcdef';
const BOTH = 'both-token-0123456789abcdef';

describe('BearerAuth: 401 without a valid token, 403 for a token of the other scope', () => {
  const auth = new BearerAuth({ ingest: [INGEST, BOTH], read: [READ, BOTH] });
  const cases: [string, string | undefined, 'ingest' | 'read', 'ok' | 'unauthenticated' | 'forbidden'][] = [
    ['no header', undefined, 'ingest', 'unauthenticated'],
    ['empty header', '', 'read', 'unauthenticated'],
    ['basic auth', `Basic ${Buffer.from(`u:${INGEST}`).toString('base64')}`, 'ingest', 'unauthenticated'],
    ['bare token without scheme', INGEST, 'ingest', 'unauthenticated'],
    ['unknown token', 'Bearer not-a-configured-token-xyz', 'ingest', 'unauthenticated'],
    ['a prefix of a token', `Bearer ${INGEST.slice(0, -1)}`, 'ingest', 'unauthenticated'],
    ['a token with a suffix', `Bearer ${INGEST}x`, 'ingest', 'unauthenticated'],
    ['ingest token for ingest', `Bearer ${INGEST}`, 'ingest', 'ok'],
    ['scheme in any case', `bearer ${INGEST}`, 'ingest', 'ok'],
    ['ingest token for read', `Bearer ${INGEST}`, 'read', 'forbidden'],
    ['read token for read', `Bearer ${READ}`, 'read', 'ok'],
    ['read token for ingest', `Bearer ${READ}`, 'ingest', 'forbidden'],
    ['token listed under both scopes, ingest', `Bearer ${BOTH}`, 'ingest', 'ok'],
    ['token listed under both scopes, read', `Bearer ${BOTH}`, 'read', 'ok'],
  ];
  for (const [name, header, scope, want] of cases) {
    it(`${name} -> ${want}`, () => {
      const got = auth.check(header, scope);
      expect(got.ok ? 'ok' : got.kind).toBe(want);
      if (!got.ok) for (const t of [INGEST, READ, BOTH]) expect(got.message).not.toContain(t);
    });
  }

  it('without any token configured every request is allowed', () => {
    expect(BearerAuth.none.enabled).toBe(false);
    expect(BearerAuth.none.check(undefined, 'read')).toEqual({ ok: true });
  });

  it('with tokens for one scope only, the other scope refuses every request', () => {
    const ingestOnly = new BearerAuth({ ingest: [INGEST] });
    expect(ingestOnly.check(`Bearer ${INGEST}`, 'read')).toMatchObject({ ok: false, kind: 'forbidden' });
    expect(ingestOnly.check(undefined, 'read')).toMatchObject({ ok: false, kind: 'unauthenticated' });
    expect(ingestOnly.withTokens('read', [READ]).check(`Bearer ${READ}`, 'read')).toEqual({ ok: true });
  });
});

describe('token references', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobslo-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads env:VARIABLE and file:PATH (one token per line, comments and blanks skipped)', () => {
    writeFileSync(join(dir, 'tokens'), `# rotation: old, then new\n${INGEST}\n\n  ${BOTH}  \n`);
    expect(readTokenRefs(['env:TOK', 'file:tokens'], '--ingest-token', { env: { TOK: READ }, cwd: dir })).toEqual([READ, INGEST, BOTH]);
  });

  const bad: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ['a literal token', [INGEST], {}, /must be env:VARIABLE or file:PATH.*process list/],
    ['an unset variable', ['env:NOPE'], {}, /environment variable NOPE is not set/],
    ['a missing file', ['file:/nonexistent/jobslo-tokens'], {}, /cannot read token file \/nonexistent\/jobslo-tokens/],
    ['a short token', ['env:T'], { T: 'tiny-tok' }, /shorter than 16 characters/],
    ['a token with spaces', ['env:T'], { T: 'has spaces inside 0123456789' }, /printable ASCII/],
  ];
  for (const [name, refs, env, message] of bad) {
    it(`refuses ${name} with a ConfigError naming the flag and not the value`, () => {
      let err: unknown;
      try {
        readTokenRefs(refs, '--read-token', { env });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).path).toBe('--read-token');
      expect((err as Error).message).toMatch(message);
      for (const v of [...refs.filter((r) => !r.includes(':')), ...Object.values(env)]) expect((err as Error).message).not.toContain(v);
    });
  }
});

describe('OTLP headers for the executor', () => {
  it('parses OTEL_EXPORTER_OTLP_HEADERS the way the OpenTelemetry SDKs do', () => {
    expect(parseOtlpHeaders('Authorization=Bearer%20abc, x-team = jobs ,broken,=nokey,k=a=b')).toEqual({ Authorization: 'Bearer abc', 'x-team': 'jobs', k: 'a=b' });
    expect(parseOtlpHeaders(undefined)).toEqual({});
  });

  it('OTEL_EXPORTER_OTLP_TRACES_HEADERS overrides the general variable key by key, case-insensitively', () => {
    expect(
      resolveTraceHeaders({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer general,x-a=1', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer traces' }),
    ).toEqual({ 'x-a': '1', authorization: 'Bearer traces' });
  });
});

describe('ClickHouse credentials from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobslo-ch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds user and password (direct or from a file) to a URL without them; URL credentials win', () => {
    writeFileSync(join(dir, 'pw'), 'p@ss:word/1\n');
    expect(withClickHouseCredentials('http://ch:8123', { JOBSLO_CLICKHOUSE_USER: 'svc', JOBSLO_CLICKHOUSE_PASSWORD: 's3cret' })).toBe('http://svc:s3cret@ch:8123');
    const fromFile = new URL(withClickHouseCredentials('http://ch:8123', { JOBSLO_CLICKHOUSE_PASSWORD_FILE: join(dir, 'pw') }));
    expect([decodeURIComponent(fromFile.username), decodeURIComponent(fromFile.password)]).toEqual(['default', 'p@ss:word/1']);
    expect(withClickHouseCredentials('http://u:p@ch:8123', { JOBSLO_CLICKHOUSE_PASSWORD: 'other' })).toBe('http://u:p@ch:8123');
    expect(withClickHouseCredentials('http://ch:8123', {})).toBe('http://ch:8123');
  });

  it('refuses both password variables at once, and an unreadable password file', () => {
    expect(() => withClickHouseCredentials('http://ch:8123', { JOBSLO_CLICKHOUSE_PASSWORD: 'a', JOBSLO_CLICKHOUSE_PASSWORD_FILE: 'b' })).toThrow(/either JOBSLO_CLICKHOUSE_PASSWORD or JOBSLO_CLICKHOUSE_PASSWORD_FILE/);
    expect(() => withClickHouseCredentials('http://ch:8123', { JOBSLO_CLICKHOUSE_PASSWORD_FILE: '/nonexistent/pw' })).toThrow(ConfigError);
  });
});
