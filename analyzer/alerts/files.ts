/**
 * Alert state and outbox in a folder: `alert-state.json` and
 * `monitor-state.json` (each with a revision number for compare-and-swap) and
 * `outbox/`. For one `serve` or
 * `alerts --once` process next to a DuckDB store; a lock file makes a second
 * process on the same folder safe, not highly available.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobsloError, errorMessage } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { AlertBackend, AlertStateStore, CasResult, DocumentStateStore, OutboxEntry, VersionedAlertState, VersionedDocument } from './backend.js';
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

/** File name of the monitor state in a state folder. */
export const MONITOR_STATE_FILE = 'monitor-state.json';

/**
 * A JSON document in a folder (the monitor state) with a `revision` for
 * compare-and-swap, under its own lock file; entries go to the folder's outbox
 * before the document is written.
 */
export class FileDocumentState implements DocumentStateStore {
  readonly location: string;
  private readonly file: string;
  private readonly lockPath: string;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly outbox: FileOutbox,
  ) {
    this.file = join(dir, name);
    this.lockPath = join(dir, `.${name}.lock`);
    this.location = this.file;
  }

  /** @throws {JobsloError} `JOBSLO_ERR_CONFIG` when the file exists but is not a JSON object */
  load(): Promise<VersionedDocument> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve({ version: 0, value: undefined });
      throw new JobsloError('JOBSLO_ERR_CONFIG', `cannot read ${this.file}`, { cause: err });
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    } catch (err) {
      throw new JobsloError('JOBSLO_ERR_CONFIG', `${this.file} is damaged (${errorMessage(err)}); move it away to start afresh`, { cause: err });
    }
    const { revision, ...value } = v as { revision?: unknown };
    return Promise.resolve({ version: typeof revision === 'number' ? revision : 0, value });
  }

  compareAndSwap(expectedVersion: number, next: object, entries: readonly OutboxEntry[]): Promise<CasResult> {
    return withFileLock(this.lockPath, async () => {
      if ((await this.load()).version !== expectedVersion) return { ok: false, dropped: 0 };
      const dropped = await this.outbox.enqueue(entries);
      mkdirSync(this.dir, { recursive: true });
      writeFileAtomic(this.dir, this.name, `${JSON.stringify({ ...next, revision: expectedVersion + 1 }, null, 2)}\n`);
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
  readonly monitorState: FileDocumentState;
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
    this.monitorState = new FileDocumentState(options.dir, MONITOR_STATE_FILE, this.outbox);
    this.location = `files:${options.dir}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
