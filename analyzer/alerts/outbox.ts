/**
 * The file outbox: one JSON file per (notification, webhook), written to a
 * temporary name, fsynced and renamed into place, so a crash never leaves
 * half an entry. File names sort in enqueue order. A claim writes the
 * claimant, a fencing token and the lease end into the entry file; delivered
 * entries are removed; dead letters move to `dead/`. Claims and settlements
 * take a lock file, so several processes on one machine may share a folder.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { JobsloError, errorMessage, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import { dueEntries } from './backend.js';
import type { ClaimedEntry, DeadLetter, Outbox, OutboxEntry, Settlement } from './backend.js';

export type { OutboxEntry } from './backend.js';

/** An entry file as the file outbox keeps it. */
interface EntryFile extends OutboxEntry {
  claim?: { owner: string; token: number; untilMillis: number };
  deadAtMillis?: number;
}

/** An entry and the file it lives in. */
export interface StoredEntry {
  file: string;
  entry: OutboxEntry;
}

/** Options of {@link FileOutbox}. */
export interface FileOutboxOptions {
  /** Folder of the outbox; created if missing. */
  dir: string;
  /** Most entries kept; new entries past it are dropped, counted and logged. @default 10_000 */
  maxEntries?: number;
  logger?: Logger;
}

let sequence = 0;

/** Writes `text` to `dir/name` atomically: temporary file, fsync, rename. */
export function writeFileAtomic(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
}

const LOCK_STALE_MILLIS = 30_000;
const LOCK_WAIT_MILLIS = 10_000;

/**
 * Runs `fn` holding the lock file `path` (created with O_EXCL). A lock older
 * than 30 s is taken to be left by a dead process and broken.
 * @throws {JobsloError} `JOBSLO_ERR_CONFIG` when it cannot be had within 10 s
 */
export async function withFileLock<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
  const until = Date.now() + LOCK_WAIT_MILLIS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      closeSync(openSync(path, 'wx'));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new JobsloError('JOBSLO_ERR_CONFIG', `cannot create lock file ${path}`, { cause: err });
      try {
        if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MILLIS) rmSync(path, { force: true });
      } catch {
        // Removed meanwhile: try again.
      }
      if (Date.now() > until) throw new JobsloError('JOBSLO_ERR_CONFIG', `lock file ${path} is held by another process; remove it if no jobslo process uses this folder`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

/** The on-disk outbox. Safe across restarts and for several processes on one file system. */
export class FileOutbox implements Outbox {
  readonly dir: string;
  readonly deadDir: string;
  readonly location: string;
  private readonly maxEntries: number;
  private readonly logger: Logger;
  private readonly lockPath: string;

  constructor(options: FileOutboxOptions) {
    this.dir = options.dir;
    this.deadDir = join(options.dir, 'dead');
    this.location = options.dir;
    this.lockPath = join(options.dir, '.lock');
    this.maxEntries = options.maxEntries ?? 10_000;
    this.logger = options.logger ?? noopLogger;
    mkdirSync(this.dir, { recursive: true });
  }

  private names(dir = this.dir): string[] {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  }

  size(): Promise<number> {
    return Promise.resolve(this.names().length);
  }

  /**
   * Adds entries durably, in order, without a lock (each is a new file).
   * Resolves to how many were dropped because the outbox was full (logged once with the count).
   */
  enqueue(entries: readonly OutboxEntry[]): Promise<number> {
    let free = this.maxEntries - this.names().length;
    let dropped = 0;
    for (const e of entries) {
      if (free <= 0) {
        dropped++;
        continue;
      }
      const seq = String(sequence++ % 1_000_000).padStart(6, '0');
      const name = `${String(e.createdAtMillis).padStart(15, '0')}-${seq}-${randomBytes(4).toString('hex')}-${e.webhook}.json`;
      writeFileAtomic(this.dir, name, JSON.stringify(e));
      free--;
    }
    if (dropped > 0) this.logger.error('alert outbox full: notifications dropped', { dropped, maxEntries: this.maxEntries, dir: this.dir });
    return Promise.resolve(dropped);
  }

  private read(dir: string, file: string): EntryFile | undefined {
    try {
      const entry = JSON.parse(readFileSync(join(dir, file), 'utf8')) as EntryFile;
      if (entry.version !== 1 || typeof entry.body !== 'string' || typeof entry.webhook !== 'string') throw new Error('not an outbox entry');
      return entry;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (dir === this.dir) {
        this.logger.warn('unreadable alert outbox entry moved to dead/', { file, error: errorMessage(err) });
        mkdirSync(this.deadDir, { recursive: true });
        try {
          renameSync(join(this.dir, file), join(this.deadDir, file));
        } catch {
          // Gone already (another process): nothing to keep.
        }
      }
      return undefined;
    }
  }

  /** Pending entries in enqueue order. Unreadable files are moved to `dead/` and logged. */
  list(): Promise<StoredEntry[]> {
    const out: StoredEntry[] = [];
    for (const file of this.names()) {
      const entry = this.read(this.dir, file);
      if (entry) out.push({ file, entry: stripFileFields(entry) });
    }
    return Promise.resolve(out);
  }

  claim(owner: string, nowMillis: number, leaseMillis: number, limit: number): Promise<ClaimedEntry[]> {
    return withFileLock(this.lockPath, () => {
      const records = [];
      for (const file of this.names()) {
        const e = this.read(this.dir, file);
        if (e) records.push({ id: file, entry: e, leaseUntilMillis: e.claim?.untilMillis ?? 0 });
      }
      return dueEntries(records, nowMillis, limit).map((r) => {
        const e = r.entry as EntryFile;
        const token = (e.claim?.token ?? 0) + 1;
        const untilMillis = nowMillis + leaseMillis;
        writeFileAtomic(this.dir, r.id, JSON.stringify({ ...e, claim: { owner, token, untilMillis } }));
        return { id: r.id, entry: stripFileFields(e), token, leaseUntilMillis: untilMillis };
      });
    });
  }

  settle(claimed: ClaimedEntry, outcome: Settlement, nowMillis: number): Promise<boolean> {
    return withFileLock(this.lockPath, () => {
      const current = this.read(this.dir, claimed.id);
      // Fenced: another claimant took the entry over (or settled it) since.
      if (current?.claim?.token !== claimed.token) return false;
      const base = stripFileFields(current);
      switch (outcome.kind) {
        case 'delivered':
          rmSync(join(this.dir, claimed.id), { force: true });
          break;
        case 'release':
          writeFileAtomic(this.dir, claimed.id, JSON.stringify({ ...base, claim: { ...current.claim, untilMillis: 0 } }));
          break;
        case 'retry':
          writeFileAtomic(
            this.dir,
            claimed.id,
            JSON.stringify({ ...base, attempts: outcome.attempts, notBeforeMillis: outcome.notBeforeMillis, lastError: outcome.lastError, claim: { ...current.claim, untilMillis: 0 } }),
          );
          break;
        case 'dead':
          mkdirSync(this.deadDir, { recursive: true });
          writeFileAtomic(this.deadDir, claimed.id, JSON.stringify({ ...base, attempts: outcome.attempts, lastError: outcome.reason, deadAtMillis: nowMillis }));
          rmSync(join(this.dir, claimed.id), { force: true });
          break;
      }
      return true;
    });
  }

  deadLetters(): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for (const file of this.names(this.deadDir)) {
      const e = this.read(this.deadDir, file);
      if (e) out.push({ id: file, entry: stripFileFields(e), reason: e.lastError ?? '', deadAtMillis: e.deadAtMillis ?? 0 });
    }
    return Promise.resolve(out);
  }

  requeue(ids: readonly string[] | 'all', nowMillis: number): Promise<number> {
    return withFileLock(this.lockPath, () => {
      let n = 0;
      for (const file of this.names(this.deadDir)) {
        if (ids !== 'all' && !ids.includes(file)) continue;
        const e = this.read(this.deadDir, file);
        if (!e) continue;
        const { lastError: _lastError, ...rest } = stripFileFields(e);
        // Kept in its place in the order by its original name; fresh attempts and age.
        writeFileAtomic(this.dir, file, JSON.stringify({ ...rest, attempts: 0, notBeforeMillis: 0, createdAtMillis: nowMillis }));
        rmSync(join(this.deadDir, file), { force: true });
        n++;
      }
      return n;
    });
  }
}

function stripFileFields(e: EntryFile): OutboxEntry {
  const { claim: _claim, deadAtMillis: _dead, ...entry } = e;
  return entry;
}
