/**
 * The published package works as a library: `npm pack` of a fresh build,
 * installed into a scratch project in a temp dir, is imported by node
 * (`import { runJob } from 'jobslo'` and the subpath entries) and
 * type-checked by tsc against the declarations it ships.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, buildCli } from '../executor/helpers/build.js';
import type { BuiltCli } from '../executor/helpers/build.js';
import { killManagedAfterEach, spawnManaged } from '../support/processes.js';

killManagedAfterEach();

async function run(cmd: string, args: string[], cwd: string, timeoutMillis = 240_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const p = spawnManaged(cmd, args, { cwd, env: { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    p.exited,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMillis);
    }),
  ]);
  clearTimeout(timer);
  if (exit === 'timeout') throw new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMillis} ms:\n${p.stderr().slice(-4_000)}`);
  return { code: exit.code, stdout: p.stdout(), stderr: p.stderr() };
}

const USE = `
import { runJob, DEFAULT_BACKOFF } from 'jobslo';
import * as executor from 'jobslo/executor';
import { analyze } from 'jobslo/analyzer';
import { startCollector } from 'jobslo/collector';
import { openStore } from 'jobslo/store';
import { DuckDbStore } from 'jobslo/store/duckdb';
import { ClickHouseStore } from 'jobslo/store/clickhouse';
import { ATTR_JOB_NAME, RunOutcome } from 'jobslo/contracts';
import { renderReportSite } from 'jobslo/reports';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let calls = 0;
const result = await runJob({ name: 'packed', retries: 1, backoff: { baseDelayMillis: 1, jitter: 'none' }, tracerProvider }, async () => {
  calls += 1;
  if (calls === 1) throw new Error('first attempt fails');
  return 42;
});
const spans = exporter.getFinishedSpans().map((s) => [s.name, s.attributes[ATTR_JOB_NAME]]);
console.log(JSON.stringify({
  outcome: result.outcome, attempts: result.attempts, value: result.value, spans,
  same: executor.runJob === runJob,
  types: [typeof analyze, typeof startCollector, typeof openStore, typeof DuckDbStore.open, typeof ClickHouseStore.open, typeof renderReportSite, typeof DEFAULT_BACKOFF],
  succeeded: RunOutcome.Succeeded,
}));
`;

describe('the packed jobslo tarball in a fresh project', () => {
  let cli: BuiltCli;
  let tmp: string;

  beforeAll(async () => {
    cli = await buildCli();
    tmp = mkdtempSync(join(tmpdir(), 'jobslo-pack-'));
  }, 240_000);

  // an installed project is thousands of files: removing them takes a while on a loaded machine
  afterAll(async () => {
    cli?.remove();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 180_000);

  it('installs, imports runJob from "jobslo" and every subpath with node, type-checks with tsc, and runs the bin', async () => {
    // the build dir becomes the package root: its dist/, bin/, reports/templates and the real package.json
    copyFileSync(join(REPO, 'package.json'), join(cli.dir, 'package.json'));
    copyFileSync(join(REPO, 'README.md'), join(cli.dir, 'README.md'));
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], cli.dir);
    expect(packed.code, packed.stderr).toBe(0);
    const info = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const tarball = join(tmp, info[0]?.filename ?? '');
    const files = info[0]?.files.map((f) => f.path) ?? [];
    expect(files).toContain('dist/executor/index.d.ts');
    expect(files).toContain('bin/jobslo.js');
    expect(files.some((f) => f.startsWith('reports/templates/'))).toBe(true);
    expect(files.some((f) => f.includes('.test.'))).toBe(false);

    const project = join(tmp, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }));
    const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], project, 300_000);
    expect(installed.code, installed.stderr).toBe(0);
    expect(existsSync(join(project, 'node_modules', 'jobslo', 'package.json'))).toBe(true);

    writeFileSync(join(project, 'use.mjs'), USE);
    const used = await run(process.execPath, ['use.mjs'], project);
    expect(used.code, used.stderr).toBe(0);
    expect(JSON.parse(used.stdout)).toEqual({
      outcome: 'succeeded',
      attempts: 2,
      value: 42,
      spans: [
        ['job.attempt', 'packed'],
        ['job.attempt', 'packed'],
        ['job.run', 'packed'],
      ],
      same: true,
      types: ['function', 'function', 'function', 'function', 'function', 'function', 'object'],
      succeeded: 'succeeded',
    });

    // internals stay internal
    const deep = await run(process.execPath, ['--input-type=module', '-e', "await import('jobslo/dist/executor/run-job.js')"], project);
    expect(deep.code).not.toBe(0);
    expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);

    // types: the declarations resolve through "exports" and catch misuse
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(REPO, 'node_modules', '@types')] },
        files: ['good.ts'],
      }),
    );
    writeFileSync(
      join(project, 'good.ts'),
      `import { runJob } from 'jobslo';
import type { RunJobOptions, RunResult } from 'jobslo';
import type { Analysis } from 'jobslo/analyzer';
import type { SpanRecord } from 'jobslo/contracts';
import type { RunReader, SpanWriter } from 'jobslo/store';
import type { DuckDbStore } from 'jobslo/store/duckdb';
import type { ClickHouseStore } from 'jobslo/store/clickhouse';
export const reader = (s: DuckDbStore | ClickHouseStore): RunReader & SpanWriter => s;
const options: RunJobOptions = { name: 'typed', retries: 2 };
const r: Promise<RunResult<number>> = runJob(options, async (ctx) => ctx.attempt);
export const jobs = (a: Analysis): string[] => a.jobs.map((j) => j.job);
export const ids = (s: SpanRecord): string => s.traceId + s.spanId;
export { r };
`,
    );
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const good = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    writeFileSync(join(project, 'good.ts'), `import { runJob } from 'jobslo';\nexport const r = runJob({ name: 42 }, async () => 1);\n`);
    const bad = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/good\.ts.*error TS2322.*number.*string/s);

    // the bin works from the installed package
    const bin = await run(join(project, 'node_modules', '.bin', 'jobslo'), ['--version'], project);
    expect(bin.code, bin.stderr).toBe(0);
    expect(bin.stdout.trim()).toContain(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string);
  }, 600_000);
});
