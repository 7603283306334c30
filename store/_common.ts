/**
 * Helpers shared by every store backend. Nothing here may import a backend
 * module (store/duckdb.ts, store/clickhouse.ts) or its driver, so that a
 * process using one backend never loads the other.
 */
import { ConfigError, StoreError } from '../contracts/index.js';
import type { DropBeforeOptions, UnformedSpans } from './types.js';

const DAY_MILLIS = 86_400_000;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * `n` (truncated) for a 32-bit integer column. A value outside it is refused,
 * never clamped: the collector validates values before they get here, so
 * this only guards writes that skipped validation.
 * @throws {StoreError} JOBSLO_ERR_STORE_QUERY naming the column and the value
 */
export function int32Column(n: number, column: string): number {
  if (n >= INT32_MIN && n <= INT32_MAX) return Math.trunc(n);
  throw new StoreError('JOBSLO_ERR_STORE_QUERY', `${column} ${n} does not fit a 32-bit integer column`);
}

/**
 * `n` for a 64-bit integer column; a value outside it is refused, never clamped.
 * @throws {StoreError} JOBSLO_ERR_STORE_QUERY naming the column and the value
 */
export function int64Column(n: bigint, column: string): bigint {
  if (n >= INT64_MIN && n <= INT64_MAX) return n;
  throw new StoreError('JOBSLO_ERR_STORE_QUERY', `${column} ${n} does not fit a 64-bit integer column`);
}


/** The start of the UTC day of `millis`, Unix ms. */
export function utcDayStartMillis(millis: number): number {
  return Math.floor(millis / DAY_MILLIS) * DAY_MILLIS;
}

/**
 * The UTC day starts, Unix ms, before which {@link StoreMaintenance.dropBefore}
 * drops raw data and hour rollups.
 * @throws {ConfigError} for a non-finite time, or a rollup cut-off after the raw one
 */
export function retentionCutoffs(olderThanMillis: number, options: DropBeforeOptions = {}): { rawDayMillis: number; hourDayMillis: number } {
  if (!Number.isFinite(olderThanMillis)) throw new ConfigError('olderThanMillis', `${olderThanMillis} is not a time`);
  const rollups = options.rollupsOlderThanMillis ?? olderThanMillis;
  if (!Number.isFinite(rollups)) throw new ConfigError('rollupsOlderThanMillis', `${rollups} is not a time`);
  if (rollups > olderThanMillis) {
    throw new ConfigError('rollupsOlderThanMillis', `${new Date(rollups).toISOString()} is after the raw data cut-off ${new Date(olderThanMillis).toISOString()}; hour rollups can be kept longer than raw data, not shorter`);
  }
  return { rawDayMillis: utcDayStartMillis(olderThanMillis), hourDayMillis: utcDayStartMillis(rollups) };
}

/** Byte-order string comparison, the same in every store and locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rows of `profile`, `missing`, `n` as {@link UnformedSpans}, by profile then missing attribute. */
export function toUnformedSpans(rows: readonly Record<string, unknown>[]): UnformedSpans[] {
  return rows
    .map((r) => ({ profile: String(r['profile']), missing: String(r['missing']), spans: Number(r['n']) }))
    .sort((a, b) => compareStrings(a.profile, b.profile) || compareStrings(a.missing, b.missing));
}
