/**
 * Compiles the CLI into a private directory under test-artifacts/ (so a
 * concurrent build of dist/ by another test run cannot tear the files we
 * execute) and returns the path of its `bin/jobslo.js`.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const REPO = resolve(import.meta.dirname, '../../..');

export interface BuiltCli {
  bin: string;
  dir: string;
  /** tsc diagnostics when it exited non-zero but still emitted what we need (errors in others' files). */
  diagnostics: string;
  remove(): void;
}

export async function buildCli(): Promise<BuiltCli> {
  const dir = join(REPO, 'test-artifacts', `executor-cli-${randomUUID()}`);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  copyFileSync(join(REPO, 'bin', 'jobslo.js'), join(dir, 'bin', 'jobslo.js'));
  let diagnostics = '';
  try {
    await promisify(execFile)(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')], {
      cwd: REPO,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    diagnostics = String((err as { stdout?: string }).stdout ?? err);
  }
  // The report templates are read at run time from next to dist/, as in a checkout.
  cpSync(join(REPO, 'reports', 'templates'), join(dir, 'reports', 'templates'), { recursive: true });
  for (const f of ['dist/cli/main.js', 'dist/cli/commands/run.js', 'dist/executor/index.js']) {
    if (!existsSync(join(dir, f))) throw new Error(`CLI build did not produce ${f}:\n${diagnostics}`);
  }
  return { bin: join(dir, 'bin', 'jobslo.js'), dir, diagnostics, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
