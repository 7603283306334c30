import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSpanContextValid } from '@opentelemetry/api';
import { AttemptOutcome, ConfigError, RunOutcome, errorMessage, type Logger } from '../contracts/index.js';
import { sleep, type Clock } from './clock.js';
import { parseReportedCost } from './cost.js';
import { executeRun, isTimeoutReason, type AttemptInput, type AttemptReport } from './internal/engine.js';
import {
  clockTicksPerSecond,
  pidExists,
  processGroupMembers,
  processRss,
  reapedChildrenCpuTicks,
} from './internal/proc.js';
import { longestSecretBytes, redactedTail, secretValues } from './internal/redact.js';
import { TailBuffer } from './internal/tail-buffer.js';
import { resolveEngineOptions, type RunOptions } from './options.js';
import type { RunResult } from './run-job.js';
import { envForSpanContext } from './traceparent.js';

/** Options of {@link runProcessJob}: the common run options plus the command. */
export interface ProcessJobOptions extends RunOptions {
  /** Executable to run (looked up on `PATH`; no shell). */
  command: string;
  /** @default [] */
  args?: readonly string[];
  /** Environment of the child (plus the executor's variables). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default process.cwd() */
  cwd?: string;
  /** Time between SIGTERM and SIGKILL to the child's process group. @default 10_000 */
  killGraceMillis?: number;
  /** Bytes of stdout and of stderr kept for failed attempts' spans; 0 disables. @default 4096 */
  outputTailBytes?: number;
  /** When set, only these exit codes are retried. */
  retryOnExitCodes?: readonly number[];
  /** Exit codes that are never retried. */
  noRetryOnExitCodes?: readonly number[];
  /** Where the child's stdout goes. @default process.stdout */
  stdout?: NodeJS.WritableStream;
  /** Where the child's stderr goes. @default process.stderr */
  stderr?: NodeJS.WritableStream;
  /** OTLP base URL handed to the child as `OTEL_EXPORTER_OTLP_ENDPOINT`. @default inherited */
  otlpEndpoint?: string;
  /** Interval of peak-RSS sampling of the child's process group. @default 250 */
  rssSampleIntervalMillis?: number;
}

/** Result of {@link runProcessJob}. */
export interface ProcessRunResult extends RunResult<undefined> {
  /** Exit code of the last attempt's process (128+n when killed by signal n; 127 when it could not start). */
  exitCode?: number;
  cpuSeconds?: number;
  maxRssBytes?: number;
  costAmount?: number;
}

/** Which exit codes may be retried. */
export interface ExitCodePolicy {
  retryOnExitCodes?: readonly number[] | undefined;
  noRetryOnExitCodes?: readonly number[] | undefined;
}

/**
 * `true` when a failed attempt with this exit code may be retried: it is in
 * `retryOnExitCodes` (when given) and not in `noRetryOnExitCodes`.
 */
export function isRetryableExitCode(exitCode: number, policy: ExitCodePolicy): boolean {
  if (exitCode === 0) return false;
  if (policy.retryOnExitCodes !== undefined && !policy.retryOnExitCodes.includes(exitCode)) return false;
  return !(policy.noRetryOnExitCodes?.includes(exitCode) ?? false);
}

/**
 * Exit code for `jobslo run`: 0 when succeeded or skipped, 124 when timed
 * out (as coreutils `timeout`), 130/143 when cancelled by SIGINT/SIGTERM,
 * else the last attempt's exit code.
 */
export function exitCodeForRun(result: Pick<ProcessRunResult, 'outcome' | 'exitCode'>, cancelReason?: unknown): number {
  switch (result.outcome) {
    case RunOutcome.Succeeded:
    case RunOutcome.Skipped:
      return 0;
    case RunOutcome.TimedOut:
      return 124;
    case RunOutcome.Cancelled:
      return cancelReason === 'SIGINT' ? 130 : 143;
    case RunOutcome.Failed:
      return result.exitCode === undefined || result.exitCode === 0 ? 1 : result.exitCode;
  }
}

/** Most bytes of a cost file read back (its tail). */
const COST_FILE_MAX_BYTES = 64 * 1024;
/** After the main process exits, how long its stdout/stderr may stay open (held by escaped processes). */
const STREAM_CLOSE_WAIT_MILLIS = 1_000;
/** How long processes may survive SIGKILL (uninterruptible sleep) before we stop waiting for them. */
const POST_KILL_WAIT_MILLIS = 2_000;

/**
 * Attempts whose CPU is being measured. The measurement is the growth of this
 * process's reaped-children CPU, which is only attributable to one attempt
 * when no other child ran at the same time.
 */
const activeCpuMeasurements = new Set<{ overlapped: boolean }>();

/**
 * Runs a command as one run of job `options.name`: each attempt is a child
 * process in its own process group, with the executor's retries, timeouts,
 * deadline, idempotency, concurrency limit, cost and telemetry.
 *
 * The child inherits stdin; its stdout and stderr are passed through (with
 * backpressure) and the last `outputTailBytes` of each are kept, redacted, on
 * failed attempts' spans. It gets `TRACEPARENT` (its attempt span),
 * `OTEL_EXPORTER_OTLP_ENDPOINT`, `JOBSLO_JOB_NAME`, `JOBSLO_RUN_ID`,
 * `JOBSLO_ATTEMPT` and `JOBSLO_COST_FILE` (write `jobslo:cost=<n>` to report
 * the attempt's cost).
 *
 * @throws {ConfigError} for invalid options or an unusable state directory; never for job failures
 */
export async function runProcessJob(options: ProcessJobOptions): Promise<ProcessRunResult> {
  if (typeof options.command !== 'string' || options.command === '') throw new ConfigError('command', 'a command is required');
  const killGraceMillis = options.killGraceMillis ?? 10_000;
  if (!Number.isFinite(killGraceMillis) || killGraceMillis < 0) {
    throw new ConfigError('killGraceMillis', `must be a finite number >= 0, got ${killGraceMillis}`);
  }
  const tailBytes = options.outputTailBytes ?? 4096;
  if (!Number.isInteger(tailBytes) || tailBytes < 0) throw new ConfigError('outputTailBytes', `must be an integer >= 0, got ${tailBytes}`);
  for (const key of ['retryOnExitCodes', 'noRetryOnExitCodes'] as const) {
    for (const c of options[key] ?? []) {
      if (!Number.isInteger(c) || c < 0 || c > 255) throw new ConfigError(key, `exit codes are integers 0-255, got ${c}`);
    }
  }
  const engine = resolveEngineOptions(options, options.command);
  const baseEnv: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  if (options.otlpEndpoint !== undefined) baseEnv['OTEL_EXPORTER_OTLP_ENDPOINT'] = options.otlpEndpoint;
  baseEnv['JOBSLO_JOB_NAME'] = options.name;
  const secrets = secretValues(baseEnv);

  let tmp: string | undefined;
  const costFileFor = (attempt: number): string => {
    tmp ??= mkdtempSync(join(tmpdir(), 'jobslo-'));
    const path = join(tmp, `cost-${attempt}`);
    writeFileSync(path, '', { mode: 0o600 });
    return path;
  };
  const spec: AttemptSpec = {
    command: options.command,
    args: options.args ?? [],
    cwd: options.cwd,
    killGraceMillis,
    tailBytes,
    secrets,
    exitPolicy: { retryOnExitCodes: options.retryOnExitCodes, noRetryOnExitCodes: options.noRetryOnExitCodes },
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    rssSampleIntervalMillis: options.rssSampleIntervalMillis ?? 250,
    clock: engine.clock,
    logger: engine.logger,
  };
  try {
    const result = await executeRun(engine, (input) => {
      const costFile = costFileFor(input.attempt);
      const sc = input.span.spanContext();
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        ...(isSpanContextValid(sc) ? envForSpanContext(sc) : {}),
        JOBSLO_RUN_ID: input.runId,
        JOBSLO_ATTEMPT: String(input.attempt),
        JOBSLO_COST_FILE: costFile,
      };
      return runProcessAttempt(spec, input, env, costFile);
    });
    const out: ProcessRunResult = {
      runId: result.runId,
      outcome: result.outcome,
      attempts: result.attempts,
      deadLettered: result.deadLettered,
    };
    if (result.last?.exitCode !== undefined) out.exitCode = result.last.exitCode;
    if (result.last?.error !== undefined) out.error = result.last.error;
    else if (result.outcome !== RunOutcome.Succeeded && result.outcome !== RunOutcome.Skipped && result.last?.message) {
      out.error = new Error(result.last.message);
    }
    if (result.cpuSeconds !== undefined) out.cpuSeconds = result.cpuSeconds;
    if (result.maxRssBytes !== undefined) out.maxRssBytes = result.maxRssBytes;
    if (result.costAmount !== undefined) out.costAmount = result.costAmount;
    return out;
  } finally {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}

interface AttemptSpec {
  command: string;
  args: readonly string[];
  cwd: string | undefined;
  killGraceMillis: number;
  tailBytes: number;
  secrets: readonly string[];
  exitPolicy: ExitCodePolicy;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  rssSampleIntervalMillis: number;
  clock: Clock;
  logger: Logger;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null } | { error: Error };

async function runProcessAttempt(
  spec: AttemptSpec,
  input: AttemptInput,
  env: NodeJS.ProcessEnv,
  costFile: string,
): Promise<AttemptReport> {
  const windowBytes = spec.tailBytes === 0 ? 0 : spec.tailBytes + longestSecretBytes(spec.secrets);
  const outTail = new TailBuffer(windowBytes);
  const errTail = new TailBuffer(windowBytes);
  const cpu = { overlapped: activeCpuMeasurements.size > 0 };
  for (const m of activeCpuMeasurements) m.overlapped = true;
  activeCpuMeasurements.add(cpu);
  const cpuBefore = reapedChildrenCpuTicks();

  let child: ChildProcess;
  try {
    child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env,
      detached: true, // own process group: timeouts and cancels reach grandchildren
      stdio: ['inherit', 'pipe', 'pipe'],
    });
  } catch (err) {
    activeCpuMeasurements.delete(cpu);
    return spawnFailure(spec, err);
  }
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const closed = Promise.all([pump(child.stdout, spec.stdout, outTail), pump(child.stderr, spec.stderr, errTail)]);
  const pgid = child.pid;
  const killer = pgid === undefined ? undefined : new GroupKiller(pgid, spec.killGraceMillis, spec.clock);
  const sampler = pgid === undefined ? undefined : new RssSampler(pgid, spec.rssSampleIntervalMillis);
  const onAbort = (): void => killer?.terminate();
  if (input.signal.aborted) onAbort();
  else input.signal.addEventListener('abort', onAbort, { once: true });

  const exit = await exited;
  const abortedAtExit = input.signal.aborted;
  input.signal.removeEventListener('abort', onAbort);
  const maxRssBytes = sampler?.stop();
  if (killer) await reapGroup(killer, spec);
  await settleWithin(closed, STREAM_CLOSE_WAIT_MILLIS, spec.clock);
  child.stdout?.destroy();
  child.stderr?.destroy();
  const cpuAfter = reapedChildrenCpuTicks();
  activeCpuMeasurements.delete(cpu);

  if ('error' in exit) return spawnFailure(spec, exit.error);

  const exitCode = exit.code ?? 128 + (exit.signal ? (osConstants.signals[exit.signal] ?? 0) : 0);
  const report: AttemptReport = { outcome: AttemptOutcome.Succeeded, exitCode, retryable: false };
  if (maxRssBytes !== undefined) report.maxRssBytes = maxRssBytes;
  if (cpuBefore !== undefined && cpuAfter !== undefined && !cpu.overlapped) {
    report.cpuSeconds = (cpuAfter - cpuBefore) / clockTicksPerSecond();
  }
  const cost = readCostFile(costFile, spec.logger);
  if (cost !== undefined) report.reportedCost = cost;

  if (abortedAtExit) {
    const timedOut = isTimeoutReason(input.signal.reason);
    report.outcome = timedOut ? AttemptOutcome.TimedOut : AttemptOutcome.Cancelled;
    report.retryable = timedOut;
    report.message = timedOut ? errorMessage(input.signal.reason) : `cancelled (${String(input.signal.reason)})`;
  } else if (exit.code !== 0 || exit.signal !== null) {
    report.outcome = AttemptOutcome.Failed;
    report.errorType = exit.signal ? `signal:${exit.signal}` : String(exitCode);
    report.message = exit.signal ? `killed by ${exit.signal}` : `exit code ${exitCode}`;
    report.retryable = isRetryableExitCode(exitCode, spec.exitPolicy);
  }
  if (report.outcome !== AttemptOutcome.Succeeded && spec.tailBytes > 0) {
    report.stdoutTail = redactedTail(outTail.bytes(), outTail.truncated, spec.tailBytes, spec.secrets);
    report.stderrTail = redactedTail(errTail.bytes(), errTail.truncated, spec.tailBytes, spec.secrets);
  }
  return report;
}

/** Waits for `p` but at most `millis`; the timer is cleared either way. */
async function settleWithin(p: Promise<unknown>, millis: number, clock: Clock): Promise<void> {
  let cancel: () => void = () => {};
  const timer = new Promise<void>((resolve) => {
    cancel = clock.setTimeout(resolve, millis);
  });
  try {
    await Promise.race([p, timer]);
  } finally {
    cancel();
  }
}

function spawnFailure(spec: AttemptSpec, err: unknown): AttemptReport {
  const code = (err as NodeJS.ErrnoException).code;
  // Shell conventions: 127 not found, 126 found but not executable.
  const exitCode = code === 'EACCES' || code === 'EISDIR' ? 126 : 127;
  spec.logger.error('could not start the job', { command: spec.command, error: errorMessage(err) });
  return {
    outcome: AttemptOutcome.Failed,
    exitCode,
    errorType: String(exitCode),
    message: `cannot run ${JSON.stringify(spec.command)}: ${errorMessage(err)}`,
    retryable: false, // a missing or non-executable command does not heal on retry
    error: err,
  };
}

/** Copies a child stream to `sink` with backpressure, keeping its tail. Resolves when the stream closes. */
function pump(from: NodeJS.ReadableStream | null, sink: NodeJS.WritableStream, tail: TailBuffer): Promise<void> {
  if (from === null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    from.on('data', (chunk: Buffer) => {
      tail.push(chunk);
      if (!sink.write(chunk)) {
        from.pause();
        sink.once('drain', () => from.resume());
      }
    });
    from.once('close', () => resolve());
    from.once('error', () => resolve());
  });
}

/** SIGTERM to a process group, then SIGKILL after the grace. */
class GroupKiller {
  termSentAt: number | undefined;
  killSentAt: number | undefined;
  private cancelKill: () => void = () => {};

  constructor(
    readonly pgid: number,
    private readonly graceMillis: number,
    private readonly clock: Clock,
  ) {}

  terminate(): void {
    if (this.termSentAt !== undefined) return;
    this.termSentAt = this.clock.now();
    this.signal('SIGTERM');
    this.cancelKill = this.clock.setTimeout(() => this.kill(), this.graceMillis);
  }

  kill(): void {
    if (this.killSentAt !== undefined) return;
    this.killSentAt = this.clock.now();
    this.signal('SIGKILL');
  }

  dispose(): void {
    this.cancelKill();
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pgid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/** `true` while any non-zombie process of the group lives. */
function groupAlive(pgid: number): boolean {
  if (!pidExists(-pgid)) return false; // fast path: the group is gone
  const members = processGroupMembers(pgid);
  return members === undefined ? true : members.length > 0;
}

/**
 * After the main process exited: ends whatever it left in its process group
 * (background children), with the same SIGTERM-then-SIGKILL escalation, so a
 * job never leaves orphans behind.
 */
async function reapGroup(killer: GroupKiller, spec: AttemptSpec): Promise<void> {
  try {
    while (groupAlive(killer.pgid)) {
      if (killer.termSentAt === undefined) {
        spec.logger.warn('the job left processes running in its process group; terminating them', {
          command: spec.command,
        });
        killer.terminate();
      }
      if (killer.killSentAt !== undefined && spec.clock.now() - killer.killSentAt > POST_KILL_WAIT_MILLIS) {
        spec.logger.warn('processes of the job survived SIGKILL; not waiting for them', { command: spec.command });
        return;
      }
      await sleep(spec.clock, 20);
    }
  } finally {
    killer.dispose();
  }
}

/**
 * Samples the resident set size of a process group from /proc: the peak of
 * (sum of members' VmRSS) and of any single member's VmHWM.
 */
class RssSampler {
  private peak: number | undefined;
  private timer: NodeJS.Timeout;
  private readonly schedule: number[];

  constructor(
    private readonly pgid: number,
    intervalMillis: number,
  ) {
    // Early samples catch short jobs; then the regular interval.
    this.schedule = [5, 20, 75].filter((ms) => ms < intervalMillis);
    this.timer = this.next(intervalMillis);
  }

  private next(intervalMillis: number): NodeJS.Timeout {
    const delay = this.schedule.shift() ?? intervalMillis;
    const t = setTimeout(() => {
      this.sample();
      this.timer = this.next(intervalMillis);
    }, delay);
    t.unref();
    return t;
  }

  private sample(): void {
    const members = processGroupMembers(this.pgid);
    if (!members) return;
    let sum = 0;
    for (const pid of members) {
      const r = processRss(pid);
      if (!r) continue;
      sum += r.rssBytes;
      this.peak = Math.max(this.peak ?? 0, r.peakBytes);
    }
    if (sum > 0) this.peak = Math.max(this.peak ?? 0, sum);
  }

  stop(): number | undefined {
    clearTimeout(this.timer);
    return this.peak;
  }
}

function readCostFile(path: string, logger: Logger): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined; // the job removed it
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, COST_FILE_MAX_BYTES);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return parseReportedCost(buf.toString('utf8'));
  } catch (err) {
    logger.warn('could not read the job cost file', { error: errorMessage(err) });
    return undefined;
  } finally {
    closeSync(fd);
  }
}
