import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { StoreError } from '../contracts/index.js';
import { openRunReader, parseStoreUrl, redact, withClickHouseCredentials } from '../store/index.js';
import { quoteString } from '../store/_clickhouse.js';
import type { RunReaderHandle } from '../store/index.js';
import type { CliContext } from './command.js';

const CREATED_BY = 'This command only reads; a store is created by "jobslo collector", "jobslo ingest" or "jobslo demo"';

/**
 * Opens a store for a read-only command (`analyze`, `report`, `alerts`,
 * `serve`): a DuckDB file or a ClickHouse database that does not exist is an
 * error naming it (with similarly named ones as a hint), never a new empty
 * store. A DuckDB file a running collector holds is read through it.
 * @throws {StoreError} `JOBSLO_ERR_STORE_MISSING` when the file or database does not exist
 * @throws {ConfigError} for a value that is not a store URL
 */
export async function openExistingStore(value: string, ctx: Pick<CliContext, 'cwd' | 'env'>): Promise<RunReaderHandle> {
  const url = parseStoreUrl(value);
  if (url.kind === 'duckdb' && url.path !== ':memory:') {
    const path = resolve(ctx.cwd, url.path);
    if (!existsSync(path)) {
      const dir = dirname(path);
      let hint = '';
      if (!existsSync(dir)) hint = ` (the folder ${dir} does not exist either)`;
      else {
        const near = readdirSync(dir).filter((f) => f.endsWith('.duckdb') && f !== basename(path));
        if (near.length > 0) hint = `; stores in ${dir}: ${near.slice(0, 5).join(', ')}`;
      }
      throw new StoreError(
        'JOBSLO_ERR_STORE_MISSING',
        `--store: no store at ${path}${hint}. ${CREATED_BY}. Check --store, $JOBSLO_STORE or store: in jobslo.yaml (got "${redact(value)}")`,
      );
    }
  }
  if (url.kind === 'clickhouse') {
    // Opening would create the database (migrate); look first.
    const { ClickHouseStore } = await import('../store/clickhouse.js');
    const probe = await ClickHouseStore.open({ url: withClickHouseCredentials(url.url, ctx.env), database: url.database });
    let found: boolean;
    try {
      const [row] = await probe.query(`SELECT count() AS n FROM system.databases WHERE name = ${quoteString(url.database)}`);
      found = Number(row?.['n'] ?? 0) > 0;
    } finally {
      await probe.close();
    }
    if (!found) {
      throw new StoreError(
        'JOBSLO_ERR_STORE_MISSING',
        `--store: no database ${url.database} on the ClickHouse server ${redact(url.url)}. ${CREATED_BY}. Check --store, $JOBSLO_STORE or store: in jobslo.yaml (got "${redact(value)}")`,
      );
    }
  }
  return openRunReader(value, ctx.env);
}
