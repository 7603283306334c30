import type { Command } from './command.js';

/** Every subcommand, in `--help` order. */
export const commands: Command[] = [];
