/**
 * Delivers outbox entries to their webhooks: signed when the webhook has a
 * secret, one `Idempotency-Key` per notification, retried with exponential
 * backoff and full jitter (honoring `Retry-After`), bounded by attempts per
 * drain, a drain deadline and a maximum entry age. An entry stays in the
 * outbox until it is delivered, rejected for good, or too old.
 */
import { JOBSLO_VERSION, errorMessage, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { WebhookConfig } from '../slo/index.js';
import { systemAlertClock } from './clock.js';
import type { AlertClock } from './clock.js';
import type { FileOutbox, StoredEntry } from './outbox.js';
import { classifyNetworkError, classifyResponse, retryDelayMillis } from './retry.js';
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
  /** Entries older than this are moved to `dead/` undelivered. @default 604_800_000 (7d) */
  maxAgeMillis?: number;
  clock?: AlertClock;
  /** @default Math.random */
  random?: () => number;
  logger?: Logger;
  signal?: AbortSignal;
}

/** What a drain did. */
export interface DrainResult {
  delivered: number;
  /** Rejected for good (or too old, or their webhook is gone): moved to `dead/`. */
  deadLettered: number;
  /** Still in the outbox. */
  pending: number;
}

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
  const timeout = AbortSignal.timeout(hook.timeoutMillis);
  try {
    const res = await fetch(hook.url, {
      method: 'POST',
      headers,
      body: entry.body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      redirect: 'error',
    });
    // Read the body so the connection can be reused; its content is not logged.
    await res.arrayBuffer().catch(() => undefined);
    return classifyResponse(res.status, res.headers.get('retry-after'), clock.now());
  } catch (err) {
    if (signal?.aborted) throw err;
    const cause = (err as { cause?: unknown }).cause;
    return classifyNetworkError(cause === undefined ? errorMessage(err) : `${errorMessage(err)}: ${errorMessage(cause)}`);
  }
}

/**
 * Sends every pending entry, oldest first. A webhook that stays unreachable
 * within the drain's bounds is skipped for the rest of the drain, so its
 * entries keep their order and other webhooks still get theirs.
 */
export async function drainOutbox(outbox: FileOutbox, webhooks: readonly WebhookConfig[], options: DeliveryOptions = {}): Promise<DrainResult> {
  const clock = options.clock ?? systemAlertClock;
  const random = options.random ?? Math.random;
  const logger = options.logger ?? noopLogger;
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = { baseDelayMillis: options.baseDelayMillis ?? 500, maxDelayMillis: options.maxDelayMillis ?? 30_000 };
  const maxAge = options.maxAgeMillis ?? 7 * 86_400_000;
  const deadline = clock.now() + (options.deadlineMillis ?? 30_000);
  const byName = new Map(webhooks.map((w) => [w.name, w]));
  const blocked = new Set<string>();
  const result: DrainResult = { delivered: 0, deadLettered: 0, pending: 0 };

  const entries = outbox.list();
  for (const stored of entries) {
    const { entry } = stored;
    const hook = byName.get(entry.webhook);
    if (!hook) {
      outbox.deadLetter(stored, `webhook "${entry.webhook}" is not configured`);
      logger.warn('alert notification for an unknown webhook moved to dead/', { webhook: entry.webhook, file: stored.file });
      result.deadLettered++;
      continue;
    }
    if (clock.now() - entry.createdAtMillis > maxAge) {
      outbox.deadLetter(stored, `not delivered within ${maxAge} ms`);
      logger.error('alert notification expired undelivered, moved to dead/', { webhook: hook.name, file: stored.file, attempts: entry.attempts });
      result.deadLettered++;
      continue;
    }
    if (blocked.has(hook.name) || entry.notBeforeMillis > clock.now()) {
      blocked.add(hook.name);
      result.pending++;
      continue;
    }
    const outcome = await deliverOne(outbox, stored, hook, { clock, random, logger, maxAttempts, backoff, deadline, signal: options.signal });
    if (outcome === 'delivered') result.delivered++;
    else if (outcome === 'dead') result.deadLettered++;
    else {
      blocked.add(hook.name);
      result.pending++;
    }
  }
  if (result.pending > 0) logger.warn('alert notifications left in the outbox for the next attempt', { pending: result.pending, dir: outbox.dir });
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
}

async function deliverOne(outbox: FileOutbox, stored: StoredEntry, hook: WebhookConfig, c: LoopContext): Promise<'delivered' | 'dead' | 'pending'> {
  const { entry } = stored;
  for (let attempt = 1; attempt <= c.maxAttempts; attempt++) {
    const outcome = await sendWebhook(hook, entry, c.clock, c.signal);
    entry.attempts++;
    if (outcome.kind === 'success') {
      outbox.remove(stored);
      c.logger.debug('alert notification delivered', { webhook: hook.name, attempts: entry.attempts });
      return 'delivered';
    }
    if (outcome.kind === 'failure') {
      outbox.deadLetter(stored, outcome.reason);
      c.logger.error('webhook rejected an alert notification; moved to dead/', { webhook: hook.name, reason: outcome.reason, file: stored.file });
      return 'dead';
    }
    entry.lastError = outcome.reason;
    // Backoff grows with the entry's attempts over every drain, so a long outage is not hammered.
    const delay = retryDelayMillis(entry.attempts, c.backoff, c.random, outcome.retryInMillis);
    const now = c.clock.now();
    if (attempt === c.maxAttempts || now + delay > c.deadline) {
      entry.notBeforeMillis = now + delay;
      outbox.update(stored);
      c.logger.warn('webhook unavailable; notification kept in the outbox', { webhook: hook.name, reason: outcome.reason, attempts: entry.attempts });
      return 'pending';
    }
    await c.clock.sleep(delay, c.signal);
  }
  return 'pending';
}
