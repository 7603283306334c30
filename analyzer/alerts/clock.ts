/** Time source of alert delivery, injectable so tests drive backoff without sleeping. */
export interface AlertClock {
  /** Current time, Unix epoch ms. */
  now(): number;
  /** Resolves after `delayMillis`, or rejects with `signal.reason` when it aborts first. */
  sleep(delayMillis: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemAlertClock: AlertClock = {
  now: () => Date.now(),
  sleep(delayMillis, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, delayMillis));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};
