import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { StoreError } from '../contracts/index.js';
import { openStore, parseStoreUrl, redact } from '../store/index.js';
import type { Store } from '../store/index.js';
import type { CliContext } from './command.js';

/**
 * Opens a store for a read-only command (`analyze`, `report`, `alerts`,
 * `serve`): a DuckDB file that does not exist is an error naming the path
 * (with a similarly named file as a hint), never a new empty store.
 * @throws {StoreError} `JOBSLO_ERR_STORE_MISSING` when the file does not exist
 * @throws {ConfigError} for a value that is not a store URL
 */
export async function openExistingStore(value: string, ctx: Pick<CliContext, 'cwd' | 'env'>): Promise<Store> {
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
        `--store: no store at ${path}${hint}. This command only reads; a store is created by "jobslo collector", "jobslo ingest" or "jobslo demo". Check --store, $JOBSLO_STORE or store: in jobslo.yaml (got "${redact(value)}")`,
      );
    }
  }
  return openStore(value, ctx.env);
}
