/**
 * Delivers outbox entries to their webhooks: signed when the webhook has a
 * secret, one `Idempotency-Key` per notification, retried with exponential
 * backoff and full jitter (honoring `Retry-After`), bounded by attempts per
 * drain, a drain deadline and a maximum entry age. An entry stays in the
 * outbox until it is delivered, rejected for good, or too old. Entries are
 * claimed under a lease first, so several senders share one outbox and each
 * entry is sent by one of them at a time.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { JOBSLO_VERSION, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { WebhookConfig } from '../slo/index.js';
import { systemAlertClock } from './clock.js';
import type { AlertClock } from './clock.js';
import type { ClaimedEntry, Outbox } from './backend.js';
import { postJson, retryDelayMillis } from './retry.js';
import type { DeliveryOutcome } from './retry.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signPayload } from './sign.js';

/** Options of {@link drainOutbox}. */
export interface DeliveryOptions {
  /** Attempts per entry in one drain. @default 5 */
  maxAttempts?: number;
  /** A drain stops retrying (leaving entries for the next) after this long. @default 30_000 */
  deadlineMillis?: number;
  /** First backoff ceiling. @default 500 */
  baseDelayMillis?: number;
  /** Backoff cap. @default 30_000 */
  maxDelayMillis?: number;
  /** Entries older than this are dead-lettered undelivered. @default 604_800_000 (7d) */
  maxAgeMillis?: number;
  /** Claimant name of this sender. @default a random id of this process */
  owner?: string;
  /** Lease of the claimed entries. @default deadline + the longest webhook timeout + 5 s */
  leaseMillis?: number;
  /** Entries claimed per drain. @default 1_000 */
  maxEntriesPerDrain?: number;
  clock?: AlertClock;
  /** @default Math.random */
  random?: () => number;
  logger?: Logger;
  signal?: AbortSignal;
}

/** What a drain did. */
export interface DrainResult {
  delivered: number;
  /** Rejected for good (or too old, or their webhook is gone): dead letters. */
  deadLettered: number;
  /** Entries still in the outbox after the drain (waiting for backoff, or claimed by another sender). */
  pending: number;
}

/** Claimant name of this process, when a drain is not given one. */
export const PROCESS_OWNER = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

/** Sends one body; the outcome as a value, never thrown. */
export async function sendWebhook(hook: WebhookConfig, entry: { body: string; idempotencyKey: string }, clock: AlertClock, signal?: AbortSignal): Promise<DeliveryOutcome> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': `jobslo/${JOBSLO_VERSION}`,
    'idempotency-key': entry.idempotencyKey,
  };
  if (hook.secret !== undefined) {
    // Signed at send time, so a receiver's replay window measures this attempt, not the enqueue.
    const ts = Math.floor(clock.now() / 1000);
    headers[TIMESTAMP_HEADER] = String(ts);
    headers[SIGNATURE_HEADER] = signPayload(hook.secret, ts, entry.body);
  }
  return postJson(hook.url, headers, entry.body, hook.timeoutMillis, () => clock.now(), signal);
}

/**
 * Claims and sends every due entry, oldest first. A webhook that stays
 * unreachable within the drain's bounds is skipped for the rest of the
 * drain, so its entries keep their order and other webhooks still get theirs.
 * A sender never starts a request its lease could run out during.
 */
export async function drainOutbox(outbox: Outbox, webhooks: readonly WebhookConfig[], options: DeliveryOptions = {}): Promise<DrainResult> {
  const clock = options.clock ?? systemAlertClock;
  const random = options.random ?? Math.random;
  const logger = options.logger ?? noopLogger;
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = { baseDelayMillis: options.baseDelayMillis ?? 500, maxDelayMillis: options.maxDelayMillis ?? 30_000 };
  const maxAge = options.maxAgeMillis ?? 7 * 86_400_000;
  const deadlineMillis = options.deadlineMillis ?? 30_000;
  const start = clock.now();
  const deadline = start + deadlineMillis;
  const longestTimeout = Math.max(0, ...webhooks.map((w) => w.timeoutMillis));
  const leaseMillis = options.leaseMillis ?? deadlineMillis + longestTimeout + 5_000;
  const byName = new Map(webhooks.map((w) => [w.name, w]));
  const blocked = new Set<string>();
  const result: DrainResult = { delivered: 0, deadLettered: 0, pending: 0 };
  const settle = async (c: ClaimedEntry, outcome: Parameters<Outbox['settle']>[1]): Promise<boolean> => {
    const ok = await outbox.settle(c, outcome, clock.now());
    if (!ok) logger.warn('alert notification was taken over by another sender; its result here is dropped', { webhook: c.entry.webhook, key: c.entry.idempotencyKey });
    return ok;
  };

  const claimed = await outbox.claim(options.owner ?? PROCESS_OWNER, start, leaseMillis, options.maxEntriesPerDrain ?? 1_000);
  for (const c of claimed) {
    const { entry } = c;
    const hook = byName.get(entry.webhook);
    if (!hook) {
      if (await settle(c, { kind: 'dead', attempts: entry.attempts, reason: `webhook "${entry.webhook}" is not configured` })) result.deadLettered++;
      logger.warn('alert notification for an unknown webhook dead-lettered', { webhook: entry.webhook, id: c.id });
      continue;
    }
    if (clock.now() - entry.createdAtMillis > maxAge) {
      if (await settle(c, { kind: 'dead', attempts: entry.attempts, reason: `not delivered within ${maxAge} ms` })) result.deadLettered++;
      logger.error('alert notification expired undelivered, dead-lettered', { webhook: hook.name, id: c.id, attempts: entry.attempts });
      continue;
    }
    if (blocked.has(hook.name) || clock.now() + hook.timeoutMillis >= c.leaseUntilMillis) {
      blocked.add(hook.name);
      await settle(c, { kind: 'release' });
      continue;
    }
    const outcome = await deliverOne(outbox, c, hook, { clock, random, logger, maxAttempts, backoff, deadline, signal: options.signal, settle });
    if (outcome === 'delivered') result.delivered++;
    else if (outcome === 'dead') result.deadLettered++;
    else blocked.add(hook.name);
  }
  result.pending = await outbox.size();
  if (result.pending > 0) logger.warn('alert notifications left in the outbox for the next attempt', { pending: result.pending, outbox: outbox.location });
  return result;
}

interface LoopContext {
  clock: AlertClock;
  random: () => number;
  logger: Logger;
  maxAttempts: number;
  backoff: { baseDelayMillis: number; maxDelayMillis: number };
  deadline: number;
  signal: AbortSignal | undefined;
  settle: (c: ClaimedEntry, outcome: Parameters<Outbox['settle']>[1]) => Promise<boolean>;
}

async function deliverOne(_outbox: Outbox, c: ClaimedEntry, hook: WebhookConfig, x: LoopContext): Promise<'delivered' | 'dead' | 'pending' | 'lost'> {
  const { entry } = c;
  let attempts = entry.attempts;
  for (let attempt = 1; attempt <= x.maxAttempts; attempt++) {
    const outcome = await sendWebhook(hook, entry, x.clock, x.signal);
    attempts++;
    if (outcome.kind === 'success') {
      x.logger.debug('alert notification delivered', { webhook: hook.name, attempts });
      return (await x.settle(c, { kind: 'delivered' })) ? 'delivered' : 'lost';
    }
    if (outcome.kind === 'failure') {
      x.logger.error('webhook rejected an alert notification for good; dead-lettered (see "jobslo alerts dead-letters list")', { webhook: hook.name, reason: outcome.reason, id: c.id });
      return (await x.settle(c, { kind: 'dead', attempts, reason: outcome.reason })) ? 'dead' : 'lost';
    }
    // Backoff grows with the entry's attempts over every drain, so a long outage is not hammered.
    const delay = retryDelayMillis(attempts, x.backoff, x.random, outcome.retryInMillis);
    const now = x.clock.now();
    if (attempt === x.maxAttempts || now + delay > x.deadline || now + delay + hook.timeoutMillis >= c.leaseUntilMillis) {
      x.logger.warn('webhook unavailable; notification kept in the outbox', { webhook: hook.name, reason: outcome.reason, attempts });
      await x.settle(c, { kind: 'retry', attempts, notBeforeMillis: now + delay, lastError: outcome.reason });
      return 'pending';
    }
    await x.clock.sleep(delay, x.signal);
  }
  return 'pending';
}
