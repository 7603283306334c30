/** Storage of spans and the pushed-down SLI queries, one implementation per backend. */
import { StoreError } from '../contracts/index.js';
import type { MigrateOptions, Store } from './types.js';
import { parseStoreUrl, withClickHouseCredentials } from './url.js';
import { DuckDbStore } from './duckdb.js';
import { ClickHouseStore } from './clickhouse.js';
import { readOwner } from './owner.js';
import { RemoteStore } from './remote.js';

export { DuckDbStore } from './duckdb.js';
export type { DuckDbStoreOptions } from './duckdb.js';
export { ClickHouseStore } from './clickhouse.js';
export type { ClickHouseStoreOptions } from './clickhouse.js';
export { parseStoreUrl, redact, withClickHouseCredentials, DEFAULT_STORE, CLICKHOUSE_USER_ENV, CLICKHOUSE_PASSWORD_ENV, CLICKHOUSE_PASSWORD_FILE_ENV } from './url.js';
export type { StoreUrl } from './url.js';
export { toSpanRow } from './rows.js';
export type { SpanRow } from './rows.js';
export { deriveSpan, derivationWarnings, dimensionsOf, PROFILE_ORDER, CICD_RESULT_OUTCOMES, DIM_ENVIRONMENT, RowRole } from './derive/index.js';
export type { Derivation, DerivationWarnings, JobRow, ProfileName } from './derive/index.js';
export { compareStrings } from './duckdb.js';
export { RemoteStore, REMOTE_READ_METHODS } from './remote.js';
export type { RemoteReadMethod } from './remote.js';
export { ownerFilePath, readOwner, removeOwnerFile, writeOwnerFile } from './owner.js';
export type { StoreOwner } from './owner.js';
export { globToLike, isGlob } from './_sql.js';
export type {
  Store,
  JobAggregate,
  TimeRange,
  JobSelector,
  GoodRunCriterion,
  WindowCount,
  WindowCountsQuery,
  SeriesPoint,
  TimeSeriesQuery,
  RunSummary,
  ListRunsQuery,
  QueueDepth,
  OpenRun,
  JobSeries,
  ListRunsByJobQuery,
  RunDistributionQuery,
  RunDistribution,
  DimensionFilter,
  DimensionSelector,
  JobAggregatesQuery,
  MigrateOptions,
} from './types.js';

/**
 * Opens the store a `--store` value names and applies migrations. ClickHouse
 * credentials come from the URL or, when it has none, from `env` (see
 * {@link withClickHouseCredentials}).
 * @throws {ConfigError} for a bad value; {StoreError} when it cannot be opened
 */
export async function openStore(value: string, env: NodeJS.ProcessEnv = process.env, options: MigrateOptions = {}): Promise<Store> {
  const url = parseStoreUrl(value);
  let store: Store;
  switch (url.kind) {
    case 'duckdb':
      try {
        store = await DuckDbStore.open({ path: url.path });
      } catch (err) {
        // DuckDB allows one process per file: read through the collector that holds it.
        const owner = err instanceof StoreError && err.code === 'JOBSLO_ERR_STORE_LOCKED' ? readOwner(url.path) : undefined;
        if (!owner) throw err;
        return new RemoteStore(owner.url, `duckdb:${url.path}`, undefined, owner.token);
      }
      break;
    case 'clickhouse':
      store = await ClickHouseStore.open({ url: withClickHouseCredentials(url.url, env), database: url.database });
      break;
  }
  try {
    await store.migrate(options);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
