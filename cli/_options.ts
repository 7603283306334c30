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

/** parseArgs entries of the retention flags (`ingest`, `migrate`). */
export const RETENTION_FLAGS = {
  'retention-days': { type: 'string' },
  'rollup-retention-days': { type: 'string' },
} as const;

/** Help lines of {@link RETENTION_FLAGS}; `when` says when retention runs, `column` where descriptions start. */
export function retentionHelp(when: string, column = 26): string {
  const pad = ' '.repeat(column);
  const flag = (name: string, lines: string[]): string =>
    name.length + 2 < column - 1 ? [`  ${name.padEnd(column - 2)}${lines[0]}`, ...lines.slice(1).map((l) => pad + l)].join('\n') : [`  ${name}`, ...lines.map((l) => pad + l)].join('\n');
  return [
    flag('--retention-days N', [`drop stored days older than N days, ${when}`, '(default: keep everything)']),
    flag('--rollup-retention-days M', ['keep the hour rollups M days (M >= N) instead of', 'dropping them with the raw data, so SLO windows', 'longer than N days still count those hours', '(default: N; needs --retention-days)']),
  ].join('\n');
}

/** Retention in days from {@link RETENTION_FLAGS}. */
export interface RetentionDays {
  retentionDays: number;
  /** At least `retentionDays`. */
  rollupRetentionDays?: number;
}

/**
 * Validates `--retention-days` and `--rollup-retention-days`; undefined when
 * neither is given (keep everything).
 * @throws {ConfigError} naming the flag: not a positive whole number, rollups kept shorter than raw data, or rollup retention alone
 */
export function retentionDays(values: { 'retention-days'?: string | undefined; 'rollup-retention-days'?: string | undefined }): RetentionDays | undefined {
  const raw = values['retention-days'];
  const rollup = values['rollup-retention-days'];
  if (raw === undefined) {
    if (rollup !== undefined) throw new ConfigError('--rollup-retention-days', 'needs --retention-days N: without it nothing is dropped, hour rollups included');
    return undefined;
  }
  const days = parsePositiveInt(raw, '--retention-days', 1);
  if (rollup === undefined) return { retentionDays: days };
  const rollupDays = parsePositiveInt(rollup, '--rollup-retention-days', days);
  if (rollupDays < days) {
    throw new ConfigError('--rollup-retention-days', `${rollupDays} is less than --retention-days ${days}; hour rollups can be kept longer than the raw data, not shorter`);
  }
  return { retentionDays: days, rollupRetentionDays: rollupDays };
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
