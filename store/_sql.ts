import { COUNTED_OUTCOMES } from '../contracts/index.js';

/**
 * How far before a range's start the run queries look for the spans of runs
 * that end inside it: a run longer than this still counts, but attempts that
 * ended before the lookback are known only from `jobslo.run.attempts`.
 */
export const RUN_LOOKBACK_NANOS = 86_400_000_000_000n;

/** `'succeeded', 'failed', 'timed_out'`: the outcomes in the success-rate denominator. */
export const COUNTED_SQL_LIST = COUNTED_OUTCOMES.map((o) => `'${o}'`).join(', ');

/**
 * Milliseconds as an integer nanosecond literal for SQL. Only finite numbers
 * reach SQL, so nothing a user typed can.
 * @throws {RangeError} for a non-finite value
 */
export function nanosLiteral(millis: number): string {
  if (!Number.isFinite(millis)) throw new RangeError(`not a finite time: ${millis}`);
  return (BigInt(Math.trunc(millis)) * 1_000_000n).toString();
}
