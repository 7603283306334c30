import { DuckDbStore } from '../../store/duckdb.js';
import type { DuckDbRollups } from '../../store/rollup/duckdb.js';
import { defineRollupConformance } from './conformance.js';

defineRollupConformance('DuckDB', {
  async open(rollups) {
    const store = await DuckDbStore.open({ path: ':memory:', rollups });
    await store.migrate();
    return store;
  },
  async writeMinutes(store, minutes) {
    await (store as unknown as { rollups: DuckDbRollups }).rollups.writeBuckets(minutes, []);
  },
  async toFormat1(store) {
    const d = store as DuckDbStore;
    await d.query('ALTER TABLE rollup_minute_runs DROP COLUMN start_ns');
    await d.query('ALTER TABLE rollup_hour DROP COLUMN first_start_ns');
    await d.query(`DELETE FROM rollup_state WHERE key = 'format'`);
  },
});
