/**
 * Each store backend is loaded only by a process that uses it: the store's
 * public entry loads none, and `openStore`/`openRunReader` import the one the
 * URL names. Checked on the built CLI with module hooks that log every module
 * a process resolves (ES modules) or requires (CommonJS), so the driver of
 * the other backend showing up in that log fails the test.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../executor/helpers/build.js';
import type { BuiltCli } from '../executor/helpers/build.js';
import { runJobslo, startCollectorProcess } from '../support/jobslo.js';
import { killManaged, killManagedAfterEach, spawnManaged } from '../support/processes.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';

killManagedAfterEach();

const CH = clickhouseUrl();
const up = await requireService('ClickHouse', () => probeClickHouse(CH), 'store backend loading (test/store/backend-loading.test.ts)');

/** The ES module resolve hook (runs on the hooks thread) and the CommonJS hook, logging to $JOBSLO_TEST_LOAD_LOG. */
const ESM_HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.JOBSLO_TEST_LOAD_LOG, 'esm ' + result.url + '\\n');
  return result;
}
`;
const REGISTER = `import { register } from 'node:module';
import Module from 'node:module';
import { appendFileSync } from 'node:fs';
register('./hooks.mjs', import.meta.url);
const load = Module._load;
Module._load = function (request, parent, isMain) {
  appendFileSync(process.env.JOBSLO_TEST_LOAD_LOG, 'cjs ' + request + '\\n');
  return load.call(this, request, parent, isMain);
};
`;

describe.skipIf(!up)('which store backend a process loads', () => {
  let cli: BuiltCli;
  let dir: string;
  let databases: string[] = [];

  beforeAll(async () => {
    cli = await buildCli();
    dir = mkdtempSync(join(tmpdir(), 'jobslo-loading-'));
    writeFileSync(join(dir, 'hooks.mjs'), ESM_HOOKS);
    writeFileSync(join(dir, 'register.mjs'), REGISTER);
  }, 240_000);

  afterAll(() => {
    cli?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    const drop = databases;
    databases = [];
    for (const db of drop) await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`, CH);
  });

  const freshDatabase = (): string => {
    const db = `jobslo_test_${randomUUID().replaceAll('-', '')}`;
    databases.push(db);
    return db;
  };

  /** A fresh log file and the environment that makes a node process write to it. */
  const logged = (): { log: string; env: NodeJS.ProcessEnv; loads: () => string[] } => {
    const log = join(dir, `loads-${randomUUID()}.txt`);
    writeFileSync(log, '');
    const env = { ...process.env, JOBSLO_TEST_LOAD_LOG: log, NODE_OPTIONS: `--import ${pathToFileURL(join(dir, 'register.mjs')).href}` };
    return { log, env, loads: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  };
  const duckdbLoads = (lines: readonly string[]): string[] => lines.filter((l) => /@duckdb\/|duckdb\.node|\/store\/duckdb\.js/.test(l));
  const clickhouseLoads = (lines: readonly string[]): string[] => lines.filter((l) => /@clickhouse\/client|\/store\/clickhouse\.js/.test(l));

  it('jobslo migrate on a clickhouse: store loads the ClickHouse backend and no DuckDB code', async () => {
    const { env, loads } = logged();
    const r = await runJobslo(cli.bin, ['migrate', '--store', `clickhouse:${CH}/${freshDatabase()}`], { env, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(clickhouseLoads(loads()).length).toBeGreaterThan(0);
    expect(duckdbLoads(loads())).toEqual([]);
  });

  it('a collector on a clickhouse: store runs with no DuckDB code loaded', async () => {
    const { env, loads } = logged();
    const { proc } = await startCollectorProcess(cli.bin, ['--store', `clickhouse:${CH}/${freshDatabase()}`], { env, cwd: dir });
    expect(clickhouseLoads(loads()).length).toBeGreaterThan(0);
    expect(duckdbLoads(loads())).toEqual([]);
    await killManaged(proc);
  });

  it('the same hooks see DuckDB loaded by a duckdb: store, and no ClickHouse backend', async () => {
    const { env, loads } = logged();
    const r = await runJobslo(cli.bin, ['migrate', '--store', `duckdb:${join(dir, `${randomUUID()}.duckdb`)}`], { env, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(duckdbLoads(loads()).some((l) => l.includes('@duckdb/node-api'))).toBe(true);
    expect(clickhouseLoads(loads())).toEqual([]);
  });

  it('jobslo migrate on a DuckDB file a running collector holds is refused, naming that collector (writes and migrations need the file itself)', async () => {
    const file = join(dir, `${randomUUID()}.duckdb`);
    const { proc, url } = await startCollectorProcess(cli.bin, ['--store', `duckdb:${file}`], { cwd: dir });
    const r = await runJobslo(cli.bin, ['migrate', '--store', `duckdb:${file}`, '--retention-days', '30'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`is held by the collector at ${url}`);
    expect(r.stdout).not.toContain('schema up to date');
    await killManaged(proc);
  });

  it('importing the store entry loads neither backend', async () => {
    const { env, loads } = logged();
    const entry = pathToFileURL(join(cli.dir, 'dist', 'store', 'index.js')).href;
    const p = spawnManaged(process.execPath, ['--input-type=module', '-e', `const s = await import(${JSON.stringify(entry)}); if (typeof s.openStore !== 'function') process.exit(3);`], { env, cwd: dir });
    expect((await p.exited).code, p.stderr()).toBe(0);
    expect(loads().some((l) => l.endsWith('/dist/store/index.js'))).toBe(true);
    expect(duckdbLoads(loads())).toEqual([]);
    expect(clickhouseLoads(loads())).toEqual([]);
  });
});
