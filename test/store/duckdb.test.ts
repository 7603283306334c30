import { DuckDbStore } from '../../store/duckdb.js';
import { defineStoreConformance } from './conformance.js';

defineStoreConformance('DuckDB', {
  async open() {
    const store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    return store;
  },
  async forgetJobRows(store) {
    const duck = store as DuckDbStore;
    await duck.query('DELETE FROM job_rows');
    await duck.query('DELETE FROM unformed_spans');
    await duck.query('DELETE FROM jobslo_migrations WHERE version >= 3');
    // A release before job rows had no rollups either.
    for (const t of ['rollup_minute_runs', 'rollup_hour', 'rollup_hour_good', 'rollup_hour_sketch', 'rollup_marks', 'rollup_state']) await duck.query(`DELETE FROM ${t}`);
  },
});
