/**
 * Alert state and outbox in a folder: `alert-state.json` (with a revision
 * number for compare-and-swap) and `outbox/`. For one `serve` or
 * `alerts --once` process next to a DuckDB store; a lock file makes a second
 * process on the same folder safe, not highly available.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobsloError, errorMessage } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { AlertBackend, AlertStateStore, CasResult, OutboxEntry, VersionedAlertState } from './backend.js';
import { FileOutbox, withFileLock, writeFileAtomic } from './outbox.js';
import { emptyAlertState } from './state.js';
import type { AlertState } from './state.js';

/** Where a state folder keeps its parts. */
export function statePaths(stateDir: string): { stateFile: string; outboxDir: string } {
  return { stateFile: join(stateDir, 'alert-state.json'), outboxDir: join(stateDir, 'outbox') };
}

/**
 * Reads a state file: its state and revision (0 when it does not exist).
 * @throws {JobsloError} `JOBSLO_ERR_CONFIG` when it exists but is not a state file
 */
export function readStateFile(path: string): VersionedAlertState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 0, state: emptyAlertState() };
    throw new JobsloError('JOBSLO_ERR_CONFIG', `cannot read alert state ${path}`, { cause: err });
  }
  try {
    const v = JSON.parse(text) as Partial<AlertState> & { revision?: unknown };
    if (v.version !== 1 || typeof v.firing !== 'object' || v.firing === null) throw new Error('not a version 1 alert state');
    const state: AlertState = { version: 1, firing: v.firing };
    if (typeof v.resolved === 'object' && v.resolved !== null) state.resolved = v.resolved;
    return { version: typeof v.revision === 'number' ? v.revision : 0, state };
  } catch (err) {
    throw new JobsloError('JOBSLO_ERR_CONFIG', `alert state ${path} is damaged (${errorMessage(err)}); move it away to start with no firing alerts`, { cause: err });
  }
}

/** The state file of a folder. */
export class FileAlertState implements AlertStateStore {
  readonly location: string;
  private readonly file: string;
  private readonly lockPath: string;

  constructor(
    private readonly dir: string,
    private readonly outbox: FileOutbox,
  ) {
    this.file = statePaths(dir).stateFile;
    this.lockPath = join(dir, '.state.lock');
    this.location = this.file;
  }

  load(): Promise<VersionedAlertState> {
    return Promise.resolve(readStateFile(this.file));
  }

  compareAndSwap(expectedVersion: number, next: AlertState, entries: readonly OutboxEntry[]): Promise<CasResult> {
    return withFileLock(this.lockPath, async () => {
      if (readStateFile(this.file).version !== expectedVersion) return { ok: false, dropped: 0 };
      // Entries first: a crash before the state is written repeats them (same body, new key) but never loses one.
      const dropped = await this.outbox.enqueue(entries);
      mkdirSync(this.dir, { recursive: true });
      writeFileAtomic(this.dir, 'alert-state.json', `${JSON.stringify({ ...next, revision: expectedVersion + 1 }, null, 2)}\n`);
      return { ok: true, dropped };
    });
  }
}

/** Options of {@link FileAlertBackend}. */
export interface FileAlertBackendOptions {
  dir: string;
  /** @default 10_000 */
  maxOutboxEntries?: number;
  logger?: Logger;
}

/** State and outbox in one folder. */
export class FileAlertBackend implements AlertBackend {
  readonly state: FileAlertState;
  readonly outbox: FileOutbox;
  readonly location: string;

  constructor(options: FileAlertBackendOptions) {
    mkdirSync(options.dir, { recursive: true });
    const { outboxDir } = statePaths(options.dir);
    this.outbox = new FileOutbox({
      dir: outboxDir,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.maxOutboxEntries !== undefined ? { maxEntries: options.maxOutboxEntries } : {}),
    });
    this.state = new FileAlertState(options.dir, this.outbox);
    this.location = `files:${options.dir}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
