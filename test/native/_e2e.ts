/**
 * Shared parts of the end-to-end tests of real job runners through jobslo
 * (celery.test.ts, bullmq.test.ts): the built CLI, a scratch dir, and the
 * assertions on `jobslo analyze --format json` for the known mix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Analysis } from '../../analyzer/index.js';
import { buildCli } from '../executor/helpers/build.js';
import type { BuiltCli } from '../executor/helpers/build.js';
import { runJobslo } from '../support/jobslo.js';
import type { CliResult } from '../support/jobslo.js';
import { waitFor } from '../support/processes.js';
import { ATTEMPTS, MIX } from './_harness.js';
import type { Kind } from './_harness.js';

export type Job = Analysis['jobs'][number];
export const KINDS: Kind[] = ['ok', 'flaky', 'doomed'];

/** What analyze must say of each kind's job. */
export const expected = (k: Kind): Partial<Job> => ({
  runs: MIX[k],
  succeeded: k === 'doomed' ? 0 : MIX[k],
  failed: k === 'doomed' ? MIX[k] : 0,
  retries_per_run: ATTEMPTS[k] - 1,
  timed_out: 0,
  cancelled: 0,
  skipped: 0,
});

export interface E2e {
  cli: () => BuiltCli;
  dir: () => string;
  jobslo: (args: string[]) => Promise<CliResult>;
  /**
   * Polls `jobslo analyze` until each kind's job has the expected counts
   * (spans arrive in batches, after the frameworks report the work done),
   * then returns the jobs by kind; on timeout, says what analyze showed last.
   */
  analyzeUntilComplete: (store: string, jobName: (k: Kind) => string) => Promise<Record<Kind, Job>>;
}

/** Builds the CLI once for the file (beforeAll) and removes it after (afterAll). Call at the top of a describe. */
export function useE2e(): E2e {
  let cli: BuiltCli | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    cli = await buildCli();
    dir = mkdtempSync(join(tmpdir(), 'jobslo-native-'));
  }, 240_000);
  afterAll(() => {
    cli?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not set up (beforeAll failed?)`);
    return v;
  };
  const jobslo = (args: string[]): Promise<CliResult> =>
    runJobslo(need(cli, 'the CLI').bin, args, { cwd: need(dir, 'the scratch dir'), env: { ...process.env, JOBSLO_STATE_DIR: join(need(dir, 'the scratch dir'), 'state') } });
  return {
    cli: () => need(cli, 'the CLI'),
    dir: () => need(dir, 'the scratch dir'),
    jobslo,
    async analyzeUntilComplete(store, jobName) {
      let last = '';
      return waitFor(
        'analyze to count every run of the mix',
        async () => {
          const r = await jobslo(['analyze', '--store', store, '--since', '1h', '--format', 'json']);
          if (r.code !== 0) throw new Error(`analyze exited ${r.code}: ${r.stderr}`);
          const all = (JSON.parse(r.stdout) as Analysis).jobs;
          last = JSON.stringify(all.map((j) => ({ job: j.job, runs: j.runs, succeeded: j.succeeded, failed: j.failed, retries_per_run: j.retries_per_run })));
          const byKind = Object.fromEntries(KINDS.map((k) => [k, all.find((j) => j.job === jobName(k))])) as Record<Kind, Job | undefined>;
          const done = KINDS.every((k) => {
            const j = byKind[k];
            const want = expected(k);
            return j !== undefined && j.runs === want.runs && j.succeeded === want.succeeded && j.failed === want.failed && j.retries_per_run === want.retries_per_run;
          });
          return done ? (byKind as Record<Kind, Job>) : undefined;
        },
        { timeoutMillis: 60_000, intervalMillis: 500, describe: () => last },
      );
    },
  };
}

/** The exact counts, a plausible queue delay and a latency covering the retry delays, per kind. */
export function checkJobs(jobs: Record<Kind, Job>): void {
  for (const k of KINDS) {
    const j = jobs[k];
    expect(j, k).toMatchObject(expected(k));
    expect(j.success_rate, k).toBe(k === 'doomed' ? 0 : 1);
    // queued at enqueue, started by the worker a little later
    expect(j.queue_delay_ms.p50, `${k} queue delay`).not.toBeNull();
    expect(j.queue_delay_ms.p50 ?? -1, `${k} queue delay`).toBeGreaterThanOrEqual(0);
    expect(j.queue_delay_ms.p95 ?? Infinity, `${k} queue delay`).toBeLessThan(60_000);
    // a run lasts from its first attempt to its last: retried runs span the 200 ms retry delays
    expect(j.latency_ms.p50, `${k} latency`).not.toBeNull();
    if (k !== 'ok') expect(j.latency_ms.p50 ?? 0, `${k} latency`).toBeGreaterThanOrEqual(200 * (ATTEMPTS[k] - 1));
  }
}
