/** Helpers of the DuckDB store and its rollups. */
import type { DuckDBResultReader } from '@duckdb/node-api';

/**
 * A read result as row objects (column name to JS value), as
 * `getRowObjectsJS` gives them, but converted a column at a time, which is
 * several times faster for results of many rows (a report's series and run
 * lists are tens of thousands).
 */
export function rowObjects(reader: DuckDBResultReader): Record<string, unknown>[] {
  const names = reader.deduplicatedColumnNames();
  const columns = reader.getColumnsJS();
  const n = columns[0]?.length ?? 0;
  const rows = new Array<Record<string, unknown>>(n);
  for (let i = 0; i < n; i++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) row[names[c] as string] = columns[c]?.[i];
    rows[i] = row;
  }
  return rows;
}
