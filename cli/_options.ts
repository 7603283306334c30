import { ConfigError, parseDurationMillis } from '../contracts/index.js';
import { DEFAULT_STORE } from '../store/index.js';
import type { CliContext } from './command.js';

/** `--store` value: flag, else `JOBSLO_STORE`, else the embedded default. */
export function storeValue(flag: string | undefined, ctx: CliContext): string {
  return flag ?? ctx.env['JOBSLO_STORE'] ?? DEFAULT_STORE;
}

/** Help text line shared by every command that reads a store. */
export const STORE_HELP = `  --store URL         duckdb:PATH or clickhouse:http://HOST:8123/DATABASE
                      (default: $JOBSLO_STORE, else ${DEFAULT_STORE});
                      ClickHouse credentials in the URL or from
                      $JOBSLO_CLICKHOUSE_USER and $JOBSLO_CLICKHOUSE_PASSWORD
                      (or $JOBSLO_CLICKHOUSE_PASSWORD_FILE)`;

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

/** parseArgs entries of the span validation flags shared by `collector` and `ingest`. */
export const VALIDATION_FLAGS = {
  'min-span-time': { type: 'string' },
  'max-clock-skew': { type: 'string' },
  'max-queue-delay': { type: 'string' },
} as const;

/** Help text of {@link VALIDATION_FLAGS}. */
export const VALIDATION_HELP = `  --min-span-time T   earliest accepted span, queued or lifecycle time, ISO-8601
                      (default 2000-01-01T00:00:00Z); earlier spans are rejected
  --max-clock-skew D  how far ahead of this machine's clock a time may be
                      (default 1d); later spans are rejected
  --max-queue-delay D longest accepted queued-to-start delay of a run (default 30d)`;

/** The validation options the flags of {@link VALIDATION_FLAGS} give (defaults left to the validator). */
export function validationOptions(values: { 'min-span-time'?: string; 'max-clock-skew'?: string; 'max-queue-delay'?: string }): {
  minTimeUnixMillis?: number;
  maxFutureMillis?: number;
  maxQueueDelayMillis?: number;
} {
  const out: { minTimeUnixMillis?: number; maxFutureMillis?: number; maxQueueDelayMillis?: number } = {};
  const min = values['min-span-time'];
  if (min !== undefined) {
    const t = Date.parse(min);
    if (Number.isNaN(t) || t < 0) throw new ConfigError('--min-span-time', `"${min}" is not an ISO-8601 time after 1970, e.g. 2020-01-01T00:00:00Z`);
    out.minTimeUnixMillis = t;
  }
  if (values['max-clock-skew'] !== undefined) out.maxFutureMillis = parseDurationMillis(values['max-clock-skew'], '--max-clock-skew');
  if (values['max-queue-delay'] !== undefined) out.maxQueueDelayMillis = parseDurationMillis(values['max-queue-delay'], '--max-queue-delay');
  return out;
}
