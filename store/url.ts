import { ConfigError } from '../contracts/index.js';

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
