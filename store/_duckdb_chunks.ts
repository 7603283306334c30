/**
 * Column-wise appends for the DuckDB store: rows go to DuckDB a data chunk
 * at a time (numeric columns written into typed arrays and copied once per
 * chunk) instead of one call into DuckDB per value.
 */
import { DuckDBDataChunk, DuckDBVector } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBType, DuckDBValue } from '@duckdb/node-api';

/** One column of a table: its DuckDB type and the value a row gives it (null for NULL). */
export interface ChunkColumn<R> {
  type: DuckDBType;
  value: (row: R) => DuckDBValue;
}

/** Rows per data chunk: DuckDB's vector size (2048 in its release builds). */
export function chunkRows(): number {
  return DuckDBVector.standardSize();
}

/**
 * Appends `rows` to `appender` in data chunks of at most {@link chunkRows}
 * rows; `columns` are the table's columns in table order. The caller
 * flushes the appender.
 */
export function appendChunks<R>(appender: DuckDBAppender, columns: readonly ChunkColumn<R>[], rows: readonly R[]): void {
  const types = columns.map((c) => c.type);
  const size = chunkRows();
  for (let from = 0; from < rows.length; from += size) {
    const n = Math.min(size, rows.length - from);
    const chunk = DuckDBDataChunk.create(types, n);
    for (let c = 0; c < columns.length; c++) {
      const value = (columns[c] as ChunkColumn<R>).value;
      const vector = chunk.getColumnVector(c);
      for (let i = 0; i < n; i++) vector.setItem(i, value(rows[from + i] as R));
      vector.flush();
    }
    appender.appendDataChunk(chunk);
  }
}
