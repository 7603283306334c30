import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../executor/helpers/build.js';
import type { BuiltCli } from '../executor/helpers/build.js';
import type { Analysis } from '../../analyzer/index.js';
import { ownerFilePath } from '../../store/index.js';

const run = promisify(execFile);
let cli: BuiltCli;
let dir: string;

beforeAll(async () => {
  cli = await buildCli();
  dir = mkdtempSync(join(tmpdir(), 'jobslo-cli-'));
}, 120_000);

afterAll(() => {
  cli?.remove();
  rmSync(dir, { recursive: true, force: true });
});

async function jobslo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli.bin, ...args], { cwd: dir, env: { ...process.env, JOBSLO_STATE_DIR: join(dir, 'state') } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Starts `jobslo collector --port 0` and resolves once it says where it listens. */
function startCollectorProcess(store: string): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [cli.bin, 'collector', '--port', '0', '--store', store], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start:\n${err}`)), 30_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /collector listening url=(http:\/\/[^\s]+)\/v1\/traces/.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stderr: () => err });
      }
    });
    child.once('exit', (code) => reject(new Error(`collector exited with ${code}:\n${err}`)));
  });
}

const byJob = (a: Analysis): Record<string, Analysis['jobs'][number]> => Object.fromEntries(a.jobs.map((j) => [j.job, j]));

describe('CLI end to end: jobslo run -> jobslo collector (DuckDB) -> jobslo analyze', () => {
  it('stores what real runs did, reads through the running collector, and shuts down cleanly on SIGTERM', async () => {
    const dbPath = join(dir, 'e2e.duckdb');
    const store = `duckdb:${dbPath}`;
    const collector = await startCollectorProcess(store);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await jobslo(['run', '--job', 'cli-ok', '--endpoint', collector.url, '--', 'true']);
        expect(r.code, r.stderr).toBe(0);
      }
      for (let i = 0; i < 2; i++) {
        const r = await jobslo(['run', '--job', 'cli-bad', '--retries', '2', '--base-delay', '10ms', '--endpoint', collector.url, '--', 'sh', '-c', 'exit 3']);
        expect(r.code, r.stderr).toBe(3);
      }
      // The collector holds the DuckDB file; analyze reads through it.
      expect(existsSync(ownerFilePath(dbPath))).toBe(true);
      const live = await jobslo(['analyze', '--store', store, '--since', '1h', '--format', 'json']);
      expect(live.code, live.stderr).toBe(0);
      const jobs = byJob(JSON.parse(live.stdout) as Analysis);
      expect(jobs['cli-ok']).toMatchObject({ runs: 3, succeeded: 3, failed: 0, success_rate: 1, retries_per_run: 0 });
      expect(jobs['cli-bad']).toMatchObject({ runs: 2, succeeded: 0, failed: 2, success_rate: 0, retries_per_run: 2, dead_lettered: 2, failure_modes: { '3': 2 } });

      // So does report, with the per-job batch queries.
      const rep = await jobslo(['report', '--store', store, '--since', '1h', '--out', join(dir, 'site')]);
      expect(rep.code, rep.stderr).toBe(0);
      const index = readFileSync(rep.stdout.trim(), 'utf8');
      expect(index).toContain('cli-ok');
      expect(index).toContain('cli-bad');

      // And alert evaluation: the always-failing job burns its budget (exit 1 = firing).
      const config = join(dir, 'jobslo.yaml');
      writeFileSync(config, 'slos:\n  - name: bad-success\n    job: cli-bad\n    sli: success\n    objective: 0.99\n    window: 30d\n');
      const alerts = await jobslo(['alerts', '--once', '--config', config, '--store', store, '--state-dir', join(dir, 'alert-state'), '--format', 'json']);
      expect(alerts.code, alerts.stderr).toBe(1);
      expect(alerts.stdout).toContain('bad-success');

      const exited = new Promise<number | null>((resolve) => collector.child.once('exit', (code) => resolve(code)));
      collector.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(ownerFilePath(dbPath))).toBe(false);

      // After shutdown the file is readable directly, with the same numbers.
      const after = await jobslo(['analyze', '--store', store, '--since', '1h', '--format', 'json']);
      expect(after.code, after.stderr).toBe(0);
      expect((JSON.parse(after.stdout) as Analysis).jobs).toEqual((JSON.parse(live.stdout) as Analysis).jobs);
      const table = await jobslo(['analyze', '--store', store, '--since', '1h']);
      expect(table.stdout).toMatch(/cli-bad\s+2\s+0\s+2\s+0\.00%/);
    } finally {
      collector.child.kill('SIGKILL');
    }
  }, 120_000);

  it('shows runs waiting for a concurrency slot as queue depth while they wait', async () => {
    const dbPath = join(dir, 'queue.duckdb');
    const store = `duckdb:${dbPath}`;
    const collector = await startCollectorProcess(store);
    const env = { ...process.env, JOBSLO_STATE_DIR: join(dir, 'queue-state') };
    const start = (): ChildProcess =>
      spawn(process.execPath, [cli.bin, 'run', '--job', 'serial', '--concurrency-key', 'serial', '--endpoint', collector.url, '--', 'sleep', '2'], { cwd: dir, env, stdio: 'ignore' });
    // The SLOs of the folder's jobslo.yaml are about other jobs (analyze would warn and exit 1): none here.
    writeFileSync(join(dir, 'no-slos.yaml'), 'slos: []\n');
    const depth = async (): Promise<{ now: number; max: number } | undefined> => {
      const r = await jobslo(['analyze', '--store', store, '--since', '1h', '--format', 'json', '--config', join(dir, 'no-slos.yaml')]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as Analysis).jobs.find((j) => j.job === 'serial')?.queue_depth;
    };
    try {
      const holder = start();
      await new Promise((r) => setTimeout(r, 500));
      const waiter = start();
      let seen: { now: number; max: number } | undefined;
      for (let i = 0; i < 30 && seen?.now !== 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await depth();
      }
      expect(seen?.now).toBe(1);
      await Promise.all([holder, waiter].map((c) => new Promise((r) => c.once('exit', r))));
      expect(await depth()).toEqual({ now: 0, max: 1 });
    } finally {
      collector.child.kill('SIGTERM');
    }
  }, 120_000);

  it('says clearly when another process holds the DuckDB file', async () => {
    const dbPath = join(dir, 'locked.duckdb');
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `import { DuckDBInstance } from '@duckdb/node-api'; const i = await DuckDBInstance.create(${JSON.stringify(dbPath)}); await i.connect(); console.log('held'); setInterval(() => {}, 1000);`],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const r = await jobslo(['analyze', '--store', `duckdb:${dbPath}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/in use by another process \(pid \d+/);
      expect(r.stderr).not.toMatch(/IO Error/);
    } finally {
      holder.kill('SIGKILL');
    }
  }, 60_000);

  it('rejects bad flags with a message and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['analyze', '--format', 'xml'], /--format: "xml" is not a format/],
      [['analyze', '--since', 'soon'], /--since: "soon" is not a duration/],
      [['analyze', '--store', 'mysql://x'], /--store: "mysql:\/\/x" is not a store/],
      [['collector', '--port', '99999'], /--port: "99999" is not a TCP port/],
      [['nope'], /unknown command "nope"/],
      [['analyze', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await jobslo(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);
});
