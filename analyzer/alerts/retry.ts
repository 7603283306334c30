/**
 * Retry classification of webhook deliveries. Pure functions: the delivery
 * loop decides from their values, and every loop is bounded by attempts and a
 * deadline.
 */

/** What one delivery attempt came to. */
import { errorMessage } from '../../contracts/index.js';

export type DeliveryOutcome =
  | { kind: 'success' }
  /** Permanent: retrying the same request cannot help (4xx other than 408 and 429). */
  | { kind: 'failure'; reason: string }
  /** Transient: try again, after `retryInMillis` when the receiver said so. */
  | { kind: 'retryable'; reason: string; retryInMillis?: number };

/** 4xx statuses worth retrying: request timeout and rate limited. Every 5xx is retried too. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429]);

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP-date) into a delay
 * in ms from `nowMillis`; undefined when absent or malformed, 0 for a date in the past.
 */
export function parseRetryAfterMillis(value: string | null | undefined, nowMillis: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMillis);
}

/**
 * Classifies an HTTP response as Alertmanager's notifier does: 2xx success;
 * 5xx, 408 and 429 retryable (with Retry-After); anything else (other 4xx,
 * 1xx, 3xx) permanent.
 */
export function classifyResponse(status: number, retryAfter: string | null | undefined, nowMillis: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: 'success' };
  if (RETRYABLE_STATUSES.has(status) || (status >= 500 && status < 600)) {
    const retryInMillis = parseRetryAfterMillis(retryAfter, nowMillis);
    return retryInMillis === undefined ? { kind: 'retryable', reason: `HTTP ${status}` } : { kind: 'retryable', reason: `HTTP ${status}`, retryInMillis };
  }
  return { kind: 'failure', reason: `HTTP ${status}` };
}

/** A request that got no response (refused, reset, DNS, timeout) is retryable. */
export function classifyNetworkError(message: string): DeliveryOutcome {
  return { kind: 'retryable', reason: message };
}

/**
 * Exponential backoff with full jitter: `random() × min(cap, base × 2^(attempt-1))`,
 * raised to the receiver's `Retry-After` when it asked for longer.
 * @param attempt 1-based number of the attempt that just failed
 */
export function retryDelayMillis(
  attempt: number,
  options: { baseDelayMillis: number; maxDelayMillis: number },
  random: () => number,
  retryAfterMillis?: number,
): number {
  const ceiling = Math.min(options.maxDelayMillis, options.baseDelayMillis * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(random() * ceiling);
  return retryAfterMillis === undefined ? jittered : Math.max(jittered, retryAfterMillis);
}

/**
 * POSTs a JSON body (no redirects, `timeoutMillis` per attempt) and
 * classifies the answer; the response body is read (so the connection can be
 * reused) but never logged. Throws only when `signal` aborts.
 */
export async function postJson(url: string, headers: Record<string, string>, body: string, timeoutMillis: number, nowMillis: () => number, signal?: AbortSignal): Promise<DeliveryOutcome> {
  const timeout = AbortSignal.timeout(timeoutMillis);
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout, redirect: 'error' });
    await res.arrayBuffer().catch(() => undefined);
    return classifyResponse(res.status, res.headers.get('retry-after'), nowMillis());
  } catch (err) {
    if (signal?.aborted) throw err;
    const cause = (err as { cause?: unknown }).cause;
    return classifyNetworkError(cause === undefined ? errorMessage(err) : `${errorMessage(err)}: ${errorMessage(cause)}`);
  }
}
