import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../executor/helpers/build.js';
import type { BuiltCli } from '../executor/helpers/build.js';
import type { Analysis } from '../../analyzer/index.js';
import { ownerFilePath } from '../../store/index.js';
import { runJobslo, startCollectorProcess as startCollector } from '../support/jobslo.js';
import type { CliResult } from '../support/jobslo.js';
import { killManaged, killManagedAfterEach, spawnManaged, waitFor } from '../support/processes.js';
import type { ManagedProcess } from '../support/processes.js';

// every process a test starts (collectors, runs, the lock holder) is killed
// with its process group after the test, also when it failed or timed out
killManagedAfterEach();

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

function jobslo(args: string[]): Promise<CliResult> {
  return runJobslo(cli.bin, args, { cwd: dir, env: { ...process.env, JOBSLO_STATE_DIR: join(dir, 'state') } });
}

/** Starts `jobslo collector --port 0 --store STORE` and resolves once it says where it listens. */
async function startCollectorProcess(store: string): Promise<{ proc: ManagedProcess; url: string }> {
  return startCollector(cli.bin, ['--store', store], { cwd: dir });
}

const byJob = (a: Analysis): Record<string, Analysis['jobs'][number]> => Object.fromEntries(a.jobs.map((j) => [j.job, j]));

describe('CLI end to end: jobslo run -> jobslo collector (DuckDB) -> jobslo analyze', () => {
  it('stores what real runs did, reads through the running collector, and shuts down cleanly on SIGTERM', async () => {
    const dbPath = join(dir, 'e2e.duckdb');
    const store = `duckdb:${dbPath}`;
    const collector = await startCollectorProcess(store);
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

    process.kill(collector.proc.pid, 'SIGTERM');
    expect((await collector.proc.exited).code).toBe(0);
    expect(existsSync(ownerFilePath(dbPath))).toBe(false);

    // After shutdown the file is readable directly, with the same numbers.
    const after = await jobslo(['analyze', '--store', store, '--since', '1h', '--format', 'json']);
    expect(after.code, after.stderr).toBe(0);
    expect((JSON.parse(after.stdout) as Analysis).jobs).toEqual((JSON.parse(live.stdout) as Analysis).jobs);
    const table = await jobslo(['analyze', '--store', store, '--since', '1h']);
    expect(table.stdout).toMatch(/cli-bad\s+2\s+0\s+2\s+0\.00%/);
  }, 120_000);

  it('shows runs waiting for a concurrency slot as queue depth while they wait', async () => {
    const dbPath = join(dir, 'queue.duckdb');
    const store = `duckdb:${dbPath}`;
    const collector = await startCollectorProcess(store);
    const env = { ...process.env, JOBSLO_STATE_DIR: join(dir, 'queue-state') };
    const held = join(dir, 'queue-held');
    const release = join(dir, 'queue-release');
    // the slot is held until the test says so: no race with a fixed sleep, however loaded the machine
    const hold = `touch ${JSON.stringify(held)}; while [ ! -e ${JSON.stringify(release)} ]; do sleep 0.05; done`;
    const start = (): ManagedProcess =>
      spawnManaged(process.execPath, [cli.bin, 'run', '--job', 'serial', '--concurrency-key', 'serial', '--endpoint', collector.url, '--', 'sh', '-c', hold], { cwd: dir, env });
    // The SLOs of the folder's jobslo.yaml are about other jobs (analyze would warn and exit 1): none here.
    writeFileSync(join(dir, 'no-slos.yaml'), 'slos: []\n');
    let last = 'no analysis yet';
    const depth = async (): Promise<{ now: number; max: number } | undefined> => {
      const r = await jobslo(['analyze', '--store', store, '--since', '1h', '--format', 'json', '--config', join(dir, 'no-slos.yaml')]);
      expect(r.code, r.stderr).toBe(0);
      const d = (JSON.parse(r.stdout) as Analysis).jobs.find((j) => j.job === 'serial')?.queue_depth;
      last = JSON.stringify(d);
      return d;
    };
    const holder = start();
    await waitFor('the first run to hold the slot', () => (existsSync(held) ? true : undefined), { describe: () => holder.stderr() });
    const waiter = start();
    await waitFor('the waiting run to show as queue depth 1', async () => ((await depth())?.now === 1 ? true : undefined), { describe: () => last });
    writeFileSync(release, '');
    const [h, w] = await Promise.all([holder.exited, waiter.exited]);
    expect([h.code, w.code], `${holder.stderr()}\n${waiter.stderr()}`).toEqual([0, 0]);
    await waitFor('queue depth back to 0 with a maximum of 1', async () => {
      const d = await depth();
      return d?.now === 0 && d.max === 1 ? d : undefined;
    }, { describe: () => last });
    await killManaged(collector.proc);
  }, 120_000);

  it('says clearly when another process holds the DuckDB file', async () => {
    const dbPath = join(dir, 'locked.duckdb');
    const holder = spawnManaged(
      process.execPath,
      ['--input-type=module', '-e', `import { DuckDBInstance } from '@duckdb/node-api'; const i = await DuckDBInstance.create(${JSON.stringify(dbPath)}); await i.connect(); console.log('held'); setInterval(() => {}, 1000);`],
      { cwd: process.cwd() },
    );
    await holder.waitForOutput(/held/);
    const r = await jobslo(['analyze', '--store', `duckdb:${dbPath}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/in use by another process \(pid \d+/);
    expect(r.stderr).not.toMatch(/IO Error/);
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
