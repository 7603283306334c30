import { createLineLogger, JobsloError, JOBSLO_VERSION, parseLogLevel, errorMessage } from '../contracts/index.js';
import type { CliContext, Command } from './command.js';
import { commands, loadAllCommands } from './registry.js';

async function topHelp(): Promise<string> {
  const all = await loadAllCommands();
  const width = Math.max(...all.map((c) => c.name.length));
  const lines = all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `jobslo ${JOBSLO_VERSION}: job observability and SLOs for batch, cron, queue and CI jobs

Usage: jobslo <command> [options]

Commands:
${lines.join('\n')}

Global:
  --help, -h     show help (also: jobslo <command> --help)
  --version      print the version
  JOBSLO_LOG_LEVEL=debug|info|warn|error|silent  diagnostics on stderr (default info)
`;
}

/**
 * Entry point of the `jobslo` binary. Sets `process.exitCode` and returns;
 * never calls `process.exit()`.
 */
export async function main(argv: string[]): Promise<void> {
  const level = parseLogLevel(process.env['JOBSLO_LOG_LEVEL'] ?? 'info') ?? 'info';
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) return;
    controller.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ctx: CliContext = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    logger: createLineLogger((line) => process.stderr.write(line + '\n'), level),
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  };
  try {
    process.exitCode = await dispatch(argv, ctx);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Runs one CLI invocation against an injected context; resolves to the exit code. */
export async function dispatch(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const sub = name === 'help' ? rest[0] : undefined;
    const cmd = sub === undefined ? undefined : await findCommand(sub);
    ctx.out(cmd ? cmd.help : await topHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    ctx.out(`${JOBSLO_VERSION}\n`);
    return 0;
  }
  const cmd = await findCommand(name);
  if (!cmd) {
    ctx.err(`jobslo: unknown command "${name}". Run "jobslo --help" for the list.\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    // `jobslo run -- cmd --help` passes --help to the job, not to us.
    const dd = rest.indexOf('--');
    const flagIdx = Math.max(rest.indexOf('--help'), rest.indexOf('-h'));
    if (dd === -1 || flagIdx < dd) {
      ctx.out(cmd.help);
      return 0;
    }
  }
  try {
    return await cmd.run(rest, ctx);
  } catch (err) {
    if (err instanceof JobsloError) {
      ctx.err(`jobslo ${cmd.name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      ctx.err(`jobslo ${cmd.name}: ${err.message}\nRun "jobslo ${cmd.name} --help" for usage.\n`);
      return 2;
    }
    ctx.err(`jobslo ${cmd.name}: unexpected error: ${errorMessage(err)}\n`);
    if (err instanceof Error && err.stack) ctx.logger.debug(err.stack);
    return 2;
  }
}

async function findCommand(name: string): Promise<Command | undefined> {
  return commands.find((c) => c.name === name)?.load();
}
