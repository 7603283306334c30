import { DuckDbStore } from '../../store/duckdb.js';
import { defineStoreConformance } from './conformance.js';
import { forgetDuckDbJobRows } from '../support/duckdb-store.js';

defineStoreConformance('DuckDB', {
  async open() {
    const store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    return store;
  },
  forgetJobRows: (store) => forgetDuckDbJobRows(store as DuckDbStore),
});
