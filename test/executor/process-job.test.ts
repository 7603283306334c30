import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ATTR_ATTEMPT_OUTCOME,
  ATTR_ATTEMPT_STDERR_TAIL,
  ATTR_ATTEMPT_STDOUT_TAIL,
  ATTR_COST_AMOUNT,
  ATTR_CPU_SECONDS,
  ATTR_DEAD_LETTER_REASON,
  ATTR_ERROR_TYPE,
  ATTR_MAX_RSS_BYTES,
  ATTR_PROCESS_COMMAND,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_RUN_OUTCOME,
} from '../../contracts/index.js';
import { exitCodeForRun, isRetryableExitCode, runProcessJob, type ProcessJobOptions } from '../../executor/index.js';
import { groupMembers, isRunning } from './helpers/procs.js';
import { memoryTracing, ms } from './helpers/spans.js';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
let tracing: ReturnType<typeof memoryTracing>;
let dir: string;

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

beforeEach(() => {
  tracing = memoryTracing();
  dir = mkdtempSync(join(tmpdir(), 'jobslo-proc-'));
});
afterEach(async () => {
  await tracing.provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

function job(command: string, args: string[], extra: Partial<ProcessJobOptions> = {}): ProcessJobOptions {
  return {
    name: 'proc',
    command,
    args,
    tracerProvider: tracing.provider,
    stdout: new Sink(),
    stderr: new Sink(),
    cwd: dir,
    backoff: { jitter: 'none', baseDelayMillis: 1, maxDelayMillis: 1 },
    stateDir: join(dir, 'state'),
    ...extra,
  };
}

describe('isRetryableExitCode', () => {
  const cases: { code: number; retryOn?: number[]; noRetryOn?: number[]; want: boolean }[] = [
    { code: 1, want: true },
    { code: 0, want: false },
    { code: 2, retryOn: [1, 2], want: true },
    { code: 3, retryOn: [1, 2], want: false },
    { code: 64, noRetryOn: [64, 65], want: false },
    { code: 1, noRetryOn: [64, 65], want: true },
    { code: 2, retryOn: [2], noRetryOn: [2], want: false },
  ];
  for (const c of cases) {
    it(`exit ${c.code} retryOn=${c.retryOn ?? '-'} noRetryOn=${c.noRetryOn ?? '-'} -> ${c.want}`, () => {
      expect(isRetryableExitCode(c.code, { retryOnExitCodes: c.retryOn, noRetryOnExitCodes: c.noRetryOn })).toBe(c.want);
    });
  }
});

describe('runProcessJob: exit codes and retries', () => {
  it('a failing command is retried, and the run carries the last exit code', async () => {
    const r = await runProcessJob(job('sh', ['-c', 'echo out; exit 3'], { retries: 2 }));
    expect(r).toMatchObject({ outcome: 'failed', attempts: 3, exitCode: 3, deadLettered: true });
    expect(exitCodeForRun(r)).toBe(3);
    const run = tracing.runSpans()[0]!;
    expect(run.attributes).toMatchObject({ [ATTR_ERROR_TYPE]: '3', [ATTR_PROCESS_EXIT_CODE]: 3, [ATTR_PROCESS_COMMAND]: 'sh' });
    expect(tracing.attemptSpans().map((s) => s.attributes[ATTR_ERROR_TYPE])).toEqual(['3', '3', '3']);
  });

  it('succeeds on a later attempt', async () => {
    const script = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ "$n" -ge 2 ]';
    const r = await runProcessJob(job('sh', ['-c', script], { retries: 3 }));
    expect(r).toMatchObject({ outcome: 'succeeded', attempts: 2, exitCode: 0, deadLettered: false });
    expect(exitCodeForRun(r)).toBe(0);
    expect(tracing.attemptSpans().map((s) => s.attributes[ATTR_ATTEMPT_OUTCOME])).toEqual(['failed', 'succeeded']);
  });

  it('--retry-on-exit-codes: other codes fail at once', async () => {
    const r = await runProcessJob(job('sh', ['-c', 'exit 3'], { retries: 5, retryOnExitCodes: [1, 2] }));
    expect(r.attempts).toBe(1);
    expect(tracing.runSpans()[0]!.attributes[ATTR_DEAD_LETTER_REASON]).toBe('exit code 3 (not retryable)');
  });

  it('--no-retry-on-exit-codes: listed codes fail at once', async () => {
    const r = await runProcessJob(job('sh', ['-c', 'exit 64'], { retries: 5, noRetryOnExitCodes: [64, 65] }));
    expect(r).toMatchObject({ attempts: 1, exitCode: 64 });
  });

  it('a process killed by a signal: exit 128+n and error.type signal:NAME', async () => {
    const r = await runProcessJob(job('sh', ['-c', 'kill -KILL $$']));
    expect(r.exitCode).toBe(137);
    expect(exitCodeForRun(r)).toBe(137);
    expect(tracing.attemptSpans()[0]!.attributes[ATTR_ERROR_TYPE]).toBe('signal:SIGKILL');
  });

  it('a command that does not exist: exit 127, not retried', async () => {
    const r = await runProcessJob(job('definitely-not-a-command-xyz', [], { retries: 3 }));
    expect(r).toMatchObject({ outcome: 'failed', attempts: 1, exitCode: 127 });
  });
});

describe('runProcessJob: timeouts and process groups', () => {
  it('a timeout SIGTERMs the whole process group: no grandchild survives; exit 124', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const started = Date.now();
    const r = await runProcessJob(job(join(FIXTURES, 'grandchild.sh'), [pidFile], { timeoutMillis: 300, killGraceMillis: 5_000 }));
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    expect(r.outcome).toBe('timed_out');
    expect(exitCodeForRun(r)).toBe(124);
    expect(Date.now() - started).toBeLessThan(3_000); // SIGTERM sufficed, no wait for the grace
    expect(isRunning(grandchild)).toBe(false);
    const att = tracing.attemptSpans()[0]!;
    expect(att.attributes).toMatchObject({ [ATTR_ATTEMPT_OUTCOME]: 'timed_out', [ATTR_ERROR_TYPE]: 'timeout' });
    expect(ms(att.endTime) - ms(att.startTime)).toBeGreaterThanOrEqual(299);
  });

  it('processes ignoring SIGTERM get SIGKILL after the kill grace', async () => {
    const pidFile = join(dir, 'stubborn.pid');
    const started = Date.now();
    const r = await runProcessJob(
      job('sh', ['-c', `trap "" TERM; sleep 1000 & echo $! > ${pidFile}; wait; wait`], { timeoutMillis: 200, killGraceMillis: 400 }),
    );
    const elapsed = Date.now() - started;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(r.outcome).toBe('timed_out');
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(isRunning(pid)).toBe(false);
    expect(groupMembers(pid)).toEqual([]);
  });

  it('background processes left behind by a successful job are ended too', async () => {
    const pidFile = join(dir, 'bg.pid');
    const r = await runProcessJob(job('sh', ['-c', `sleep 1000 & echo $! > ${pidFile}; exit 0`], { killGraceMillis: 2_000 }));
    expect(r.outcome).toBe('succeeded');
    expect(isRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('cancelling via the signal forwards SIGTERM to the group; the run is cancelled (exit 143 for SIGTERM, 130 for SIGINT)', async () => {
    const pidFile = join(dir, 'c.pid');
    const ac = new AbortController();
    setTimeout(() => ac.abort('SIGTERM'), 300);
    const r = await runProcessJob(job(join(FIXTURES, 'grandchild.sh'), [pidFile], { signal: ac.signal, retries: 3 }));
    expect(r).toMatchObject({ outcome: 'cancelled', attempts: 1, deadLettered: false });
    expect(exitCodeForRun(r, 'SIGTERM')).toBe(143);
    expect(exitCodeForRun(r, 'SIGINT')).toBe(130);
    expect(isRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    expect(tracing.runSpans()[0]!.attributes[ATTR_RUN_OUTCOME]).toBe('cancelled');
  });
});

describe('runProcessJob: output tails', () => {
  it('failed attempts carry the last N bytes of stdout and stderr with secret env values redacted; output passes through', async () => {
    const secret = 'tok_live_9f8e7d6c5b4a';
    const script = `
      const s = process.env.DEPLOY_TOKEN;
      for (let i = 0; i < 400; i++) process.stdout.write('line ' + i + ' token=' + s + '\\n');
      process.stderr.write('fatal: auth with ' + s + ' failed\\n');
      process.exitCode = 1;`;
    const stdout = new Sink();
    await runProcessJob(job(process.execPath, ['-e', script], { env: { ...process.env, DEPLOY_TOKEN: secret }, outputTailBytes: 512, stdout }));
    const att = tracing.attemptSpans()[0]!;
    const out = String(att.attributes[ATTR_ATTEMPT_STDOUT_TAIL]);
    const err = String(att.attributes[ATTR_ATTEMPT_STDERR_TAIL]);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(512);
    expect(out).toMatch(/line 399 token=\[REDACTED\]\n$/);
    expect(out).not.toContain('tok_live');
    expect(out).not.toMatch(/5b4a/);
    expect(err).toBe('fatal: auth with [REDACTED] failed\n');
    expect(stdout.text.split('\n')).toHaveLength(401); // passthrough is complete and unredacted
  });

  it('successful attempts carry no output', async () => {
    await runProcessJob(job('sh', ['-c', 'echo hello']));
    expect(tracing.attemptSpans()[0]!.attributes[ATTR_ATTEMPT_STDOUT_TAIL]).toBeUndefined();
  });
});

describe('runProcessJob: cost', () => {
  // Tolerance: USER_HZ ticks are 10 ms, and each burner spends a little CPU
  // after measuring itself (writing its file, exiting).
  const TOLERANCE_SECONDS = 0.05;

  it('CPU seconds cover the whole process tree, grandchildren included, within 50 ms + 5%', async () => {
    const burn = join(FIXTURES, 'burn.mjs');
    const node = process.execPath;
    const script = `"${node}" "${burn}" 400 a & "${node}" "${burn}" 300 b; wait`;
    const r = await runProcessJob(job('sh', ['-c', script], { cost: { cpuHour: 3600 }, rssSampleIntervalMillis: 50 }));
    const burned = Number(readFileSync(join(dir, 'a'), 'utf8')) + Number(readFileSync(join(dir, 'b'), 'utf8'));
    expect(burned).toBeGreaterThan(0.7);
    expect(r.cpuSeconds).toBeDefined();
    expect(Math.abs(r.cpuSeconds! - burned)).toBeLessThanOrEqual(TOLERANCE_SECONDS + 0.05 * burned);
    const run = tracing.runSpans()[0]!;
    expect(run.attributes[ATTR_CPU_SECONDS]).toBe(r.cpuSeconds);
    expect(run.attributes[ATTR_COST_AMOUNT]).toBeCloseTo(r.cpuSeconds!, 6); // 3600 per CPU hour = 1 per CPU second
    expect(Number(run.attributes[ATTR_MAX_RSS_BYTES])).toBeGreaterThan(20 * 1024 * 1024); // two node processes
  });

  it('a cost the job writes to JOBSLO_COST_FILE wins over rates', async () => {
    const r = await runProcessJob(job('sh', ['-c', 'echo "jobslo:cost=0.75" >> "$JOBSLO_COST_FILE"'], { cost: { perRun: 5 } }));
    expect(r.costAmount).toBe(0.75);
    expect(tracing.runSpans()[0]!.attributes[ATTR_COST_AMOUNT]).toBe(0.75);
  });
});

describe('runProcessJob: environment of the job', () => {
  it('TRACEPARENT names the attempt span; run id, attempt and job name are passed', async () => {
    await runProcessJob(job('sh', ['-c', 'env > env.txt']));
    const env = Object.fromEntries(
      readFileSync(join(dir, 'env.txt'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const att = tracing.attemptSpans()[0]!;
    expect(env['TRACEPARENT']).toBe(`00-${att.spanContext().traceId}-${att.spanContext().spanId}-01`);
    expect(env['JOBSLO_RUN_ID']).toBe(att.attributes['jobslo.run.id']);
    expect(env['JOBSLO_ATTEMPT']).toBe('1');
    expect(env['JOBSLO_JOB_NAME']).toBe('proc');
  });
});
