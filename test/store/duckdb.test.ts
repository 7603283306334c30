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
  },
});
