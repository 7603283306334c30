/**
 * Cross-process lock files: created with `O_EXCL` (`wx`), holding the owner's
 * pid, its start time and the run id. A lock whose pid is dead (or reused by
 * another process, detected by start time) is stale and may be taken over.
 */
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pidExists, processStartTicks } from './proc.js';

/** Who holds a lock. */
export interface LockOwner {
  pid: number;
  /** `/proc/<pid>/stat` start time, when available: guards against pid reuse. */
  startTicks?: string | undefined;
  runId: string;
  acquiredAtMillis: number;
}

/**
 * An unparsable lock file younger than this is being written by its creator
 * (create and write are two steps); older, its creator died between them.
 */
const UNPARSABLE_STALE_MILLIS = 10_000;

let selfStartTicks: string | undefined | null = null;

/** The owner record for this process and a run. */
export function ownerFor(runId: string, nowMillis: number): LockOwner {
  if (selfStartTicks === null) selfStartTicks = processStartTicks(process.pid);
  return { pid: process.pid, startTicks: selfStartTicks, runId, acquiredAtMillis: Math.round(nowMillis) };
}

/** `true` while the owner's process runs (the same process, not a later one with its pid). */
export function isOwnerAlive(owner: LockOwner): boolean {
  if (!pidExists(owner.pid)) return false;
  if (owner.startTicks === undefined) return true;
  const now = processStartTicks(owner.pid);
  return now === undefined || now === owner.startTicks;
}

function createExclusive(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
  return true;
}

type Read = { kind: 'missing' } | { kind: 'owner'; owner: LockOwner; raw: string } | { kind: 'unparsable'; raw: string };

function readLock(path: string): Read {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  try {
    const v = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.runId === 'string') return { kind: 'owner', owner: v as LockOwner, raw };
  } catch {
    // fall through
  }
  return { kind: 'unparsable', raw };
}

function olderThan(path: string, millis: number, nowMillis: number): boolean {
  try {
    return nowMillis - statSync(path).mtimeMs > millis;
  } catch {
    return false;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Tries once to take the lock at `path`. Takes over a stale lock.
 *
 * A takeover runs under a second `O_EXCL` guard file (`<path>.takeover`) and
 * re-reads the lock under it, so two processes that both saw the same stale
 * lock cannot both replace it.
 *
 * @returns `true` when `owner` now holds the lock
 */
export function tryAcquireLock(path: string, owner: LockOwner, nowMillis: number = Date.now()): boolean {
  if (createExclusive(path, owner)) return true;
  const seen = readLock(path);
  if (seen.kind === 'missing') return createExclusive(path, owner);
  const stale =
    seen.kind === 'owner' ? !isOwnerAlive(seen.owner) : olderThan(path, UNPARSABLE_STALE_MILLIS, nowMillis);
  if (!stale) return false;

  const guard = `${path}.takeover`;
  if (!createExclusive(guard, owner)) {
    const g = readLock(guard);
    const guardStale =
      g.kind === 'owner' ? !isOwnerAlive(g.owner) : g.kind === 'unparsable' && olderThan(guard, UNPARSABLE_STALE_MILLIS, nowMillis);
    if (guardStale) unlinkQuiet(guard);
    return false;
  }
  try {
    const again = readLock(path);
    if (again.kind !== 'missing' && again.raw !== seen.raw) return false; // someone else took it over first
    unlinkQuiet(path);
    return createExclusive(path, owner);
  } finally {
    unlinkQuiet(guard);
  }
}

/** Removes the lock if `owner` still holds it. */
export function releaseLock(path: string, owner: LockOwner): void {
  const cur = readLock(path);
  if (cur.kind === 'owner' && cur.owner.pid === owner.pid && cur.owner.runId === owner.runId) unlinkQuiet(path);
}

/** Writes a file atomically: a temp file in the same directory, then `rename`. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o644 });
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuiet(tmp);
    throw err;
  }
}
