/**
 * Where alert state and the notification outbox live, behind two interfaces
 * so that the alert cycle works the same on files (one process, next to a
 * DuckDB store) and in a ClickHouse store (any number of `serve` replicas).
 *
 * - The state is versioned: {@link AlertStateStore.compareAndSwap} writes the
 *   next state and its notifications only when nobody else moved the version
 *   since it was read, so two replicas evaluating the same interval produce
 *   one set of notifications.
 * - The outbox hands out entries under a lease ({@link Outbox.claim}): an
 *   entry is sent by one claimant at a time; when the claimant dies its lease
 *   runs out and another replica takes the entry over. Every later write about
 *   the entry carries the claim's fencing token and is refused once the claim
 *   was lost.
 */
import type { AlertState } from './state.js';

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

/** The state and the version it was read at. Version 0 is the empty state nobody wrote yet. */
export interface VersionedAlertState {
  version: number;
  state: AlertState;
}

/** What a {@link AlertStateStore.compareAndSwap} came to. */
export interface CasResult {
  /** False when another writer moved the version first: nothing of this attempt will be delivered. */
  ok: boolean;
  /** Entries not queued because the outbox was full. */
  dropped: number;
}

/** Versioned alert state. */
export interface AlertStateStore {
  /** Where it lives, for messages. */
  readonly location: string;
  /** The latest state and its version. */
  load(): Promise<VersionedAlertState>;
  /**
   * Stores `next` as version `expectedVersion + 1` together with `entries`
   * in the outbox, when the stored version is still `expectedVersion`.
   * Entries are durable before the state is; a crash in between never loses
   * a notification.
   */
  compareAndSwap(expectedVersion: number, next: AlertState, entries: readonly OutboxEntry[]): Promise<CasResult>;
}

/** A document and the version it was read at; `value` is undefined at version 0 (nobody wrote it yet). */
export interface VersionedDocument {
  version: number;
  value: unknown;
}

/**
 * Another versioned state kept like the alert state, with the same
 * compare-and-swap and the same outbox (the monitor state). Holds any JSON
 * object; its owner validates what it reads.
 */
export interface DocumentStateStore {
  /** Where it lives, for messages. */
  readonly location: string;
  load(): Promise<VersionedDocument>;
  /** As {@link AlertStateStore.compareAndSwap}: `next` as version `expectedVersion + 1` with `entries`, when nobody moved the version. */
  compareAndSwap(expectedVersion: number, next: object, entries: readonly OutboxEntry[]): Promise<CasResult>;
}

/** An outbox entry held under a lease. */
export interface ClaimedEntry {
  /** Stable id of the entry in its outbox. */
  id: string;
  entry: OutboxEntry;
  /** Fencing token: later writes about the entry name it and fail once another claim replaced it. */
  token: number;
  /** The lease ends here, Unix ms; a sender stops using it before then. */
  leaseUntilMillis: number;
}

/** An entry that was rejected for good, or expired undelivered. */
export interface DeadLetter {
  id: string;
  entry: OutboxEntry;
  reason: string;
  deadAtMillis: number;
}

/** What becomes of a claimed entry. */
export type Settlement =
  | { kind: 'delivered' }
  | { kind: 'retry'; attempts: number; notBeforeMillis: number; lastError: string }
  /** Left untouched (not tried in this drain). */
  | { kind: 'release' }
  | { kind: 'dead'; attempts: number; reason: string };

/** A durable, bounded outbox of notifications with lease-based claims. */
export interface Outbox {
  /** Where it lives, for messages. */
  readonly location: string;
  /** Entries waiting for delivery (claimed ones included, dead letters not). */
  size(): Promise<number>;
  /**
   * Claims the entries that are due at `nowMillis` and not held by a live
   * lease, oldest first, for `leaseMillis`. Per webhook, entries stay in
   * order: once one is not due yet, the later ones of that webhook wait too.
   */
  claim(owner: string, nowMillis: number, leaseMillis: number, limit: number): Promise<ClaimedEntry[]>;
  /** Records what became of a claimed entry; false when the claim had been lost (the write is dropped). */
  settle(claimed: ClaimedEntry, outcome: Settlement, nowMillis: number): Promise<boolean>;
  /** Dead letters, oldest first. */
  deadLetters(): Promise<DeadLetter[]>;
  /** Puts dead letters (all, or those with the given ids) back for delivery with fresh attempts; resolves to how many. */
  requeue(ids: readonly string[] | 'all', nowMillis: number): Promise<number>;
}

/** State and outbox of one place. */
export interface AlertBackend {
  readonly state: AlertStateStore;
  /** Monitor state (check states of scheduled jobs); its notifications go through the same outbox. */
  readonly monitorState: DocumentStateStore;
  readonly outbox: Outbox;
  /** `files:DIR` or `clickhouse:URL/DB`, for messages. */
  readonly location: string;
  close(): Promise<void>;
}

/** An entry as an outbox keeps it, for {@link dueEntries}. */
export interface OutboxRecord {
  id: string;
  entry: OutboxEntry;
  /** Lease of the current claim, or 0 when unclaimed. */
  leaseUntilMillis: number;
}

/**
 * The entries an outbox may hand out now, in order: unclaimed (or with an
 * expired lease) and due. A webhook whose oldest waiting entry is not due, or
 * is still claimed, gets none of its later entries, so its order is kept.
 * Pure; both outboxes use it.
 * @param records every pending entry, oldest first
 */
export function dueEntries(records: readonly OutboxRecord[], nowMillis: number, limit: number): OutboxRecord[] {
  const blocked = new Set<string>();
  const out: OutboxRecord[] = [];
  for (const r of records) {
    if (out.length >= limit) break;
    const hook = r.entry.webhook;
    if (blocked.has(hook)) continue;
    if (r.leaseUntilMillis > nowMillis || r.entry.notBeforeMillis > nowMillis) {
      blocked.add(hook);
      continue;
    }
    out.push(r);
  }
  return out;
}
