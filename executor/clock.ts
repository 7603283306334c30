/**
 * Time source of the executor, injectable so tests can drive retries,
 * backoff and timeouts without sleeping.
 */
export interface Clock {
  /** Current time, Unix epoch milliseconds (may be fractional). */
  now(): number;
  /** Calls `fn` after `delayMillis`; returns a function that cancels it. */
  setTimeout(fn: () => void, delayMillis: number): () => void;
}

/** The real clock: sub-millisecond `now()` from `performance`, timers from `setTimeout`. */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout(fn, delayMillis) {
    const t = setTimeout(fn, Math.max(0, delayMillis));
    return () => clearTimeout(t);
  },
};

/**
 * Resolves after `delayMillis`, or rejects with `signal.reason` when the
 * signal aborts first.
 */
export function sleep(clock: Clock, delayMillis: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason as Error);
    };
    const cancel = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMillis);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Milliseconds since the epoch to an OTel `HrTime` (seconds, nanoseconds). */
export function toHrTime(epochMillis: number): [number, number] {
  const seconds = Math.floor(epochMillis / 1000);
  const nanos = Math.round((epochMillis - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

/** Milliseconds since the epoch to a decimal string of nanoseconds (exceeds 2^53, so not a number). */
export function toUnixNanoString(epochMillis: number): string {
  const [s, ns] = toHrTime(epochMillis);
  return (BigInt(s) * 1_000_000_000n + BigInt(ns)).toString();
}
