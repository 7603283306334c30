import { DuckDbStore } from '../../store/duckdb.js';
import { defineRollupConformance } from './conformance.js';

defineRollupConformance('DuckDB', {
  async open(rollups) {
    const store = await DuckDbStore.open({ path: ':memory:', rollups });
    await store.migrate();
    return store;
  },
});
