/**
 * A deterministic mixed workload shared by the store comparison and the
 * end-to-end tests: the same spans through different paths must give the
 * same SLIs.
 */
import type { SpanRecord } from '../../contracts/index.js';
import { runSpans } from '../support/spans.js';
import type { FixtureAttempt, FixtureRun } from '../support/spans.js';

/** Start of the fixture's main day, Unix ms; runs fall in [T0 - 2h, T0 + 25h). */
export const FIXTURE_T0 = Date.UTC(2026, 10, 10, 0, 0, 0);
const T0 = FIXTURE_T0;
const HOUR = 3_600_000;

/** Deterministic PRNG (mulberry32) so a failure can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * ~600 runs of 6 jobs over a day (plus some just outside it): successes,
 * retried successes, failures with exit codes, timeouts, cancelled and
 * skipped runs, queued times, cost, CPU and RSS on some; 10% of the runs'
 * spans delivered twice, some out of order.
 */
export function comparisonFixture(seed = 42, runs = 600): SpanRecord[] {
  const rnd = prng(seed);
  const jobs = ['etl-nightly', 'etl-hourly', 'billing', "quote'job", 'ci/build #1', 'émoji-🚀'];
  const spans: SpanRecord[] = [];
  for (let i = 0; i < runs; i++) {
    const job = jobs[Math.floor(rnd() * jobs.length)] as string;
    const start = T0 - 2 * HOUR + Math.floor(rnd() * 27 * HOUR);
    const roll = rnd();
    const attempts: FixtureAttempt[] = [];
    let outcome: FixtureRun['outcome'];
    const dur = (): number => 10 + Math.floor(rnd() * 5_000);
    if (roll < 0.55) {
      outcome = 'succeeded';
      attempts.push({ startOffsetMillis: 0, durationMillis: dur(), outcome: 'succeeded', exitCode: 0 });
    } else if (roll < 0.7) {
      outcome = 'succeeded';
      const n = 1 + Math.floor(rnd() * 3);
      let t = 0;
      for (let a = 0; a < n; a++) {
        const d = dur();
        attempts.push({ startOffsetMillis: t, durationMillis: d, outcome: 'failed', exitCode: 1 + Math.floor(rnd() * 3) });
        t += d + 100;
      }
      attempts.push({ startOffsetMillis: t, durationMillis: dur(), outcome: 'succeeded', exitCode: 0 });
    } else if (roll < 0.82) {
      outcome = 'failed';
      const n = 1 + Math.floor(rnd() * 3);
      let t = 0;
      for (let a = 0; a < n; a++) {
        const d = dur();
        attempts.push({ startOffsetMillis: t, durationMillis: d, outcome: 'failed', exitCode: [1, 2, 137][Math.floor(rnd() * 3)] as number });
        t += d + 50;
      }
    } else if (roll < 0.9) {
      outcome = 'timed_out';
      attempts.push({ startOffsetMillis: 0, durationMillis: 6_000, outcome: 'timed_out' });
    } else if (roll < 0.95) {
      outcome = 'cancelled';
      attempts.push({ startOffsetMillis: 0, durationMillis: dur(), outcome: 'failed', exitCode: 143 });
    } else {
      outcome = 'skipped';
    }
    const extra: FixtureRun['extraAttributes'] = {};
    if (rnd() < 0.5) extra['jobslo.cost.amount'] = Math.round(rnd() * 1000) / 100;
    if (rnd() < 0.5) extra['jobslo.resource.cpu_seconds'] = Math.round(rnd() * 10_000) / 1000;
    if (rnd() < 0.5) extra['jobslo.resource.max_rss_bytes'] = Math.floor(rnd() * 2e9);
    if (rnd() < 0.6) extra['jobslo.run.queued_time_unix_nano'] = String(BigInt(start - Math.floor(rnd() * 30_000)) * 1_000_000n);
    const run = runSpans({ job, startMillis: start, outcome, attempts, deadLettered: outcome === 'failed' || outcome === 'timed_out', extraAttributes: extra });
    spans.push(...(rnd() < 0.2 ? [...run].reverse() : run));
    if (rnd() < 0.1) spans.push(...run);
  }
  return spans;
}

