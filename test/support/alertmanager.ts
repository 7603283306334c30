/**
 * A private real Alertmanager (Debian's prometheus-alertmanager, installed by
 * scripts/services.sh) on a free loopback port, routed to a webhook URL, with
 * its own data folder; killed by process group when `stop` is called.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { requireService } from './services.js';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/** Whether tests against a real Alertmanager run (fails the suite when JOBSLO_REQUIRE_SERVICES=1 and it is missing). */
export function requireAlertmanager(what: string): Promise<boolean> {
  return requireService(
    'Alertmanager',
    () => (existsSync(ALERTMANAGER_BIN) ? Promise.resolve() : Promise.reject(new Error(`${ALERTMANAGER_BIN} is not installed`))),
    what,
    'run "bash scripts/services.sh up" (installs prometheus-alertmanager)',
  );
}

/** An alert as `GET /api/v2/alerts` lists it. */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string; silencedBy: string[] };
}

export interface PrivateAlertmanager {
  url: string;
  alerts(): Promise<AmAlert[]>;
  stop(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a !== null && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts an Alertmanager in `dir` that sends every group (grouped by
 * `groupBy`, 1 s waits) to `webhookUrl` with resolved notifications, and
 * waits until its API answers.
 */
export async function startAlertmanager(dir: string, webhookUrl: string, groupBy: readonly string[], timeoutMillis = 60_000): Promise<PrivateAlertmanager> {
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(
    config,
    [
      'route:',
      '  receiver: hook',
      `  group_by: [${groupBy.join(', ')}]`,
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: hook',
      '    webhook_configs:',
      `      - url: ${webhookUrl}`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const am = spawn(ALERTMANAGER_BIN, [`--config.file=${config}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let log = '';
  am.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-10_000);
  });
  const stop = (): void => {
    if (am.pid !== undefined && am.exitCode === null && am.signalCode === null) process.kill(-am.pid, 'SIGKILL');
  };
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + timeoutMillis;
  for (;;) {
    if ((await fetch(`${url}/api/v2/status`).catch(() => undefined))?.ok) break;
    if (am.exitCode !== null || Date.now() > until) {
      stop();
      throw new Error(`Alertmanager did not answer on ${url}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop, alerts: async () => (await (await fetch(`${url}/api/v2/alerts`)).json()) as AmAlert[] };
}
