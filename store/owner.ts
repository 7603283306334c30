import { readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * A collector that holds a DuckDB file writes `<file>.collector.json` with
 * its pid and URL, so other jobslo commands can read through it instead of
 * failing on DuckDB's one-process lock.
 */
export interface StoreOwner {
  pid: number;
  /** Base URL of the collector's read API, e.g. `http://127.0.0.1:4318`. */
  url: string;
  /** Bearer token (scope read) for the read API, when the collector requires tokens. */
  token?: string;
}

/** Path of the owner file of a DuckDB file. */
export function ownerFilePath(duckdbPath: string): string {
  return `${resolve(duckdbPath)}.collector.json`;
}

/**
 * Records this process as the owner of `duckdbPath` (atomic write). The file
 * is readable by its owner only: it may hold the read API's token.
 */
export function writeOwnerFile(duckdbPath: string, url: string, token?: string): void {
  const path = ownerFilePath(duckdbPath);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ pid: process.pid, url, ...(token !== undefined ? { token } : {}) } satisfies StoreOwner), { mode: 0o600 });
  renameSync(tmp, path);
}

/** Removes the owner file if this process wrote it. */
export function removeOwnerFile(duckdbPath: string): void {
  const owner = readOwner(duckdbPath);
  if (owner?.pid === process.pid) rmSync(ownerFilePath(duckdbPath), { force: true });
}

/** The live owner of a DuckDB file, or undefined when there is none (or it died). */
export function readOwner(duckdbPath: string): StoreOwner | undefined {
  let owner: StoreOwner;
  try {
    owner = JSON.parse(readFileSync(ownerFilePath(duckdbPath), 'utf8')) as StoreOwner;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(owner.pid) || typeof owner.url !== 'string' || (owner.token !== undefined && typeof owner.token !== 'string')) return undefined;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code === 'ESRCH') return undefined;
  }
  return owner;
}
