import { StoreError } from '../contracts/index.js';
import type { SpanRecord } from '../contracts/index.js';
import type { JobAggregate, Store } from './types.js';

/** Options of {@link ClickHouseStore}. */
export interface ClickHouseStoreOptions {
  /** Base HTTP URL, e.g. `http://127.0.0.1:8123` (credentials allowed). */
  url: string;
  database: string;
}

/** ClickHouse store: not built yet (issue 3). Every call fails with a clear error. */
export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse';
  readonly location: string;

  constructor(options: ClickHouseStoreOptions) {
    this.location = `${options.url}/${options.database}`;
  }

  private unsupported(): never {
    throw new StoreError('JOBSLO_ERR_STORE_UNREACHABLE', 'the ClickHouse store is not available in this build yet; use duckdb:PATH');
  }

  async migrate(): Promise<void> {
    this.unsupported();
  }

  async insertSpans(_spans: readonly SpanRecord[]): Promise<void> {
    this.unsupported();
  }

  async jobAggregates(): Promise<JobAggregate[]> {
    this.unsupported();
  }

  async close(): Promise<void> {}
}
