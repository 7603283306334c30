/**
 * A durable outbox of webhook notifications: one JSON file per
 * (notification, webhook), written to a temporary name, fsynced and renamed
 * into place, so a crash never leaves half an entry. Delivered entries are
 * removed; permanently rejected ones move to `dead/`. File names sort in
 * enqueue order.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';

/** One pending delivery. Holds the rendered body, never the secret or URL (looked up by webhook name at send time). */
export interface OutboxEntry {
  version: 1;
  /** Idempotency-Key header: one per notification, the same on every attempt. */
  idempotencyKey: string;
  /** Webhook name in the config. */
  webhook: string;
  /** Request body (JSON text). */
  body: string;
  createdAtMillis: number;
  /** Attempts made so far, over every drain. */
  attempts: number;
  /** Do not try again before this time (backoff or Retry-After). */
  notBeforeMillis: number;
  lastError?: string;
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

function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
}

/** The on-disk outbox. Safe across restarts; meant for one sending process at a time. */
export class FileOutbox {
  readonly dir: string;
  readonly deadDir: string;
  private readonly maxEntries: number;
  private readonly logger: Logger;

  constructor(options: FileOutboxOptions) {
    this.dir = options.dir;
    this.deadDir = join(options.dir, 'dead');
    this.maxEntries = options.maxEntries ?? 10_000;
    this.logger = options.logger ?? noopLogger;
    mkdirSync(this.dir, { recursive: true });
  }

  private names(): string[] {
    return readdirSync(this.dir)
      .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
      .sort();
  }

  /** Entries waiting for delivery. */
  size(): number {
    return this.names().length;
  }

  /**
   * Adds entries durably, in order. Resolves to how many were dropped because
   * the outbox was full (logged once with the count).
   */
  enqueue(entries: readonly OutboxEntry[]): number {
    let free = this.maxEntries - this.size();
    let dropped = 0;
    for (const e of entries) {
      if (free <= 0) {
        dropped++;
        continue;
      }
      const seq = String(sequence++ % 1_000_000).padStart(6, '0');
      const name = `${String(e.createdAtMillis).padStart(15, '0')}-${seq}-${randomBytes(4).toString('hex')}-${e.webhook}.json`;
      writeAtomic(this.dir, name, JSON.stringify(e));
      free--;
    }
    if (dropped > 0) this.logger.error('alert outbox full: notifications dropped', { dropped, maxEntries: this.maxEntries, dir: this.dir });
    return dropped;
  }

  /** Pending entries in enqueue order. Unreadable files are moved to `dead/` and logged. */
  list(): StoredEntry[] {
    const out: StoredEntry[] = [];
    for (const file of this.names()) {
      let entry: OutboxEntry;
      try {
        entry = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as OutboxEntry;
        if (entry.version !== 1 || typeof entry.body !== 'string' || typeof entry.webhook !== 'string') throw new Error('not an outbox entry');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        this.logger.warn('unreadable alert outbox entry moved to dead/', { file, error: errorMessage(err) });
        this.moveToDead(file);
        continue;
      }
      out.push({ file, entry });
    }
    return out;
  }

  /** Rewrites an entry (attempts, backoff) in place, atomically. */
  update(stored: StoredEntry): void {
    writeAtomic(this.dir, stored.file, JSON.stringify(stored.entry));
  }

  /** Removes a delivered entry. */
  remove(stored: StoredEntry): void {
    rmSync(join(this.dir, stored.file), { force: true });
  }

  /** Moves an entry that can never be delivered to `dead/`, recording why. */
  deadLetter(stored: StoredEntry, reason: string): void {
    mkdirSync(this.deadDir, { recursive: true });
    writeAtomic(this.deadDir, stored.file, JSON.stringify({ ...stored.entry, lastError: reason }));
    rmSync(join(this.dir, stored.file), { force: true });
  }

  private moveToDead(file: string): void {
    mkdirSync(this.deadDir, { recursive: true });
    try {
      renameSync(join(this.dir, file), join(this.deadDir, file));
    } catch {
      // Gone already (another process): nothing to keep.
    }
  }
}
