import type { Command } from './command.js';
import { analyzeCommand } from './commands/analyze.js';
import { collectorCommand } from './commands/collector.js';
import { reportCommand } from './commands/report.js';

/** Every subcommand, in `--help` order. */
export const commands: Command[] = [
  collectorCommand,
  analyzeCommand,
  reportCommand,
];
