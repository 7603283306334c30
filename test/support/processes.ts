/**
 * Processes that tests start, and their cleanup.
 *
 * Every process started with {@link spawnManaged} runs in a process group of
 * its own (`detached`), is registered, and is killed with its whole group
 * (children included) by {@link killAllManaged}. Test files call
 * {@link killManagedAfterEach} once at top level, so whatever a test started
 * is gone after it, whether it passed, failed or timed out. As a last resort,
 * the groups still registered when the test worker exits are SIGKILLed.
 *
 * {@link waitFor} polls a condition (never a fixed sleep) with a deadline and
 * says what it waited for and what it saw last when the deadline passes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { afterEach } from 'vitest';

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Pid of the process, which is also its process group id. */
  readonly pid: number;
  /** What it wrote so far (bounded: the last {@link OUTPUT_LIMIT} characters of each stream). */
  stdout(): string;
  stderr(): string;
  /** Resolves when it exits (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once it has exited. */
  hasExited(): boolean;
  /** Resolves with the first match of `pattern` in stdout + stderr; rejects on exit or after `timeoutMillis`. */
  waitForOutput(pattern: RegExp, timeoutMillis?: number): Promise<RegExpExecArray>;
}

/** Characters of each output stream kept per process. */
export const OUTPUT_LIMIT = 256 * 1024;

const live = new Set<ManagedProcess>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

process.once('exit', () => {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
});

/**
 * Spawns `cmd` in a new process group with piped stdout/stderr, registered
 * for {@link killAllManaged}.
 */
export function spawnManaged(cmd: string, args: readonly string[], opts: Omit<SpawnOptions, 'detached' | 'stdio'> = {}): ManagedProcess {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    // the 'error' event (ENOENT, EACCES) follows; keep it from crashing the worker
    child.once('error', () => undefined);
    throw new Error(`could not start ${cmd} ${args.join(' ')}`);
  }
  const pid = child.pid;
  let out = '';
  let err = '';
  let done = false;
  const listeners = new Set<() => void>();
  const keep = (buf: string, chunk: Buffer): string => {
    const next = buf + chunk.toString();
    return next.length > OUTPUT_LIMIT ? next.slice(next.length - OUTPUT_LIMIT) : next;
  };
  child.stdout?.on('data', (c: Buffer) => {
    out = keep(out, c);
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err = keep(err, c);
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const managed: ManagedProcess = {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    hasExited: () => done,
    waitForOutput(pattern, timeoutMillis = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = pattern.exec(out + err);
          if (m) {
            cleanup();
            resolve(m);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${cmd} did not print ${pattern} within ${timeoutMillis} ms; output:\n${tail(out + err)}`));
        }, timeoutMillis);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(onData);
        };
        const onData = (): void => {
          check();
        };
        if (check()) return;
        listeners.add(onData);
        exited.then(
          (e) => {
            if (check()) return;
            cleanup();
            reject(new Error(`${cmd} exited (code ${e.code}, signal ${e.signal}) before printing ${pattern}; output:\n${tail(out + err)}`));
          },
          () => undefined,
        );
      });
    },
  };
  live.add(managed);
  return managed;
}

function tail(s: string, n = 4_000): string {
  return s.length > n ? `...${s.slice(s.length - n)}` : s;
}

/**
 * Stops a managed process and its whole group: `signal` (default SIGTERM)
 * to the group, then SIGKILL to the group after `graceMillis` (default
 * 5000) if the leader has not exited, and a final SIGKILL sweep for
 * children that outlived it.
 */
export async function killManaged(p: ManagedProcess, signal: NodeJS.Signals = 'SIGTERM', graceMillis = 5_000): Promise<void> {
  if (!p.hasExited()) {
    killGroup(p.pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      p.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMillis);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      killGroup(p.pid, 'SIGKILL');
      await p.exited;
    }
  }
  killGroup(p.pid, 'SIGKILL');
  live.delete(p);
}

/** Stops every managed process still registered (see {@link killManaged}). */
export async function killAllManaged(signal: NodeJS.Signals = 'SIGTERM', graceMillis = 5_000): Promise<void> {
  await Promise.all([...live].map((p) => killManaged(p, signal, graceMillis)));
}

/** Registers an `afterEach` that stops every process the test started. Call once per test file. */
export function killManagedAfterEach(): void {
  afterEach(async () => {
    await killAllManaged();
  }, 30_000);
}

export interface WaitOptions {
  /** @default 60_000 */
  timeoutMillis?: number;
  /** @default 100 */
  intervalMillis?: number;
}

/**
 * Polls `probe` until it returns something other than `undefined`, and
 * returns that. Throws after `timeoutMillis`, naming `what` and the last
 * value `describe` gave (or the last error `probe` threw).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, opts: WaitOptions & { describe?: () => string } = {}): Promise<T> {
  const timeoutMillis = opts.timeoutMillis ?? 60_000;
  const intervalMillis = opts.intervalMillis ?? 100;
  const deadline = Date.now() + timeoutMillis;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const seen = opts.describe?.() ?? (lastError instanceof Error ? lastError.message : lastError === undefined ? 'nothing' : String(lastError));
      throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}; last seen: ${seen}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMillis));
  }
}
