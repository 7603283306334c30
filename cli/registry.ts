import type { Command } from './command.js';
import { alertsCommand } from './commands/alerts.js';
import { analyzeCommand } from './commands/analyze.js';
import { collectorCommand } from './commands/collector.js';
import { demoCommand } from './commands/demo.js';
import { ingestCommand } from './commands/ingest.js';
import { migrateCommand } from './commands/migrate.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { scheduleCommand } from './commands/schedule.js';

/** Every subcommand, in `--help` order. */
export const commands: Command[] = [
  demoCommand,
  runCommand,
  scheduleCommand,
  collectorCommand,
  ingestCommand,
  migrateCommand,
  analyzeCommand,
  reportCommand,
  alertsCommand,
  serveCommand,
];
