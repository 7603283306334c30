/**
 * Monitors against a real Alertmanager (its API v2, as SLO alerts are
 * pushed): a job that stopped running shows as JobsloJobDown in
 * /api/v2/alerts and reaches Alertmanager's receiver; a successful run ends it.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileAlertBackend } from '../../analyzer/alerts/index.js';
import { runMonitorCycle } from '../../analyzer/monitors/index.js';
import { parseConfig } from '../../analyzer/slo/index.js';
import { requireAlertmanager, startAlertmanager } from '../support/alertmanager.js';
import { waitFor } from '../support/processes.js';
import { HOUR, MINUTE, memoryStore, run, startReceiver, tempDir } from '../slo/helpers.js';

const up = await requireAlertmanager('monitors pushed to a real Alertmanager');

let cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe.skipIf(!up)('monitor alerts in Alertmanager', () => {
  it('a job that stopped running fires JobsloJobDown until a run succeeds, then Alertmanager resolves it', async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const t = tempDir();
    cleanups.push(t.cleanup);
    const am = await startAlertmanager(t.dir, `${receiver.url}/am`, ['alertname', 'monitor']);
    cleanups.push(() => am.stop());
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const now = Date.now();
    await store.insertSpans(run('am-billing', now - 2 * HOUR, true, MINUTE));
    await store.insertSpans(run('am-healthy', now - MINUTE, true, 1000));
    const config = parseConfig(
      [
        'monitors:',
        '  - {job: am-billing, period: 10m, grace: 1m}',
        '  - {job: am-healthy, period: 1h, grace: 5m}',
        'alerts:',
        '  external_url: http://jobslo.example:9464',
        '  alertmanagers:',
        `    - {name: test, url: "${am.url}", timeout: 5s}`,
        '',
      ].join('\n'),
    );
    const backend = new FileAlertBackend({ dir: join(t.dir, 'state') });
    const down = await runMonitorCycle({ store, config, backend });
    expect(down.evaluations.map((e) => [e.monitor.job, e.status])).toEqual([
      ['am-billing', 'down'],
      ['am-healthy', 'up'],
    ]);
    expect(down.alertmanager).toEqual({ sent: 1, failed: 0, alerts: 1 });
    const listed = await waitFor('JobsloJobDown in /api/v2/alerts', async () => {
      const a = await am.alerts();
      return a.length === 1 && a[0]?.status.state === 'active' ? a : undefined;
    });
    expect(listed[0]?.labels).toEqual({ alertname: 'JobsloJobDown', monitor: 'am-billing', job: 'am-billing', severity: 'page' });
    expect(listed[0]?.annotations['summary']).toContain('Job am-billing is down');
    // A later cycle pushes it again (kept alive, as Prometheus does) and pages nobody twice.
    expect((await runMonitorCycle({ store, config, backend })).alertmanager.alerts).toBe(1);
    const pages = (status: string): number =>
      receiver.requests
        .filter((q) => q.path === '/am')
        .flatMap((q) => (JSON.parse(q.body) as { alerts: { status: string; labels: Record<string, string> }[] }).alerts)
        .filter((a) => a.status === status && a.labels['monitor'] === 'am-billing').length;
    await waitFor('the receiver to get the firing notification', () => (pages('firing') > 0 ? true : undefined));

    await store.insertSpans(run('am-billing', Date.now() - 2000, true, 1000));
    const recovered = await runMonitorCycle({ store, config, backend });
    expect(recovered.evaluations[0]?.status).toBe('up');
    expect(recovered.alertmanager).toEqual({ sent: 1, failed: 0, alerts: 1 });
    await waitFor('Alertmanager to end the alert', async () => ((await am.alerts()).length === 0 ? true : undefined));
    await waitFor('the resolved notification', () => (pages('resolved') > 0 ? true : undefined));
    expect(pages('firing')).toBe(1);
  }, 120_000);
});
