import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { JOBSLO_VERSION, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import { analyze } from '../../analyzer/index.js';
import type { Analysis } from '../../analyzer/index.js';
import { startCollector, StoreSink } from '../../collector/index.js';
import { LifecycleReporter, runJob, runProcessJob, startTelemetry } from '../../executor/index.js';
import type { DeliveryReport } from '../../executor/index.js';
import { collectReportData, writeReportSite } from '../../reports/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { DEMO_JOBS, DEMO_SLOS_YAML, expectedOutcomes, planDemo, seededRandom } from './plan.js';
import { evaluateSlos, parseConfig } from '../../analyzer/slo/index.js';
import type { SloEvaluation } from '../../analyzer/slo/index.js';
import { reportSlos } from '../_report-slos.js';
import { emptyAlertState } from '../../analyzer/alerts/index.js';
import type { DemoJob, ExpectedJob, PlannedRun } from './plan.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** DuckDB file the demo creates afresh (an existing file is replaced). */
  storePath: string;
  /** Folder the HTML report is written to. */
  reportDir: string;
  /** Seed of the plan: same seed, same runs. @default 42 */
  seed?: number;
  /** Runs executing at once. @default 8 */
  concurrency?: number;
  /** Jobs to run. @default DEMO_JOBS */
  jobs?: readonly DemoJob[];
  /** Progress messages. @default no-op */
  logger?: Logger;
  /** Aborting stops starting new runs and cancels those in flight. */
  signal?: AbortSignal;
}

/** What the demo did and found. */
export interface DemoResult {
  analysis: Analysis;
  /** The demo SLOs ({@link DEMO_SLOS_YAML}) evaluated at the end. */
  slos: SloEvaluation[];
  /** The plan's own counts, for comparing with `analysis`. */
  expected: ExpectedJob[];
  reportPath: string;
  collectorUrl: string;
  delivery: DeliveryReport;
  elapsedMillis: number;
}

class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
}

class CredentialRejectedError extends Error {
  override readonly name = 'CredentialRejectedError';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveSleep, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolveSleep();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A POSIX sh script that does what the plan says for `$JOBSLO_ATTEMPT`. */
function processScript(run: PlannedRun): string {
  const cases = run.attempts
    .map((a, i) => `${i + 1}) sleep ${(a.workMillis / 1000).toFixed(3)}; ${a.result === 'ok' ? 'echo backup done; exit 0' : 'echo "disk quota exceeded" >&2; exit 1'};;`)
    .join(' ');
  return `case "$JOBSLO_ATTEMPT" in ${cases} *) exit 0;; esac`;
}

/**
 * The demo: starts the collector in-process on a free port over a fresh DuckDB
 * file, runs the planned jobs through the real executor (function jobs via
 * `runJob`, process jobs via the `jobslo run` process executor), exporting
 * their spans over OTLP/HTTP to that collector, then analyzes the store and
 * writes the HTML report.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const logger = options.logger ?? noopLogger;
  const started = Date.now();
  const storePath = resolve(options.storePath);
  await rm(storePath, { force: true });
  await rm(`${storePath}.wal`, { force: true });
  const store = await DuckDbStore.open({ path: storePath });
  await store.migrate();
  const collector = await startCollector({ sink: new StoreSink(store, { logger }), port: 0, logger });
  try {
    const telemetry = startTelemetry({ tracesUrl: `${collector.url}/v1/traces`, serviceName: 'jobslo-demo' });
    const lifecycle = new LifecycleReporter({ url: `${collector.url}/v1/lifecycle`, logger });
    const plan = planDemo(options.seed ?? 42, options.jobs ?? DEMO_JOBS);
    const expected = expectedOutcomes(plan);
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    logger.info('demo started', { runs: plan.length, jobs: expected.length, collector: collector.url, store: storePath });

    const queuedAt = Date.now();
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < plan.length && !controller.signal.aborted) {
        const run = plan[next++] as PlannedRun;
        const common = {
          name: run.job.name,
          retries: run.job.retries,
          timeoutMillis: run.job.timeoutMillis,
          backoff: { kind: 'exponential' as const, baseDelayMillis: 10, maxDelayMillis: 80, jitter: 'full' as const },
          random: seededRandom(run.jitterSeed),
          tracer: telemetry.tracer,
          queue: 'demo',
          // Every run is queued when the demo starts: the pool of workers drains a backlog.
          queuedAtMillis: queuedAt,
          cost: { perRun: run.job.costPerRun },
          signal: controller.signal,
          onLifecycle: lifecycle.report,
        };
        if (run.job.kind === 'process') {
          await runProcessJob({
            ...common,
            command: 'sh',
            args: ['-c', processScript(run)],
            killGraceMillis: 1_000,
            stdout: devNull,
            stderr: devNull,
          });
        } else {
          await runJob(common, async (ctx) => {
            const attempt = run.attempts[ctx.attempt - 1];
            if (!attempt) return;
            await sleep(attempt.workMillis, ctx.signal);
            if (attempt.result === 'error') {
              throw run.job.name === 'broken-export'
                ? new CredentialRejectedError('export API rejected the service credential (401)')
                : new UpstreamUnavailableError('upstream answered 503 Service Unavailable');
            }
          });
        }
        done++;
        if (done % 50 === 0) logger.info('demo progress', { done, of: plan.length });
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, () => worker()));
    options.signal?.removeEventListener('abort', onAbort);
    const [delivery] = await Promise.all([telemetry.shutdown(), lifecycle.flush()]);
    const now = Date.now();
    const range = { fromMillis: started - 60_000, toMillis: now + 1 };
    const analysis = await analyze(store, range);
    const slos = await evaluateSlos(store, parseConfig(DEMO_SLOS_YAML, { fileName: 'demo SLOs' }).slos, now);
    // No alert state: the demo evaluates once and sends nothing.
    const reportSloInput = reportSlos(slos, emptyAlertState());
    const reportPath = await writeReportSite(
      resolve(options.reportDir),
      await collectReportData(store, { range, version: JOBSLO_VERSION, storeLocation: storePath, slos: reportSloInput }),
    );
    return { analysis, slos, expected, reportPath, collectorUrl: collector.url, delivery, elapsedMillis: Date.now() - started };
  } finally {
    await collector.close();
  }
}

/** Discards a child's output (the demo's jobs talk; the demo's table is what matters). */
const devNull = new Writable({
  write(_chunk, _enc, cb) {
    cb();
  },
});
