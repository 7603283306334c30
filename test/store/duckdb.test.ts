import { DuckDbStore } from '../../store/index.js';
import { defineStoreConformance } from './conformance.js';

defineStoreConformance('DuckDB', {
  async open() {
    const store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    return store;
  },
});
