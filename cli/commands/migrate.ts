import { parseArgs } from 'node:util';
import { openStore } from '../../store/index.js';
import type { Command } from '../command.js';
import { RETENTION_FLAGS, STORE_HELP, retentionDays, retentionHelp, storeValue } from '../_options.js';

const DAY_MILLIS = 86_400_000;

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Create or upgrade the schema of a store (DuckDB file or ClickHouse database)',
  help: `Usage: jobslo migrate [--store URL] [--retention-days N [--rollup-retention-days M]]

Creates the store's database and tables, or applies the schema migrations it
lacks (recorded in its jobslo_migrations table). Idempotent: running it again
changes nothing. On a store that has job rows but no rollups yet, it also
builds the rollups that SLO evaluation reads (a day at a time, with progress
on stderr); ingest may go on meanwhile. Every command that opens a store does
this too; run it alone
to prepare a ClickHouse database before starting collectors and ingest
processes, or to check that the store URL works. With --retention-days it
then drops the stored days older than that, once (run it from cron for a
store no "jobslo ingest --retention-days" looks after; a DuckDB file must
not be held by a running collector).

Options:
${STORE_HELP}
${retentionHelp('once, after migrating', 22)}
  -h, --help          show this help
`,
  async run(args, ctx) {
    const { values } = parseArgs({ args, options: { store: { type: 'string' }, ...RETENTION_FLAGS }, strict: true, allowPositionals: false });
    const retention = retentionDays(values);
    // openStore migrates; migrating again proves the schema is current.
    // Building rollups for a store that has none takes a while: say how far it got.
    const store = await openStore(storeValue(values.store, ctx), ctx.env, { onProgress: (message) => ctx.err(`${message}\n`) });
    try {
      await store.migrate();
      ctx.out(`schema up to date: ${store.location}\n`);
      if (retention) {
        const now = Date.now();
        const rollupDays = retention.rollupRetentionDays ?? retention.retentionDays;
        const dropped = await store.dropBefore(now - retention.retentionDays * DAY_MILLIS, { rollupsOlderThanMillis: now - rollupDays * DAY_MILLIS });
        ctx.out(`retention: dropped ${dropped.rawDays} day(s) of raw data older than ${retention.retentionDays} days and ${dropped.rollupPartitions} hour-rollup partition(s) older than ${rollupDays} days\n`);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};
