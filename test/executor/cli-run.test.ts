/**
 * `jobslo run` end to end: the compiled binary, real processes, spans
 * received by a capturing OTLP/HTTP JSON server.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ATTR_ATTEMPT_STDERR_TAIL,
  ATTR_ERROR_TYPE,
  ATTR_IDEMPOTENCY_KEY,
  ATTR_JOB_NAME,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_QUEUED_TIME_UNIX_NANO,
  ATTR_QUEUE_NAME,
  ATTR_RUN_ATTEMPTS,
  ATTR_RUN_DEAD_LETTERED,
  ATTR_RUN_ID,
  ATTR_RUN_OUTCOME,
  ATTR_SPAN_TYPE,
  LifecycleEvent,
} from '../../contracts/index.js';
import { buildCli, type BuiltCli } from './helpers/build.js';
import { startCapture, type Capture, type CapturedSpan } from './helpers/capture.js';
import { isRunning, start, stopStarted, waitFor, type Exited } from './helpers/procs.js';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
let cli: BuiltCli;
let capture: Capture;
let dir: string;

beforeAll(async () => {
  cli = await buildCli();
}, 180_000);
afterAll(() => cli?.remove());
beforeEach(async () => {
  capture = await startCapture();
  dir = mkdtempSync(join(tmpdir(), 'jobslo-cli-'));
});
afterEach(async () => {
  // a failed or timed-out test leaves no jobslo (and so no job) running
  await stopStarted();
  await capture.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The test runner's environment without anything that would steer jobslo or OTel. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('OTEL_') && !k.startsWith('JOBSLO_') && k !== 'TRACEPARENT' && k !== 'TRACESTATE') env[k] = v;
  }
  return { ...env, ...extra };
}

function jobslo(args: string[], extraEnv: Record<string, string> = {}): ReturnType<typeof start> {
  return start(process.execPath, [cli.bin, 'run', ...args], { env: cleanEnv(extraEnv), cwd: dir });
}

async function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Exited> {
  return jobslo(args, extraEnv).done;
}

const runs = (): CapturedSpan[] => capture.spans.filter((s) => s.attributes[ATTR_SPAN_TYPE] === 'run');
const attempts = (): CapturedSpan[] => capture.spans.filter((s) => s.attributes[ATTR_SPAN_TYPE] === 'attempt');
const millis = (ns: bigint): number => Number(ns / 1000n) / 1000;

describe('jobslo run --help', () => {
  it('documents every flag with its default', async () => {
    const r = await start(process.execPath, [cli.bin, 'run', '--help'], { env: cleanEnv() }).done;
    expect(r.code).toBe(0);
    const flags = [
      'job', 'queue', 'queued-at', 'retries', 'backoff', 'base-delay', 'max-delay', 'jitter', 'retry-on-exit-codes',
      'no-retry-on-exit-codes', 'timeout', 'deadline', 'kill-grace', 'idempotency-key', 'concurrency-key', 'concurrency',
      'state-dir', 'cost-cpu-hour', 'cost-gb-hour', 'cost-per-run', 'endpoint', 'export-timeout', 'output-tail-bytes',
    ];
    for (const f of flags) expect(r.stdout).toContain(`--${f} `);
    for (const d of ['(default 0)', '(default exponential)', '(default 1s)', '(default 30s)', '(default full)', '(default 10s)', '(default 5s)', '(default 4096)', '(default 1)']) {
      expect(r.stdout).toContain(d);
    }
  });

  it('usage errors exit 2 and name the problem', async () => {
    const noJob = await run(['--', 'true']);
    expect(noJob.code).toBe(2);
    expect(noJob.stderr).toMatch(/--job: a job name is required/);
    const noCmd = await run(['--job', 'x']);
    expect(noCmd.code).toBe(2);
    expect(noCmd.stderr).toMatch(/COMMAND/);
    const badDuration = await run(['--job', 'x', '--timeout', 'soon', '--', 'true']);
    expect(badDuration.code).toBe(2);
    expect(badDuration.stderr).toMatch(/--timeout: "soon" is not a duration/);
    const unknown = await run(['--job', 'x', '--bogus', '--', 'true']);
    expect(unknown.code).toBe(2);
  });
});

describe('jobslo run: spans and exit codes', () => {
  it('a succeeding command: exit 0, output passes through, one run span and one attempt span arrive', async () => {
    const r = await run(['--job', 'hello', '--endpoint', capture.url, '--', 'sh', '-c', 'echo hi; echo warn >&2']);
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n', stderr: 'warn\n' });
    const [runSpan] = runs();
    const [att] = attempts();
    expect(runs()).toHaveLength(1);
    expect(runSpan!.name).toBe('job.run');
    expect(runSpan!.parentSpanId).toBe('');
    expect(runSpan!.scope).toBe('jobslo-executor');
    expect(runSpan!.resource['service.name']).toBe('jobslo');
    expect(runSpan!.attributes).toMatchObject({ [ATTR_JOB_NAME]: 'hello', [ATTR_RUN_OUTCOME]: 'succeeded', [ATTR_RUN_ATTEMPTS]: 1, [ATTR_RUN_DEAD_LETTERED]: false });
    expect(runSpan!.events.map((e) => e.name)).toEqual([LifecycleEvent.Started, LifecycleEvent.Succeeded]);
    expect(att!.parentSpanId).toBe(runSpan!.spanId);
    expect(att!.attributes[ATTR_RUN_ID]).toBe(runSpan!.attributes[ATTR_RUN_ID]);
    expect(att!.attributes[ATTR_PROCESS_EXIT_CODE]).toBe(0);
    // run latency = first attempt start to last attempt end
    expect(runSpan!.startNanos).toBe(att!.startNanos);
    expect(runSpan!.endNanos).toBe(att!.endNanos);
  });

  it('a failing command is retried; jobslo exits with its code; stderr tails on attempts', async () => {
    const r = await run(['--job', 'flaky', '--endpoint', capture.url, '--retries', '2', '--base-delay', '10ms', '--jitter', 'none', '--', 'sh', '-c', 'echo oops >&2; exit 3']);
    expect(r.code).toBe(3);
    expect(r.stderr.match(/oops/g)).toHaveLength(3);
    expect(attempts()).toHaveLength(3);
    const runSpan = runs()[0]!;
    expect(runSpan.attributes).toMatchObject({ [ATTR_RUN_OUTCOME]: 'failed', [ATTR_RUN_ATTEMPTS]: 3, [ATTR_RUN_DEAD_LETTERED]: true, [ATTR_ERROR_TYPE]: '3', [ATTR_PROCESS_EXIT_CODE]: 3 });
    expect(runSpan.statusCode).toBe(2);
    expect(attempts().every((a) => a.attributes[ATTR_ATTEMPT_STDERR_TAIL] === 'oops\n')).toBe(true);
    const delays = runSpan.events.filter((e) => e.name === LifecycleEvent.RetryScheduled).map((e) => e.attributes['jobslo.retry.delay_ms']);
    expect(delays).toEqual([10, 20]);
  });

  it('exit codes: 128+n for a signal death, 127 for a missing command', async () => {
    expect((await run(['--job', 's', '--endpoint', capture.url, '--', 'sh', '-c', 'kill -TERM $$'])).code).toBe(143);
    expect((await run(['--job', 'm', '--endpoint', capture.url, '--', 'no-such-command-xyz'])).code).toBe(127);
  });

  it('a timeout exits 124 and leaves no grandchild running', async () => {
    const pidFile = join(dir, 'gc.pid');
    const r = await run(['--job', 'slow', '--endpoint', capture.url, '--timeout', '300ms', '--', join(FIXTURES, 'grandchild.sh'), pidFile]);
    expect(r.code).toBe(124);
    expect(isRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    expect(runs()[0]!.attributes[ATTR_RUN_OUTCOME]).toBe('timed_out');
    expect(runs()[0]!.events.map((e) => e.name)).toContain(LifecycleEvent.TimedOut);
  });

  it('--deadline kills the attempt running at the deadline: exit 124 after two attempts', async () => {
    const started = Date.now();
    const script = '[ "$JOBSLO_ATTEMPT" = 1 ] && exit 1; sleep 10'; // attempt 1 fails fast, attempt 2 hangs
    const r = await run(['--job', 'dl', '--endpoint', capture.url, '--deadline', '1500ms', '--retries', '5', '--base-delay', '100ms', '--jitter', 'none', '--', 'sh', '-c', script]);
    expect(r.code).toBe(124);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(attempts().map((a) => a.attributes['jobslo.attempt.outcome'])).toEqual(['failed', 'timed_out']);
    expect(runs()[0]!.attributes[ATTR_RUN_OUTCOME]).toBe('timed_out');
  });

  it('cost rates come from JOBSLO_COST_* when no flag is given; a flag wins', async () => {
    await run(['--job', 'c1', '--endpoint', capture.url, '--', 'true'], { JOBSLO_COST_PER_RUN: '0.5' });
    await run(['--job', 'c2', '--endpoint', capture.url, '--cost-per-run', '0.25', '--', 'true'], { JOBSLO_COST_PER_RUN: '0.5' });
    const cost = (job: string): unknown => runs().find((s) => s.attributes[ATTR_JOB_NAME] === job)?.attributes['jobslo.cost.amount'];
    expect(cost('c1')).toBe(0.5);
    expect(cost('c2')).toBe(0.25);
  });

  it('queue name and queued time are recorded', async () => {
    await run(['--job', 'q', '--endpoint', capture.url, '--queue', 'nightly', '--queued-at', '2026-01-01T00:00:00Z', '--', 'true']);
    const r = runs()[0]!;
    expect(r.attributes[ATTR_QUEUE_NAME]).toBe('nightly');
    expect(r.attributes[ATTR_QUEUED_TIME_UNIX_NANO]).toBe(`${BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n}`);
    expect(r.events[0]!.name).toBe(LifecycleEvent.Queued);
  });

  it('OTEL_RESOURCE_ATTRIBUTES (percent-decoded) and OTEL_SERVICE_NAME set the resource; OTEL_SERVICE_NAME wins for service.name', async () => {
    const r = await run(['--job', 'res', '--endpoint', capture.url, '--', 'true'], {
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod, team=data%20eng%2Cbilling ,service.name=from-attributes,,k8s.namespace.name=jobs',
      OTEL_SERVICE_NAME: 'billing',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/OTEL_RESOURCE_ATTRIBUTES/);
    expect(capture.spans.length).toBeGreaterThanOrEqual(2);
    for (const s of capture.spans) {
      expect(s.resource).toMatchObject({ 'service.name': 'billing', 'deployment.environment.name': 'prod', team: 'data eng,billing', 'k8s.namespace.name': 'jobs' });
    }
  });

  it('service.name comes from OTEL_RESOURCE_ATTRIBUTES without OTEL_SERVICE_NAME, and is jobslo without either', async () => {
    await run(['--job', 'res-a', '--endpoint', capture.url, '--', 'true'], { OTEL_RESOURCE_ATTRIBUTES: 'service.name=etl%2Fnightly' });
    await run(['--job', 'res-b', '--endpoint', capture.url, '--', 'true']);
    const service = (job: string): unknown => runs().find((s) => s.attributes['jobslo.job.name'] === job)?.resource['service.name'];
    expect(service('res-a')).toBe('etl/nightly');
    expect(service('res-b')).toBe('jobslo');
  });

  it('a malformed OTEL_RESOURCE_ATTRIBUTES is ignored as a whole with a warning, and the run goes on', async () => {
    const r = await run(['--job', 'res-bad', '--endpoint', capture.url, '--', 'true'], { OTEL_RESOURCE_ATTRIBUTES: 'team=data,url=a=b', OTEL_SERVICE_NAME: 'svc' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('jobslo run: OTEL_RESOURCE_ATTRIBUTES ignored: "url=a=b" is not key=value');
    const resource = runs()[0]?.resource ?? {};
    expect(resource['service.name']).toBe('svc');
    expect(resource['team']).toBeUndefined();
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT is used when --endpoint is absent', async () => {
    const r = await run(['--job', 'env-endpoint', '--', 'true'], { OTEL_EXPORTER_OTLP_ENDPOINT: capture.url });
    expect(r.code).toBe(0);
    expect(runs()).toHaveLength(1);
  });
});

describe('jobslo run: trace propagation', () => {
  it("a child's own OTel span nests under its attempt span (TRACEPARENT + OTEL_EXPORTER_OTLP_ENDPOINT)", async () => {
    const r = await run(['--job', 'traced', '--endpoint', capture.url, '--', process.execPath, join(FIXTURES, 'otel-child.mjs')]);
    expect(r.code).toBe(0);
    const child = capture.spans.find((s) => s.name === 'child.work');
    const att = attempts()[0]!;
    expect(child).toBeDefined();
    expect(child!.parentSpanId).toBe(att.spanId);
    expect(child!.traceId).toBe(att.traceId);
  });

  it('an incoming TRACEPARENT becomes the parent of the run span', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    await run(['--job', 'nested', '--endpoint', capture.url, '--', 'true'], { TRACEPARENT: `00-${traceId}-${parent}-01` });
    const r = runs()[0]!;
    expect(r.traceId).toBe(traceId);
    expect(r.parentSpanId).toBe(parent);
  });
});

describe('jobslo run: idempotency and concurrency across processes', () => {
  it('two concurrent runs with one key: exactly one executes, both exit 0; later runs are skipped', async () => {
    const args = ['--job', 'daily', '--endpoint', capture.url, '--idempotency-key', '2026-01-15', '--state-dir', join(dir, 'state'), '--', 'sh', '-c', 'echo ran >> marker; sleep 1'];
    const [a, b] = await Promise.all([run(args), run(args)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(readFileSync(join(dir, 'marker'), 'utf8')).toBe('ran\n');
    expect(runs().map((s) => s.attributes[ATTR_RUN_OUTCOME]).sort()).toEqual(['skipped', 'succeeded']);
    const third = await run(args);
    expect(third.code).toBe(0);
    expect(readFileSync(join(dir, 'marker'), 'utf8')).toBe('ran\n');
    const skipped = runs().filter((s) => s.attributes[ATTR_RUN_OUTCOME] === 'skipped');
    expect(skipped).toHaveLength(2);
    for (const s of skipped) {
      expect(s.attributes[ATTR_IDEMPOTENCY_KEY]).toBe('2026-01-15');
      expect(s.startNanos).toBe(s.endNanos);
      expect(s.events.map((e) => e.name)).toEqual([LifecycleEvent.Skipped]);
    }
  });

  it('--concurrency-key with --concurrency 1: runs do not overlap; the waiting one records queue time', async () => {
    // mkdir is atomic: a second run inside the critical section would fail with 99.
    const script = 'mkdir inside || exit 99; sleep 1; rmdir inside';
    const args = ['--job', 'exclusive', '--endpoint', capture.url, '--concurrency-key', 'db', '--state-dir', join(dir, 'state'), '--', 'sh', '-c', script];
    const results = await Promise.all([run(args), run(args)]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const queued = runs()
      .map((s) => millis(s.startNanos) - millis(BigInt(s.attributes[ATTR_QUEUED_TIME_UNIX_NANO] as string)))
      .sort((x, y) => x - y);
    expect(queued).toHaveLength(2);
    expect(queued[1]).toBeGreaterThanOrEqual(400); // waited for most of the other run's 1 s
  });
});

describe('jobslo run: shutdown and delivery', () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${signal} to jobslo ends the job's process group, records the run as cancelled and exits ${code}`, async () => {
      const pidFile = join(dir, 'gc.pid');
      const p = jobslo(['--job', 'long', '--endpoint', capture.url, '--kill-grace', '5s', '--', join(FIXTURES, 'grandchild.sh'), pidFile]);
      expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 10_000)).toBe(true);
      p.child.kill(signal);
      const r = await p.done;
      expect(r.code).toBe(code);
      expect(isRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
      const runSpan = runs()[0]!;
      expect(runSpan.attributes[ATTR_RUN_OUTCOME]).toBe('cancelled');
      expect(runSpan.attributes[ATTR_RUN_DEAD_LETTERED]).toBe(false);
      expect(runSpan.events.map((e) => e.name)).toContain(LifecycleEvent.Cancelled);
    });
  }

  it('an unreachable collector: the job still runs, and stderr gets exactly one notice line', async () => {
    const r = await run(['--job', 'offline', '--endpoint', 'http://127.0.0.1:1', '--', 'sh', '-c', 'echo ran > marker']);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'marker'), 'utf8')).toBe('ran\n');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^jobslo run: telemetry not delivered to http:\/\/127\.0\.0\.1:1\/v1\/traces: .*ECONNREFUSED/);
  });
});

describe('jobslo schedule', () => {
  const schedule = (args: string[]): ReturnType<typeof start> =>
    start(process.execPath, [cli.bin, 'schedule', ...args], { env: cleanEnv(), cwd: dir });

  it('--dry-run validates the file and prints the next ticks', async () => {
    writeFileSync(join(dir, 's.yaml'), 'jobs:\n  - {name: nightly, cron: "0 2 * * *", timezone: America/New_York, command: "true"}\n');
    const r = await schedule(['--file', 's.yaml', '--dry-run']).done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^nightly {2}"0 2 \* \* \*" America\/New_York {2}overlap=skip {2}next: (\d{4}-\d\d-\d\dT0[67]:00:00\.000Z(, )?){3}\n$/);
  });

  it('an invalid file exits 2 naming the field', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'jobs:\n  - {name: x, cron: "99 * * * *", command: "true"}\n');
    const r = await schedule(['--file', 'bad.yaml']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^jobslo schedule: jobs\[0\]\.cron: "99 \* \* \* \*" is not a cron expression .*minute.* \(bad\.yaml:2:21\)\n$/);
  });

  it('runs jobs on their ticks as job runs queued at the tick; SIGTERM stops it with 143', async () => {
    writeFileSync(join(dir, 's.yaml'), 'queue: every-second\njobs:\n  - {name: sec, cron: "* * * * * *", command: "echo tick >> marker"}\n');
    const p = schedule(['--file', 's.yaml', '--endpoint', capture.url, '--state-dir', join(dir, 'state')]);
    const lines = (): number => (existsSync(join(dir, 'marker')) ? readFileSync(join(dir, 'marker'), 'utf8').split('\n').length - 1 : 0);
    const succeeded = () => runs().filter((s) => s.attributes[ATTR_JOB_NAME] === 'sec' && s.attributes[ATTR_RUN_OUTCOME] === 'succeeded');
    // Two runs finished and exported (the marker alone is written before a run ends).
    expect(await waitFor(() => succeeded().length >= 2, 30_000)).toBe(true);
    expect(lines()).toBeGreaterThanOrEqual(2);
    p.child.kill('SIGTERM');
    const r = await p.done;
    expect(r.code).toBe(143);
    const done = succeeded();
    expect(done.length).toBeGreaterThanOrEqual(2);
    for (const s of done) {
      expect(s.attributes[ATTR_QUEUE_NAME]).toBe('every-second');
      const queuedNs = BigInt(s.attributes[ATTR_QUEUED_TIME_UNIX_NANO] as string);
      expect(queuedNs % 1_000_000_000n).toBe(0n); // the tick, on a whole second
      expect(s.startNanos >= queuedNs).toBe(true);
    }
  }, 60_000);
});
