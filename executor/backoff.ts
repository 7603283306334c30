import { ConfigError } from '../contracts/index.js';

/** How the delay grows between attempts. */
export type BackoffKind = 'fixed' | 'exponential';

/**
 * Jitter applied to the delay, after the AWS Architecture Blog post
 * "Exponential Backoff And Jitter":
 * - `none`: the delay itself;
 * - `full`: `random(0, t)`;
 * - `equal`: `t/2 + random(0, t/2)`;
 * - `decorrelated`: `min(cap, random(base, prev * 3))` (ignores `kind`).
 */
export type JitterKind = 'none' | 'full' | 'equal' | 'decorrelated';

/** Delay policy between attempts of a run. */
export interface BackoffPolicy {
  /** @default 'exponential' */
  kind: BackoffKind;
  /** Delay before the first retry (before jitter). @default 1_000 */
  baseDelayMillis: number;
  /** Cap on any delay. @default 30_000 */
  maxDelayMillis: number;
  /** @default 'full' */
  jitter: JitterKind;
}

/** The default policy: exponential from 1 s, capped at 30 s, full jitter. */
export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  kind: 'exponential',
  baseDelayMillis: 1_000,
  maxDelayMillis: 30_000,
  jitter: 'full',
});

/**
 * Delay in milliseconds before the attempt that follows attempt `attempt`.
 *
 * The un-jittered delay is `t = min(cap, base)` for `fixed` and
 * `t = min(cap, base * 2^(attempt-1))` for `exponential`, so the first retry
 * waits `base`. Jitter is then applied as in {@link JitterKind}. The result is
 * an integer in `[0, maxDelayMillis]`.
 *
 * @param attempt 1-based number of the attempt that just failed
 * @param prevDelayMillis the previous delay (for `decorrelated`); pass
 *   `undefined` before the first retry, which uses `baseDelayMillis`
 * @param random returns a number in `[0, 1)`, e.g. `Math.random`
 */
export function computeBackoffMillis(
  policy: BackoffPolicy,
  attempt: number,
  prevDelayMillis: number | undefined,
  random: () => number,
): number {
  const base = Math.max(0, policy.baseDelayMillis);
  const cap = Math.max(0, policy.maxDelayMillis);
  if (policy.jitter === 'decorrelated') {
    const prev = Math.max(base, prevDelayMillis ?? base);
    const upper = prev * 3;
    return Math.round(Math.min(cap, base + random() * (upper - base)));
  }
  // 2 ** n overflows to Infinity for large n; min() keeps it at the cap.
  const t = policy.kind === 'fixed' ? Math.min(cap, base) : Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  switch (policy.jitter) {
    case 'none':
      return Math.round(t);
    case 'full':
      return Math.round(random() * t);
    case 'equal':
      return Math.round(t / 2 + random() * (t / 2));
  }
}

const KINDS: readonly BackoffKind[] = ['fixed', 'exponential'];
const JITTERS: readonly JitterKind[] = ['none', 'full', 'equal', 'decorrelated'];

/** @throws {ConfigError} naming `name` when `value` is not a backoff kind */
export function parseBackoffKind(value: string, name: string): BackoffKind {
  if ((KINDS as readonly string[]).includes(value)) return value as BackoffKind;
  throw new ConfigError(name, `"${value}" is not a backoff kind; use one of ${KINDS.join(', ')}`);
}

/** @throws {ConfigError} naming `name` when `value` is not a jitter kind */
export function parseJitterKind(value: string, name: string): JitterKind {
  if ((JITTERS as readonly string[]).includes(value)) return value as JitterKind;
  throw new ConfigError(name, `"${value}" is not a jitter kind; use one of ${JITTERS.join(', ')}`);
}

/**
 * Checks a policy's numbers.
 *
 * @throws {ConfigError} when a delay is negative or not finite, or the base exceeds the cap
 */
export function validateBackoff(policy: BackoffPolicy, path = 'backoff'): BackoffPolicy {
  for (const key of ['baseDelayMillis', 'maxDelayMillis'] as const) {
    const v = policy[key];
    if (!Number.isFinite(v) || v < 0) throw new ConfigError(`${path}.${key}`, `must be a finite number >= 0, got ${v}`);
  }
  if (policy.baseDelayMillis > policy.maxDelayMillis) {
    throw new ConfigError(
      `${path}.baseDelayMillis`,
      `base delay ${policy.baseDelayMillis} ms exceeds the max delay ${policy.maxDelayMillis} ms`,
    );
  }
  parseBackoffKind(policy.kind, `${path}.kind`);
  parseJitterKind(policy.jitter, `${path}.jitter`);
  return policy;
}
