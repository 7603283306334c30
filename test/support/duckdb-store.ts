/** Test helpers for DuckDB stores. */
import type { DuckDbStore } from '../../store/duckdb.js';

/**
 * Makes `store` look like one written by a release before job rows (and
 * rollups): its spans stay, its derived rows, unformed spans, rollups and the
 * migrations that made them go, so that `migrate()` must re-derive them.
 */
export async function forgetDuckDbJobRows(store: DuckDbStore): Promise<void> {
  await store.query('DELETE FROM job_rows');
  await store.query('DELETE FROM unformed_spans');
  await store.query('DELETE FROM jobslo_migrations WHERE version >= 3');
  for (const t of ['rollup_minute_runs', 'rollup_hour', 'rollup_hour_good', 'rollup_hour_sketch', 'rollup_marks', 'rollup_state']) await store.query(`DELETE FROM ${t}`);
}
