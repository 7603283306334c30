import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../contracts/index.js';

/** A parsed `--store` value. */
export type StoreUrl =
  | { kind: 'duckdb'; path: string }
  | { kind: 'clickhouse'; url: string; database: string };

/** Default embedded store file, relative to the working directory. */
export const DEFAULT_STORE = 'duckdb:.jobslo/jobslo.duckdb';

/**
 * Parses `duckdb:PATH` (`duckdb::memory:` for in-memory) or
 * `clickhouse:http(s)://[user[:password]@]HOST:PORT/DATABASE`.
 * @throws {ConfigError} naming `--store` and the bad value
 */
export function parseStoreUrl(value: string, name = '--store'): StoreUrl {
  if (value.startsWith('duckdb:')) {
    const path = value.slice('duckdb:'.length);
    if (path === '') throw new ConfigError(name, 'duckdb: needs a file path, e.g. duckdb:.jobslo/jobslo.duckdb');
    return { kind: 'duckdb', path };
  }
  if (value.startsWith('clickhouse:')) {
    const rest = value.slice('clickhouse:'.length);
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw new ConfigError(name, `"${redact(value)}" is not a URL; use clickhouse:http://HOST:8123/DATABASE`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(name, `ClickHouse is reached over HTTP(S); got ${url.protocol} in "${redact(value)}"`);
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'default';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
      throw new ConfigError(name, `database name "${database}" must match [A-Za-z_][A-Za-z0-9_]*`);
    }
    url.pathname = '';
    return { kind: 'clickhouse', url: url.toString().replace(/\/$/, ''), database };
  }
  throw new ConfigError(name, `"${redact(value)}" is not a store; use duckdb:PATH or clickhouse:http://HOST:8123/DATABASE`);
}

/** The value with any password replaced, for messages. */
export function redact(value: string): string {
  return value.replace(/(\/\/[^:/@]+:)[^@/]*@/, '$1***@');
}

/** Environment variables {@link withClickHouseCredentials} reads. */
export const CLICKHOUSE_USER_ENV = 'JOBSLO_CLICKHOUSE_USER';
export const CLICKHOUSE_PASSWORD_ENV = 'JOBSLO_CLICKHOUSE_PASSWORD';
export const CLICKHOUSE_PASSWORD_FILE_ENV = 'JOBSLO_CLICKHOUSE_PASSWORD_FILE';

/**
 * Adds ClickHouse credentials from the environment to a server URL that has
 * none, so the password need not be written into `--store`:
 * `JOBSLO_CLICKHOUSE_USER`, and `JOBSLO_CLICKHOUSE_PASSWORD` or
 * `JOBSLO_CLICKHOUSE_PASSWORD_FILE` (a file holding the password; surrounding
 * whitespace is ignored). Credentials in the URL win.
 *
 * @throws {ConfigError} when both password variables are set or the file cannot be read
 */
export function withClickHouseCredentials(url: string, env: NodeJS.ProcessEnv, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): string {
  const u = new URL(url);
  if (u.username !== '' || u.password !== '') return url;
  const user = env[CLICKHOUSE_USER_ENV] || undefined;
  const direct = env[CLICKHOUSE_PASSWORD_ENV] || undefined;
  const file = env[CLICKHOUSE_PASSWORD_FILE_ENV] || undefined;
  if (direct !== undefined && file !== undefined) throw new ConfigError(CLICKHOUSE_PASSWORD_FILE_ENV, `set either ${CLICKHOUSE_PASSWORD_ENV} or ${CLICKHOUSE_PASSWORD_FILE_ENV}, not both`);
  let password = direct;
  if (file !== undefined) {
    try {
      password = readFile(file).trim();
    } catch (cause) {
      throw new ConfigError(CLICKHOUSE_PASSWORD_FILE_ENV, `cannot read the ClickHouse password file ${file}: ${errorMessage(cause)}`, { cause });
    }
  }
  if (user === undefined && password === undefined) return url;
  // ClickHouse's default user when only a password is given.
  u.username = encodeURIComponent(user ?? 'default');
  if (password !== undefined) u.password = encodeURIComponent(password);
  return u.toString().replace(/\/$/, '');
}
