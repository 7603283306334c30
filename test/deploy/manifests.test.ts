/**
 * Keeps deploy/ true to the code: every jobslo command and flag the compose
 * file and the Kubernetes manifests use exists, and every jobslo.yaml they
 * ship is a valid config.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadAllCommands } from '../../cli/registry.js';

const commands = await loadAllCommands();
import { parseConfig } from '../../analyzer/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

function docs(path: string): unknown[] {
  return parseAllDocuments(read(path)).map((d) => {
    expect(d.errors, path).toEqual([]);
    return d.toJS() as unknown;
  });
}

function expectValidInvocation(args: string[], where: string): void {
  const [name, ...rest] = args;
  const cmd = commands.find((c) => c.name === name);
  expect(cmd, `${where}: unknown command ${name}`).toBeDefined();
  for (const flag of rest.filter((a) => a.startsWith('--'))) {
    expect(cmd?.help, `${where}: "jobslo ${name}" has no ${flag}`).toContain(flag);
  }
}

describe('deploy/ manifests', () => {
  it('compose: every jobslo service runs an existing command with existing flags', () => {
    const [compose] = docs('deploy/compose.yaml') as [{ services: Record<string, { command?: string[]; build?: unknown }> }];
    const jobslo = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(jobslo.map(([n]) => n).sort()).toEqual(['collector', 'ingest', 'serve']);
    for (const [name, service] of jobslo) expectValidInvocation(service.command ?? [], `compose ${name}`);
  });

  it('kubernetes: every container runs an existing command with existing flags, and the ConfigMap holds a valid jobslo.yaml', () => {
    const all = docs('deploy/k8s/jobslo.yaml') as { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } }[];
    const deployments = all.filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['jobslo-collector', 'jobslo-ingest', 'jobslo-serve']);
    for (const d of deployments) {
      for (const c of d.spec?.template?.spec?.containers ?? []) expectValidInvocation(c.args ?? [], d.metadata.name);
    }
    const cm = all.find((d) => d.kind === 'ConfigMap');
    const config = parseConfig(cm?.data?.['jobslo.yaml'] ?? '', { env: { JOBSLO_WEBHOOK_SECRET: 'x' } });
    expect(config.slos.length).toBeGreaterThan(0);
  });

  it('the example config the compose file mounts is valid', () => {
    const config = parseConfig(read('examples/jobslo.yaml'), { env: { JOBSLO_WEBHOOK_SECRET: 'x' } });
    expect(config.slos.length).toBeGreaterThan(0);
  });
});

describe('CLI registry', () => {
  it('each lazily loaded command has the name it is registered under, a summary and help naming itself', async () => {
    const { commands: entries } = await import('../../cli/registry.js');
    for (const entry of entries) {
      const cmd = await entry.load();
      expect(cmd.name).toBe(entry.name);
      expect(cmd.summary.length).toBeGreaterThan(10);
      expect(cmd.help).toContain(`jobslo ${entry.name}`);
    }
  });
});
