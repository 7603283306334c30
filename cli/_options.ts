import { ConfigError, parseDurationMillis } from '../contracts/index.js';
import { DEFAULT_STORE } from '../store/index.js';
import type { CliContext } from './command.js';

/** `--store` value: flag, else `JOBSLO_STORE`, else the embedded default. */
export function storeValue(flag: string | undefined, ctx: CliContext): string {
  return flag ?? ctx.env['JOBSLO_STORE'] ?? DEFAULT_STORE;
}

/** Help text line shared by every command that reads a store. */
export const STORE_HELP = `  --store URL         duckdb:PATH or clickhouse:http://HOST:8123/DATABASE
                      (default: $JOBSLO_STORE, else ${DEFAULT_STORE})`;

/**
 * `--since 24h` (and optional `--until`, an ISO time) as the range
 * `(until - since, until]` (`until` defaults to now): a run that ended at
 * exactly `until` is inside it, one that ended at exactly its start is not.
 */
export function timeRange(since: string | undefined, until: string | undefined, nowMillis: number): { fromMillis: number; toMillis: number } {
  let toMillis = nowMillis;
  if (until !== undefined) {
    const t = Date.parse(until);
    if (Number.isNaN(t)) throw new ConfigError('--until', `"${until}" is not an ISO-8601 time, e.g. 2026-11-29T00:00:00Z`);
    toMillis = t;
  }
  const span = parseDurationMillis(since ?? '24h', '--since');
  if (span <= 0) throw new ConfigError('--since', 'must be a positive duration');
  return { fromMillis: toMillis - span, toMillis };
}

/** Parses a TCP port flag. */
export function parsePort(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(name, `"${value}" is not a TCP port (0-65535)`);
  return n;
}

/** Parses a positive integer flag. */
export function parsePositiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(name, `"${value}" is not a positive whole number`);
  return n;
}
