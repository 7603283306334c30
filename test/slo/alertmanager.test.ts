/**
 * jobslo against a real Alertmanager (Debian's prometheus-alertmanager 0.25,
 * installed by scripts/services.sh): the test starts its own instance on a
 * free loopback port, routed to a real HTTP receiver. The alert appears in
 * /api/v2/alerts with the SLO's labels and annotations, a silence made with
 * the API keeps its notification from the receiver, and a resolve ends it.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileAlertBackend, runAlertCycle } from '../../analyzer/alerts/index.js';
import { parseConfig } from '../../analyzer/slo/index.js';
import { requireAlertmanager, startAlertmanager } from '../support/alertmanager.js';
import { memoryStore, run, startReceiver, tempDir } from './helpers.js';

const up = await requireAlertmanager('jobslo against a real Alertmanager');

interface AmWebhook {
  status: string;
  alerts: { status: string; labels: Record<string, string> }[];
}

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMillis = 60_000): Promise<T> {
  const until = Date.now() + timeoutMillis;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe.skipIf(!up)('Alertmanager API v2 target', () => {
  it('shows the alert with the SLO labels and annotations, keeps a silenced one from the receiver, and ends it on resolve', async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const t = tempDir();
    cleanups.push(t.cleanup);
    const am = await startAlertmanager(t.dir, `${receiver.url}/am`, ['alertname', 'slo', 'severity']);
    cleanups.push(() => am.stop());
    const amUrl = am.url;

    // Two SLOs burn; one is silenced in Alertmanager before jobslo pushes.
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const failedAt = Date.now() - 1_000;
    await store.insertSpans([...Array.from({ length: 5 }, (_, i) => run('am-job-a', failedAt - i, false, 0)).flat(), ...Array.from({ length: 5 }, (_, i) => run('am-job-b', failedAt - i, false, 0)).flat()]);
    const config = parseConfig(
      [
        'slos:',
        '  - name: am-burning',
        '    job: am-job-a',
        '    objective: 0.99',
        '    window: 1h',
        '    labels: {team: data}',
        '    runbook_url: https://wiki.example/am-burning',
        '    annotations: {dashboard: "https://grafana.example/d/{{ slo }}"}',
        '    alerting: {tiers: [{severity: page, long: 2m, short: 5s, factor: 1}]}',
        '  - name: am-silenced',
        '    job: am-job-b',
        '    objective: 0.99',
        '    window: 1h',
        '    alerting: {tiers: [{severity: page, long: 2m, short: 5s, factor: 1}]}',
        'alerts:',
        '  external_url: http://jobslo.example:9464',
        '  alertmanagers:',
        `    - {name: test, url: "${amUrl}", timeout: 5s}`,
        '',
      ].join('\n'),
    );
    const silence = await fetch(`${amUrl}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        matchers: [{ name: 'slo', value: 'am-silenced', isRegex: false, isEqual: true }],
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        createdBy: 'jobslo test',
        comment: 'maintenance',
      }),
    });
    expect(silence.status).toBe(200);
    const { silenceID } = (await silence.json()) as { silenceID: string };

    const backend = new FileAlertBackend({ dir: join(t.dir, 'state') });
    const fired = await runAlertCycle({ store, config, backend });
    expect(fired.firing).toBe(2);
    expect(fired.alertmanager).toEqual({ sent: 1, failed: 0, alerts: 2 });

    const alerts = am.alerts;
    const listed = await waitFor(async () => {
      const a = await alerts();
      return a.length === 2 && a.every((x) => x.status.state !== 'unprocessed') ? a : undefined;
    }, 'both alerts in /api/v2/alerts');
    const burning = listed.find((a) => a.labels['slo'] === 'am-burning');
    expect(burning?.labels).toMatchObject({ alertname: 'JobsloErrorBudgetBurn', slo: 'am-burning', job: 'am-job-a', severity: 'page', team: 'data', long_window: '2m', short_window: '5s' });
    expect(burning?.annotations).toMatchObject({ runbook_url: 'https://wiki.example/am-burning', dashboard: 'https://grafana.example/d/am-burning' });
    expect(burning?.annotations['summary']).toContain('am-burning is burning its error budget');
    expect(burning?.generatorURL).toMatch(/^http:\/\/jobslo\.example:9464\/report\/slos\/am-burning-[0-9a-f]{10}\.html$/);
    expect(burning?.status.state).toBe('active');
    const silenced = listed.find((a) => a.labels['slo'] === 'am-silenced');
    expect(silenced?.status).toMatchObject({ state: 'suppressed', silencedBy: [silenceID] });

    const webhooks = (): AmWebhook[] => receiver.requests.filter((q) => q.path === '/am').map((q) => JSON.parse(q.body) as AmWebhook);
    const slosIn = (status: string): string[] => webhooks().flatMap((w) => w.alerts.filter((a) => a.status === status).map((a) => a.labels['slo'] ?? ''));
    await waitFor(() => (slosIn('firing').includes('am-burning') ? true : undefined), 'Alertmanager to notify the receiver of the firing alert');

    // A later evaluation (re-sent like Prometheus) changes nothing for the receiver.
    await runAlertCycle({ store, config, backend });

    // The failures leave the 5 s short window: both resolve, and Alertmanager ends them.
    await waitFor(() => (Date.now() > failedAt + 5_500 ? true : undefined), 'the short window to pass');
    const resolved = await runAlertCycle({ store, config, backend });
    expect(resolved.firing).toBe(0);
    expect(resolved.alertmanager.sent).toBe(1);
    await waitFor(async () => ((await alerts()).length === 0 ? true : undefined), 'Alertmanager to end both alerts');
    await waitFor(() => (slosIn('resolved').includes('am-burning') ? true : undefined), 'the resolved notification of the firing alert');
    // The silenced SLO never reached the receiver, firing or resolved.
    expect(webhooks().flatMap((w) => w.alerts.map((a) => a.labels['slo']))).not.toContain('am-silenced');
    expect(slosIn('firing').filter((s) => s === 'am-burning')).toHaveLength(1);
  }, 120_000);
});
