/**
 * The demo's jobs, planned up front from a seed so that every outcome is
 * known before anything runs: the same seed gives the same runs, attempts and
 * outcomes however the runs interleave, and tests can compare the analyzer's
 * numbers with the plan exactly.
 */

/** A small, fast, seedable PRNG (mulberry32). Returns numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What one attempt of a planned run will do. */
export interface PlannedAttempt {
  /** How long the work takes, ms. */
  workMillis: number;
  /** `ok` returns, `error` throws, `hang` outlives the attempt timeout. */
  result: 'ok' | 'error' | 'hang';
}

/** One job of the demo and how it behaves. */
export interface DemoJob {
  name: string;
  /** Runs the demo makes of it. */
  runs: number;
  retries: number;
  /** Per-attempt timeout, ms; undefined for none. */
  timeoutMillis?: number;
  /** `process` runs through `jobslo run`'s process executor (a real child process). */
  kind: 'function' | 'process';
  /** Price of one run (the demo's cost rate `cost.perRun`). */
  costPerRun: number;
  describe: string;
  plan(random: () => number): PlannedAttempt[];
}

const between = (random: () => number, lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));

/** The four behaviours a new user should see side by side, plus one process-backed job. */
export const DEMO_JOBS: readonly DemoJob[] = [
  {
    name: 'healthy-report',
    costPerRun: 0.001,
    runs: 100,
    retries: 2,
    kind: 'function',
    describe: 'always succeeds in 20-60 ms',
    plan: (r) => [{ workMillis: between(r, 20, 60), result: 'ok' }],
  },
  {
    name: 'flaky-sync',
    costPerRun: 0.004,
    runs: 60,
    retries: 3,
    kind: 'function',
    describe: 'each attempt fails with probability 0.5; up to 3 retries',
    plan: (r) => {
      const attempts: PlannedAttempt[] = [];
      for (let i = 0; i < 4; i++) {
        const fails = r() < 0.5;
        attempts.push({ workMillis: between(r, 10, 40), result: fails ? 'error' : 'ok' });
        if (!fails) break;
      }
      return attempts;
    },
  },
  {
    name: 'slow-etl',
    costPerRun: 0.03,
    runs: 40,
    retries: 1,
    timeoutMillis: 900,
    kind: 'function',
    describe: 'takes 250-700 ms; one attempt in five hangs past its 900 ms timeout',
    plan: (r) => {
      const attempts: PlannedAttempt[] = [];
      for (let i = 0; i < 2; i++) {
        const hangs = r() < 0.2;
        attempts.push({ workMillis: hangs ? 5_000 : between(r, 250, 700), result: hangs ? 'hang' : 'ok' });
        if (!hangs) break;
      }
      return attempts;
    },
  },
  {
    name: 'broken-export',
    costPerRun: 0.002,
    runs: 20,
    retries: 2,
    kind: 'function',
    describe: 'always fails (a bad credential); dead-lettered after 3 attempts',
    plan: (r) => [0, 1, 2].map(() => ({ workMillis: between(r, 5, 20), result: 'error' as const })),
  },
  {
    name: 'nightly-backup',
    costPerRun: 0.05,
    runs: 12,
    retries: 1,
    kind: 'process',
    describe: 'a real child process (sh -c); exits 1 on one attempt in four',
    plan: (r) => {
      const attempts: PlannedAttempt[] = [];
      for (let i = 0; i < 2; i++) {
        const fails = r() < 0.25;
        attempts.push({ workMillis: between(r, 10, 50), result: fails ? 'error' : 'ok' });
        if (!fails) break;
      }
      return attempts;
    },
  },
];

/** One run of the plan. */
export interface PlannedRun {
  job: DemoJob;
  /** Index of this run within its job. */
  index: number;
  attempts: PlannedAttempt[];
  /** Seed for this run's backoff jitter. */
  jitterSeed: number;
}

/** What the plan says the analyzer must report for a job. */
export interface ExpectedJob {
  job: string;
  runs: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  retries: number;
  deadLettered: number;
}

/** Plans every run of every job from `seed`; runs are interleaved across jobs. */
export function planDemo(seed: number, jobs: readonly DemoJob[] = DEMO_JOBS): PlannedRun[] {
  const random = seededRandom(seed);
  const runs: PlannedRun[] = [];
  for (const job of jobs) {
    for (let i = 0; i < job.runs; i++) {
      runs.push({ job, index: i, attempts: job.plan(random), jitterSeed: Math.floor(random() * 2 ** 31) });
    }
  }
  // Deterministic shuffle so jobs interleave in time as they would in production.
  for (let i = runs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [runs[i], runs[j]] = [runs[j] as PlannedRun, runs[i] as PlannedRun];
  }
  return runs;
}

/** The SLI counts the plan implies, per job. */
export function expectedOutcomes(plan: readonly PlannedRun[]): ExpectedJob[] {
  const byJob = new Map<string, ExpectedJob>();
  for (const run of plan) {
    const e = byJob.get(run.job.name) ?? { job: run.job.name, runs: 0, succeeded: 0, failed: 0, timedOut: 0, retries: 0, deadLettered: 0 };
    const last = run.attempts[run.attempts.length - 1];
    e.runs++;
    e.retries += run.attempts.length - 1;
    if (last?.result === 'ok') e.succeeded++;
    else {
      e.failed++;
      e.deadLettered++;
      if (last?.result === 'hang') e.timedOut++;
    }
    byJob.set(run.job.name, e);
  }
  return [...byJob.values()].sort((a, b) => (a.job < b.job ? -1 : 1));
}

/**
 * The SLOs the demo evaluates (a jobslo.yaml, as a user would write it): the
 * always-failing job burns its budget fast enough to page; the others hold.
 */
export const DEMO_SLOS_YAML = `slos:
  - name: report-success
    job: healthy-report
    sli: success
    objective: 0.99
    window: 30d
  - name: sync-success
    job: flaky-sync
    sli: success
    objective: 0.9
    window: 30d
  - name: etl-latency
    job: slow-etl
    sli: latency
    objective: 0.9
    window: 7d
    latency: { threshold: 1s }
  - name: export-success
    job: broken-export
    sli: success
    objective: 0.99
    window: 30d
`;
