/** Helpers of the integration tests: waiting, captured logs, OTLP posting, the real CLI, Kafka cleanup. */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createLineLogger } from '../../contracts/index.js';
import type { Logger, SpanRecord } from '../../contracts/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `test-<uuid>`-style unique names for topics, groups and databases. */
export function unique(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/** `jobslo_test_<hex>`: a unique ClickHouse database name. */
export function uniqueDatabase(): string {
  return `jobslo_test_${randomUUID().replaceAll('-', '')}`;
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMillis` with the last state. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMillis = 30_000, intervalMillis = 100): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`);
    await new Promise((r) => setTimeout(r, intervalMillis));
  }
}

/** A logger that keeps lines in memory (tests print nothing unless they fail). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLineLogger((l) => lines.push(l), 'debug'), lines };
}

/** POSTs spans as one OTLP/HTTP protobuf request. */
export async function postSpans(collectorUrl: string, spans: readonly SpanRecord[]): Promise<Response> {
  return fetch(`${collectorUrl}/v1/traces`, {
    method: 'POST',
    body: Buffer.from(encodeTraceRequestProto(spans)),
    headers: { 'content-type': 'application/x-protobuf' },
    signal: AbortSignal.timeout(30_000),
  });
}

/** Splits spans into requests of whole runs' worth (`size` spans, about). */
export function requests(spans: readonly SpanRecord[], size: number): SpanRecord[][] {
  const out: SpanRecord[][] = [];
  for (let i = 0; i < spans.length; i += size) out.push(spans.slice(i, i + size));
  return out;
}

/** A kafkajs admin on `brokers` with logs off. */
export function kafkaAdmin(brokers: string[]): ReturnType<Kafka['admin']> {
  return new Kafka({ clientId: 'jobslo-test-admin', brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } }).admin();
}

/** Deletes test topics and groups from a (shared) broker; best effort. */
export async function cleanupKafka(brokers: string[], topics: string[], groups: string[] = []): Promise<void> {
  const admin = kafkaAdmin(brokers);
  try {
    await admin.connect();
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 10_000 }).catch(() => undefined);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Sum of the high watermarks of a topic's partitions: messages written. */
export async function topicMessageCount(brokers: string[], topic: string): Promise<number> {
  const admin = kafkaAdmin(brokers);
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Committed offsets of a group on a topic, by partition (-1 when none). */
export async function committedOffsets(brokers: string[], groupId: string, topic: string): Promise<Map<number, number>> {
  const admin = kafkaAdmin(brokers);
  try {
    await admin.connect();
    const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((res?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Builds dist/ with `tsc -p tsconfig.build.json` so `node bin/jobslo.js`
 * runs the code under test. Type errors in files other engineers are
 * editing do not stop tsc from emitting; the build counts when the entry
 * points the tests run were written.
 */
export function buildCli(): void {
  const started = Date.now() - 1_000;
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  const fresh = (p: string): boolean => existsSync(p) && statSync(p).mtimeMs >= started;
  if (r.status !== 0 && !['cli/main.js', 'collector/ingest.js', 'collector/kafka-sink.js', 'store/clickhouse.js'].every((p) => fresh(join(REPO_ROOT, 'dist', p)))) {
    throw new Error(`tsc -p tsconfig.build.json failed:\n${r.stdout}${r.stderr}`);
  }
}

/** A spawned `node bin/jobslo.js ...`. */
export interface CliProcess {
  readonly proc: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Spawns the real CLI (build it first with {@link buildCli}). */
export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'jobslo.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, JOBSLO_LOG_LEVEL: process.env['JOBSLO_TEST_CLI_LOG_LEVEL'] ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? signal ?? -1);
    }),
  );
  return {
    proc,
    output: () => out,
    exited,
    kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion; resolves with its exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; stdout: string; output: string }> {
  const cli = spawnCli(args, env);
  let stdout = '';
  cli.proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  const code = await cli.exited;
  return { code, stdout, output: cli.output() };
}
