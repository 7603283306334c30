/**
 * A real Celery worker (opentelemetry-instrumentation-celery) against real
 * Redis runs the known mix (test/native/_harness.ts) and exports OTLP/HTTP
 * protobuf to a real `jobslo collector` over a fresh DuckDB file;
 * `jobslo analyze --format json` must count runs, outcomes and retries
 * exactly, with a queue delay.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCollectorProcess } from '../support/jobslo.js';
import { NATIVE_HINT, probeNativePython, probeRedis } from '../support/native.js';
import { killManagedAfterEach } from '../support/processes.js';
import { requireService } from '../support/services.js';
import { MIX, runCeleryMix } from './_harness.js';
import { checkJobs, useE2e } from './_e2e.js';

const SUITE = 'a real Celery worker through jobslo (test/native/celery.test.ts)';
const up =
  (await requireService('Redis', () => probeRedis(), SUITE, NATIVE_HINT)) &&
  (await requireService('Python packages (Celery, OpenTelemetry)', () => probeNativePython(), SUITE, NATIVE_HINT));

killManagedAfterEach();

describe.skipIf(!up)(SUITE, () => {
  const e2e = useE2e();

  it('Celery worker -> jobslo collector (DuckDB) -> analyze: 5 ok, 3 retried once, 2 failed after 3 attempts; enqueue spans count nothing', async () => {
    const store = `duckdb:${join(e2e.dir(), `celery-${randomUUID()}.duckdb`)}`;
    const collector = await startCollectorProcess(e2e.cli().bin, ['--store', store], { cwd: e2e.dir() });
    const queue = `celery-e2e-${randomUUID()}`;
    const { result } = await runCeleryMix({ tracesEndpoint: `${collector.url}/v1/traces`, queue, serviceName: 'native-celery-e2e' });
    expect(Object.values(result.states).sort()).toEqual([...Array(MIX.doomed).fill('FAILURE'), ...Array(MIX.ok + MIX.flaky).fill('SUCCESS')]);
    checkJobs(await e2e.analyzeUntilComplete(store, (k) => `native.${k}`));
  }, 240_000);
});
