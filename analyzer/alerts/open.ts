/**
 * Picks where alert state and the outbox live: `--state-dir` when given,
 * else next to the store — a folder beside the DuckDB file, or tables in the
 * ClickHouse database. Never the working directory, so two configs pointed
 * at two stores never share alert state.
 */
import { ConfigError } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import { parseStoreUrl } from '../../store/index.js';
import type { AlertBackend } from './backend.js';
import { ClickHouseAlertBackend } from './clickhouse.js';
import { FileAlertBackend } from './files.js';

/** Folder of the alert state of a DuckDB store file: `FILE.alerts` beside it. */
export function defaultStateDir(duckdbPath: string): string {
  return `${duckdbPath}.alerts`;
}

/** Options of {@link openAlertBackend}. */
export interface OpenAlertBackendOptions {
  /** The `--store` value the SLOs are evaluated on. */
  store: string;
  /** `--state-dir`: files in this folder, whatever the store. */
  stateDir?: string;
  logger?: Logger;
  /** @default 10_000 */
  maxOutboxEntries?: number;
}

/**
 * The alert backend for a store.
 * @throws {ConfigError} for an in-memory DuckDB store without `stateDir` (nowhere durable to keep state)
 */
export function openAlertBackend(o: OpenAlertBackendOptions): AlertBackend {
  const common = { ...(o.logger ? { logger: o.logger } : {}), ...(o.maxOutboxEntries !== undefined ? { maxOutboxEntries: o.maxOutboxEntries } : {}) };
  if (o.stateDir !== undefined) return new FileAlertBackend({ dir: o.stateDir, ...common });
  const url = parseStoreUrl(o.store);
  if (url.kind === 'clickhouse') return new ClickHouseAlertBackend({ url: url.url, database: url.database, ...common });
  if (url.path === ':memory:') throw new ConfigError('--state-dir', 'is required with an in-memory store (duckdb::memory:): alert state needs a folder that outlives the process');
  return new FileAlertBackend({ dir: defaultStateDir(url.path), ...common });
}
