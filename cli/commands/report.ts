import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { JOBSLO_VERSION } from '../../contracts/index.js';
import { analyze } from '../../analyzer/index.js';
import { writeReport } from '../../reports/index.js';
import { openStore } from '../../store/index.js';
import type { Command } from '../command.js';
import { STORE_HELP, storeValue, timeRange } from '../_options.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'Write a self-contained HTML SLO report',
  help: `Usage: jobslo report [--store URL] [--since 24h] [--until ISO] [--out DIR]

Writes DIR/index.html: one self-contained page (inline CSS, no scripts, no
network) that works offline, as a CI artifact or as an email attachment.

Options:
${STORE_HELP}
  --since DURATION    window length ending now (or at --until) (default 24h)
  --until ISO         end of the window, ISO-8601 (default: now)
  --out DIR           output folder, created if missing (default jobslo-report)
  -h, --help          show this help
`,
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: {
        store: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        out: { type: 'string', default: 'jobslo-report' },
      },
      strict: true,
      allowPositionals: false,
    });
    const range = timeRange(values.since, values.until, Date.now());
    const store = await openStore(storeValue(values.store, ctx));
    try {
      const analysis = await analyze(store, range);
      const path = await writeReport(resolve(ctx.cwd, values.out), { analysis, storeLocation: store.location, version: JOBSLO_VERSION });
      ctx.out(`${path}\n`);
      return 0;
    } finally {
      await store.close();
    }
  },
};
