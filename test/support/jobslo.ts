/**
 * The real `jobslo` CLI in tests: one-shot commands and long-running
 * servers, every process through {@link spawnManaged} (own process group,
 * killed after each test by `killManagedAfterEach`).
 */
import { spawnManaged } from './processes.js';
import type { ManagedProcess } from './processes.js';

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** @default 120_000 */
  timeoutMillis?: number;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node BIN ARGS...` to completion. A run past `timeoutMillis` has its
 * group SIGKILLed and rejects, with its output in the message.
 */
export async function runJobslo(bin: string, args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const timeoutMillis = opts.timeoutMillis ?? 120_000;
  const p = spawnManaged(process.execPath, [bin, ...args], { cwd: opts.cwd, env: opts.env ?? process.env });
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    p.exited,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMillis);
    }),
  ]);
  clearTimeout(timer);
  if (exit === 'timeout') {
    process.kill(-p.pid, 'SIGKILL');
    await p.exited;
    throw new Error(`jobslo ${args.join(' ')} did not finish within ${timeoutMillis} ms:\n${p.stderr().slice(-4_000)}`);
  }
  return { code: exit.code ?? -1, stdout: p.stdout(), stderr: p.stderr() };
}

/**
 * Starts `jobslo collector --port 0 ARGS...` and resolves once it logs where
 * it listens. `url` is the base URL (without `/v1/traces`).
 */
export async function startCollectorProcess(bin: string, args: readonly string[], opts: CliOptions = {}): Promise<{ proc: ManagedProcess; url: string }> {
  const proc = spawnManaged(process.execPath, [bin, 'collector', '--port', '0', ...args], { cwd: opts.cwd, env: opts.env ?? process.env });
  const m = await proc.waitForOutput(/collector listening url=(http:\/\/\S+)\/v1\/traces/, opts.timeoutMillis ?? 60_000);
  return { proc, url: m[1] as string };
}
