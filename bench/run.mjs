#!/usr/bin/env node
/* global process, console */
// `npm run bench` lists the benchmarks with the first line of their
// description; `npm run bench -- NAME [ARGS...]` runs bench/NAME.mjs (or
// NAME.sh) with ARGS, after building dist/ if it is missing. Each script's
// header says its options; BENCHMARKS.md has the commands and figures.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const scripts = readdirSync(here)
  .filter((f) => /\.(mjs|sh)$/.test(f) && f !== 'run.mjs' && f !== 'overload-probe.mjs')
  .sort();

/** The first comment line of a script that says what it measures. */
function summary(file) {
  for (const line of readFileSync(join(here, file), 'utf8').split('\n')) {
    const m = /^(?:\/\/|#)\s?(.*)$/.exec(line);
    if (!m || line.startsWith('#!') || /^\s*$/.test(m[1]) || /global /.test(m[1])) continue;
    return m[1].trim();
  }
  return '';
}

const [name, ...args] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h') {
  console.log('usage: npm run bench -- NAME [ARGS...]   (see each script\'s header and BENCHMARKS.md)\n');
  for (const f of scripts) console.log(`  ${f.replace(/\.(mjs|sh)$/, '').padEnd(18)} ${summary(f)}`);
  process.exit(0);
}
const file = scripts.find((f) => f.replace(/\.(mjs|sh)$/, '') === name);
if (file === undefined) {
  console.error(`unknown benchmark "${name}"; known: ${scripts.map((f) => f.replace(/\.(mjs|sh)$/, '')).join(', ')}`);
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  const built = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
const run = file.endsWith('.sh') ? spawnSync('bash', [join(here, file), ...args], { cwd: root, stdio: 'inherit' }) : spawnSync(process.execPath, [join(here, file), ...args], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
