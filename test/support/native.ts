/**
 * Where the real-framework tests (test/native/) find Redis and the Python
 * packages, and probes for {@link requireService}.
 *
 * - `JOBSLO_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`): Redis from
 *   `bash scripts/services.sh up`.
 * - `JOBSLO_NATIVE_PYTHON`: a python with test/native/requirements.txt
 *   installed; by default the venv `bash scripts/install-native.sh` makes
 *   (its name carries the requirements file's hash, as the script computes it).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const NATIVE_DIR = join(REPO_ROOT, 'test', 'native');

/** Redis URL of the tests (`redis://host:port`). */
export function redisUrl(): string {
  return (process.env['JOBSLO_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379').replace(/\/$/, '');
}

/** Rejects unless Redis at {@link redisUrl} answers PING with PONG within `timeoutMillis`. */
export function probeRedis(url = redisUrl(), timeoutMillis = 2_000): Promise<void> {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 6379);
  return new Promise((resolvePromise, reject) => {
    const socket = new Socket();
    let reply = '';
    const done = (err?: Error): void => {
      socket.destroy();
      if (err) reject(err);
      else resolvePromise();
    };
    socket.setTimeout(timeoutMillis, () => done(new Error(`no PONG from ${host}:${port} within ${timeoutMillis} ms`)));
    socket.once('error', (err: NodeJS.ErrnoException) => done(new Error(`cannot connect to Redis at ${host}:${port}: ${err.code ?? err.message}`)));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') ? undefined : new Error(`Redis at ${host}:${port} answered ${JSON.stringify(reply.trim())} to PING`));
    });
    socket.connect(port, host, () => socket.write('PING\r\n'));
  });
}

/** The python of the native venv (see the module comment). */
export function nativePython(): string {
  const fromEnv = process.env['JOBSLO_NATIVE_PYTHON'];
  if (fromEnv) return fromEnv;
  const req = readFileSync(join(NATIVE_DIR, 'requirements.txt'));
  const hash = createHash('sha256').update(req).digest('hex').slice(0, 12);
  const cache = process.env['XDG_CACHE_HOME'] ?? join(process.env['HOME'] ?? homedir(), '.cache');
  return join(cache, 'jobslo', `native-venv-${hash}`, 'bin', 'python');
}

/** Rejects unless {@link nativePython} imports Celery, its instrumentation and the OTLP exporters. */
export async function probeNativePython(python = nativePython()): Promise<void> {
  if (!existsSync(python)) throw new Error(`${python} does not exist`);
  try {
    await promisify(execFile)(
      python,
      ['-c', 'import celery, redis, opentelemetry.sdk, opentelemetry.instrumentation.celery, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.proto.grpc'],
      { timeout: 60_000 },
    );
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim().split('\n').pop();
    throw new Error(`${python} cannot import the pinned packages: ${stderr ?? String(err)}`, { cause: err });
  }
}

/** How to get Redis and the Python packages, for {@link requireService} messages. */
export const NATIVE_HINT = 'start Redis with "bash scripts/services.sh up" and install the Python packages with "bash scripts/install-native.sh" (or set JOBSLO_TEST_REDIS_URL / JOBSLO_NATIVE_PYTHON)';
