/**
 * Helpers shared by every store backend. Nothing here may import a backend
 * module (store/duckdb.ts, store/clickhouse.ts) or its driver, so that a
 * process using one backend never loads the other.
 */

/** Byte-order string comparison, the same in every store and locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
