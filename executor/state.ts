/**
 * Local executor state: idempotency records and lock files under one
 * directory. See executor/README.md for why the state is local.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../contracts/index.js';
import { sleep, type Clock } from './clock.js';
import { releaseLock, tryAcquireLock, writeFileAtomic, type LockOwner } from './internal/locks.js';

/** Default state directory, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.jobslo/state';

/**
 * `flag ?? env JOBSLO_STATE_DIR ?? .jobslo/state`, resolved against `cwd`.
 */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  const dir = flag ?? env['JOBSLO_STATE_DIR'] ?? DEFAULT_STATE_DIR;
  if (dir.trim() === '') throw new ConfigError('--state-dir', 'must not be empty');
  return isAbsolute(dir) ? dir : resolve(cwd, dir);
}

/** What is stored once a run with an idempotency key succeeded. */
export interface IdempotencyRecord {
  job: string;
  key: string;
  runId: string;
  outcome: 'succeeded';
  finishedAtMillis: number;
}

function fileStem(parts: readonly string[]): string {
  const last = parts[parts.length - 1] ?? '';
  const slug = last.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 48);
  const hash = createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
  return `${slug}-${hash}`;
}

function ensureDir(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ConfigError('stateDir', `cannot create state directory ${dir}`, { cause: err });
  }
  return dir;
}

/** Paths of one (job, idempotency key) pair. Keys are scoped per job name. */
function idempotencyPaths(stateDir: string, job: string, key: string): { record: string; lock: string } {
  const dir = join(stateDir, 'idempotency');
  const stem = fileStem([job, key]);
  return { record: join(dir, `${stem}.json`), lock: join(dir, `${stem}.lock`) };
}

/** The record of a succeeded run with this job and key, if any. */
export function readSucceeded(stateDir: string, job: string, key: string): IdempotencyRecord | undefined {
  let raw: string;
  try {
    raw = readFileSync(idempotencyPaths(stateDir, job, key).record, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('stateDir', `cannot read idempotency record in ${stateDir}`, { cause: err });
  }
  try {
    const rec = JSON.parse(raw) as IdempotencyRecord;
    return rec.outcome === 'succeeded' && rec.job === job && rec.key === key ? rec : undefined;
  } catch {
    return undefined; // a torn record cannot exist (atomic rename); treat garbage as absent
  }
}

/** Records that a run with this job and key succeeded (atomic write). */
export function recordSucceeded(stateDir: string, rec: IdempotencyRecord): void {
  const { record } = idempotencyPaths(stateDir, rec.job, rec.key);
  ensureDir(join(stateDir, 'idempotency'));
  writeFileAtomic(record, JSON.stringify(rec));
}

/** Options of the lock waits. */
export interface WaitOptions {
  clock: Clock;
  /** How often to retry a held lock. @default 100 */
  pollMillis?: number;
  /** Aborting rejects the wait with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Releases a lock; safe to call twice. */
export type Release = () => void;

async function waitForAny(paths: readonly string[], owner: LockOwner, opts: WaitOptions): Promise<{ release: Release; waited: boolean }> {
  let waited = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    for (const path of paths) {
      if (tryAcquireLock(path, owner, opts.clock.now())) {
        let released = false;
        return {
          waited,
          release: () => {
            if (released) return;
            released = true;
            releaseLock(path, owner);
          },
        };
      }
    }
    waited = true;
    await sleep(opts.clock, opts.pollMillis ?? 100, opts.signal);
  }
}

/**
 * Waits until this process holds the lock of (job, key), so two runs with
 * one key never execute at once.
 */
export function acquireIdempotencyLock(
  stateDir: string,
  job: string,
  key: string,
  owner: LockOwner,
  opts: WaitOptions,
): Promise<{ release: Release; waited: boolean }> {
  ensureDir(join(stateDir, 'idempotency'));
  return waitForAny([idempotencyPaths(stateDir, job, key).lock], owner, opts);
}

/**
 * Waits for one of `limit` slots of a concurrency key (shared by every job
 * using the key on this machine).
 *
 * @throws {ConfigError} when `limit` is not a positive integer
 */
export function acquireConcurrencySlot(
  stateDir: string,
  key: string,
  limit: number,
  owner: LockOwner,
  opts: WaitOptions,
): Promise<{ release: Release; waited: boolean }> {
  if (!Number.isInteger(limit) || limit < 1) throw new ConfigError('concurrency', `must be an integer >= 1, got ${limit}`);
  const dir = ensureDir(join(stateDir, 'concurrency', fileStem([key])));
  const slots = Array.from({ length: limit }, (_, i) => join(dir, `slot-${i}.lock`));
  return waitForAny(slots, owner, opts);
}
