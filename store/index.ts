/**
 * Storage of spans and the pushed-down SLI queries. This entry loads no
 * backend: {@link openStore} and {@link openRunReader} import the DuckDB or
 * ClickHouse backend named by the URL when they are called, so a ClickHouse
 * process never loads DuckDB (and the reverse). The backend classes have
 * their own entries: `store/duckdb.ts` (`jobslo/store/duckdb`) and
 * `store/clickhouse.ts` (`jobslo/store/clickhouse`).
 */
import { StoreError } from '../contracts/index.js';
import type { MigrateOptions, RunReaderHandle, Store } from './types.js';
import { parseStoreUrl, withClickHouseCredentials } from './url.js';
import type { StoreUrl } from './url.js';
import { readOwner } from './owner.js';
import type { StoreOwner } from './owner.js';
import { RemoteStore } from './remote.js';

export type { DuckDbStoreOptions } from './duckdb.js';
export type { ClickHouseStoreOptions } from './clickhouse.js';
export { parseStoreUrl, redact, withClickHouseCredentials, DEFAULT_STORE, CLICKHOUSE_USER_ENV, CLICKHOUSE_PASSWORD_ENV, CLICKHOUSE_PASSWORD_FILE_ENV } from './url.js';
export type { StoreUrl } from './url.js';
export { toSpanRow } from './rows.js';
export type { SpanRow } from './rows.js';
export { deriveSpan, derivationWarnings, dimensionsOf, PROFILE_ORDER, CICD_RESULT_OUTCOMES, DIM_ENVIRONMENT, RowRole } from './derive/index.js';
export type { Derivation, DerivationWarnings, JobRow, ProfileName } from './derive/index.js';
export { compareStrings } from './_common.js';
export { RemoteStore, REMOTE_READ_METHODS } from './remote.js';
export type { RemoteReadMethod } from './remote.js';
export { ownerFilePath, readOwner, removeOwnerFile, writeOwnerFile } from './owner.js';
export type { StoreOwner } from './owner.js';
export { globToLike, isGlob } from './_sql.js';
export type {
  Store,
  StoreIdentity,
  RunReader,
  RunReaderHandle,
  SpanWriter,
  StoreMaintenance,
  Closeable,
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
  UnformedSpans,
  ListRunsByJobQuery,
  RunDistributionQuery,
  RunDistribution,
  DimensionFilter,
  DimensionSelector,
  JobAggregatesQuery,
  MigrateOptions,
  DropBeforeOptions,
  DropResult,
  RunStartsOptions,
  RunStartsQuery,
} from './types.js';

/** The live collector holding the DuckDB file `err` says is locked, if that is what `err` is. */
function lockedBy(url: StoreUrl, err: unknown): { path: string; owner: StoreOwner } | undefined {
  if (url.kind !== 'duckdb' || !(err instanceof StoreError) || err.code !== 'JOBSLO_ERR_STORE_LOCKED') return undefined;
  const owner = readOwner(url.path);
  return owner ? { path: url.path, owner } : undefined;
}

/** Opens the backend a parsed URL names, without migrating; only that backend's module is loaded. */
async function openBackend(url: StoreUrl, env: NodeJS.ProcessEnv): Promise<Store> {
  switch (url.kind) {
    case 'duckdb': {
      const { DuckDbStore } = await import('./duckdb.js');
      return DuckDbStore.open({ path: url.path });
    }
    case 'clickhouse': {
      const { ClickHouseStore } = await import('./clickhouse.js');
      return ClickHouseStore.open({ url: withClickHouseCredentials(url.url, env), database: url.database });
    }
  }
}

async function migrated(store: Store, options: MigrateOptions): Promise<Store> {
  try {
    await store.migrate(options);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * Opens the store a `--store` value names in this process, with every role
 * (read, write, maintenance), and applies migrations. ClickHouse credentials
 * come from the URL or, when it has none, from `env` (see
 * {@link withClickHouseCredentials}). Loads only the backend the URL names.
 * @throws {ConfigError} for a bad value
 * @throws {StoreError} when it cannot be opened; `JOBSLO_ERR_STORE_LOCKED` for a DuckDB file another process (such as a collector) holds
 */
export async function openStore(value: string, env: NodeJS.ProcessEnv = process.env, options: MigrateOptions = {}): Promise<Store> {
  const url = parseStoreUrl(value);
  const opened = await openOrLocked(url, env);
  if ('locked' in opened) {
    const { locked, err } = opened;
    throw new StoreError(
      'JOBSLO_ERR_STORE_LOCKED',
      `the DuckDB file ${locked.path} is held by the collector at ${locked.owner.url} (pid ${locked.owner.pid}); this command writes or migrates, which only that collector can do: ` +
        'send spans to it over OTLP, or stop it first',
      { cause: err },
    );
  }
  return migrated(opened.store, options);
}

/**
 * Opens the store a `--store` value names for reading (`analyze`, `report`,
 * `alerts`, `serve`), applying migrations when it opens it in this process.
 * A DuckDB file that a running collector holds is read through that
 * collector's read API ({@link RemoteStore}). Loads only the backend the URL names.
 * @throws {ConfigError} for a bad value
 * @throws {StoreError} when it cannot be opened
 */
export async function openRunReader(value: string, env: NodeJS.ProcessEnv = process.env, options: MigrateOptions = {}): Promise<RunReaderHandle> {
  const url = parseStoreUrl(value);
  const opened = await openOrLocked(url, env);
  // DuckDB allows one process per file: read through the collector that holds it.
  if ('locked' in opened) return new RemoteStore(opened.locked.owner.url, `duckdb:${opened.locked.path}`, undefined, opened.locked.owner.token);
  return migrated(opened.store, options);
}

/** The store the URL names, or the collector holding its DuckDB file (any other failure is thrown). */
async function openOrLocked(url: StoreUrl, env: NodeJS.ProcessEnv): Promise<{ store: Store } | { locked: { path: string; owner: StoreOwner }; err: unknown }> {
  try {
    return { store: await openBackend(url, env) };
  } catch (err) {
    const locked = lockedBy(url, err);
    if (!locked) throw err;
    return { locked, err };
  }
}
