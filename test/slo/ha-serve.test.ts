/**
 * Highly available serve: three `jobslo serve` processes on one ClickHouse
 * (18.16) store and one real HTTP receiver. A burn fires once per (SLO, tier);
 * the replica that is sending when the receiver holds a request is killed
 * with SIGKILL, and the resolves still arrive, each idempotency key once but
 * for the one documented duplicate (the request the dead replica had sent).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { buildCli } from '../executor/helpers/build.js';
import type { BuiltCli } from '../executor/helpers/build.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';
import { runSpans } from '../support/spans.js';
import { tempDir } from './helpers.js';

const up = await requireService('ClickHouse', () => probeClickHouse(), 'highly available serve');

interface Received {
  key: string;
  status: string;
  severity: string;
  senderPid: number | undefined;
}

/** Waits until `cond` holds, polling; fails with `what` after `timeoutMillis`. */
async function waitFor(cond: () => boolean, what: string, timeoutMillis = 120_000): Promise<void> {
  const until = Date.now() + timeoutMillis;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pid of the local process whose TCP socket has source port `port` (the sender of a request). */
function pidOfClientPort(port: number): number | undefined {
  const out = execFileSync('ss', ['-tnpH', 'src', `127.0.0.1:${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

describe.skipIf(!up)('serve replicas on one ClickHouse store', () => {
  let cli: BuiltCli;
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  beforeAll(async () => {
    cli = await buildCli();
  }, 180_000);
  afterAll(() => cli?.remove());
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('fire once per (SLO, tier); after SIGKILL of the sending replica the resolves still arrive, each key once but one duplicate', async () => {
    const database = `jobslo_test_ha_${randomUUID().replaceAll('-', '')}`;
    cleanups.push(() => clickhouseExec(`DROP DATABASE IF EXISTS ${database}`));
    const store = await ClickHouseStore.open({ url: clickhouseUrl(), database });
    cleanups.push(() => store.close());
    await store.migrate();

    // The receiver: records every request with the pid of the process that sent it; can hold one response.
    const received: Received[] = [];
    let holdNextResolve = true;
    let held: ServerResponse | undefined;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status: string; alerts: { labels: Record<string, string> }[] };
        const senderPid = pidOfClientPort(req.socket.remotePort ?? 0);
        received.push({ key: String(req.headers['idempotency-key']), status: body.status, severity: body.alerts[0]?.labels['severity'] ?? '', senderPid });
        if (body.status === 'resolved' && holdNextResolve) {
          holdNextResolve = false;
          held = res;
          return;
        }
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          held?.destroy();
          server.close(() => r());
          server.closeAllConnections();
        }),
    );
    const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

    // Ten failed runs ending now: both tiers burn; the 15 s tier resolves first, the 30 s one later.
    const t0 = Date.now();
    await store.insertSpans(
      Array.from({ length: 10 }, (_, i) =>
        runSpans({ job: 'ha-job', startMillis: t0 - 1_000 - i, outcome: 'failed', attempts: [{ startOffsetMillis: 0, durationMillis: 1_000, outcome: 'failed', exitCode: 1 }] }),
      ).flat(),
    );
    const t = tempDir();
    cleanups.push(t.cleanup);
    const config = join(t.dir, 'jobslo.yaml');
    writeFileSync(
      config,
      [
        `store: "clickhouse:${clickhouseUrl()}/${database}"`,
        'slos:',
        '  - name: ha-success',
        '    job: ha-job',
        '    objective: 0.99',
        '    window: 1h',
        '    alerting:',
        '      tiers:',
        '        - {severity: page, long: 5m, short: 15s, factor: 1}',
        '        - {severity: ticket, long: 5m, short: 30s, factor: 1}',
        'alerts:',
        '  repeat_interval: 1h',
        '  webhooks:',
        `    - {name: oncall, url: "${hookUrl}", format: alertmanager, timeout: 5s}`,
        '',
      ].join('\n'),
    );
    const replicas = [0, 1, 2].map(() => {
      const child = spawn(process.execPath, [cli.bin, 'serve', '--config', config, '--port', '0', '--interval', '1s'], {
        cwd: t.dir,
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-20_000);
      });
      children.push(child);
      return { child, stderr: () => err };
    });
    const logs = (): string => replicas.map((r, i) => `--- replica ${i} (pid ${r.child.pid}) ---\n${r.stderr()}`).join('\n');

    const firing = (): Received[] => received.filter((r) => r.status === 'firing');
    await waitFor(() => firing().length >= 2, `two firing notifications\n${logs()}`, 60_000);
    expect(firing().map((r) => r.severity).sort()).toEqual(['page', 'ticket']);

    // The page tier resolves; its request is held and the replica sending it is killed mid-delivery.
    await waitFor(() => held !== undefined, `a resolve\n${logs()}`, 60_000);
    const victim = received.find((r) => r.status === 'resolved')?.senderPid;
    const killed = replicas.find((r) => r.child.pid === victim);
    expect(killed, `the resolve came from pid ${victim}, not from a replica\n${logs()}`).toBeDefined();
    process.kill(-(killed?.child.pid ?? 0), 'SIGKILL');

    // Both resolves arrive, sent by the survivors once the dead replica's lease has run out.
    const resolvedSeverities = (): string[] => [...new Set(received.filter((r) => r.status === 'resolved').map((r) => r.severity))].sort();
    await waitFor(() => resolvedSeverities().length === 2 && received.filter((r) => r.status === 'resolved').length >= 3, `both resolves after the kill\n${logs()}`, 150_000);
    // Let every survivor run a few more cycles: nothing more may arrive.
    const settledAt = received.length;
    const until = Date.now() + 4_000;
    await waitFor(() => Date.now() > until, 'quiet period');
    expect(received.length).toBe(settledAt);

    const perKey = new Map<string, number>();
    for (const r of received) perKey.set(r.key, (perKey.get(r.key) ?? 0) + 1);
    // Four notifications: firing and resolved of each tier.
    expect(perKey.size).toBe(4);
    const duplicates = [...perKey.values()].filter((n) => n > 1);
    // The one duplicate: the resolve the killed replica had sent before it could record it.
    expect(duplicates).toEqual([2]);
    const resolvedPage = received.filter((r) => r.status === 'resolved' && r.severity === 'page');
    expect(resolvedPage).toHaveLength(2);
    expect(resolvedPage[1]?.senderPid).not.toBe(victim);
    expect(received.filter((r) => r.status === 'resolved' && r.severity === 'ticket')).toHaveLength(1);
  }, 300_000);
});
