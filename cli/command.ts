import type { Logger } from '../contracts/index.js';

/** What a command may touch: injected so commands are testable in-process. */
export interface CliContext {
  /** Writes to standard output (the command's result). */
  out(text: string): void;
  /** Writes to standard error (diagnostics for people). */
  err(text: string): void;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM to the CLI. */
  signal: AbortSignal;
}

/** One `jobslo <name>` subcommand. */
export interface Command {
  name: string;
  /** One line for `jobslo --help`. */
  summary: string;
  /** Full `jobslo <name> --help` text: usage, every flag with its default. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[], ctx: CliContext): Promise<number>;
}
