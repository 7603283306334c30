/** Storage of spans and the pushed-down SLI queries, one implementation per backend. */
import type { Store } from './types.js';
import { parseStoreUrl } from './url.js';
import { DuckDbStore } from './duckdb.js';

export { DuckDbStore } from './duckdb.js';
export type { DuckDbStoreOptions } from './duckdb.js';
export { parseStoreUrl, redact, DEFAULT_STORE } from './url.js';
export type { StoreUrl } from './url.js';
export { toSpanRow } from './rows.js';
export type { SpanRow } from './rows.js';
export type { Store, JobAggregate, TimeRange } from './types.js';

/**
 * Opens the store a `--store` value names and applies migrations.
 * @throws {ConfigError} for a bad value; {StoreError} when it cannot be opened
 */
export async function openStore(value: string): Promise<Store> {
  const url = parseStoreUrl(value);
  let store: Store;
  switch (url.kind) {
    case 'duckdb':
      store = await DuckDbStore.open({ path: url.path });
      break;
    case 'clickhouse': {
      const { ClickHouseStore } = await import('./clickhouse.js');
      store = new ClickHouseStore({ url: url.url, database: url.database });
      break;
    }
  }
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
