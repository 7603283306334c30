/**
 * Monitors with several `serve` replicas: two alert backends on one place
 * (two ClickHouse connections to one real database; two file backends on one
 * folder) run monitor cycles at once over the same store. Each transition is
 * committed once (compare-and-swap on the monitor state's version) and
 * delivered once.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ClickHouseAlertBackend, FileAlertBackend } from '../../analyzer/alerts/index.js';
import type { AlertBackend } from '../../analyzer/alerts/index.js';
import { MONITOR_DOWN_ALERT, loadMonitorStateFrom, monitorNotificationId, runMonitorCycle } from '../../analyzer/monitors/index.js';
import { parseConfig } from '../../analyzer/slo/index.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';
import { DAY, HOUR, MINUTE, fakeClock, memoryStore, run, startReceiver, tempDir } from '../slo/helpers.js';

const clickhouseUp = await requireService('ClickHouse', () => probeClickHouse(), 'monitor state of serve replicas on ClickHouse');

let cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function replicasScenario(name: string, openPair: () => Promise<[AlertBackend, AlertBackend]>): void {
  it(`${name}: two replicas evaluating the same missed tick enqueue and deliver one down notification, and one recovery`, async () => {
    const [a, b] = await openPair();
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const config = parseConfig(
      `monitors:\n  - job: billing\n    cron: "0 2 * * *"\n    timezone: UTC\n    grace: 30m\nalerts:\n  webhooks:\n    - {name: ops, url: "${receiver.url}/hook", format: json}\n`,
    );
    const day1 = Date.UTC(2026, 9, 23, 2);
    await store.insertSpans(run('billing', day1 + MINUTE, true, 5 * MINUTE));
    const clock = fakeClock(day1 + HOUR);
    const both = async (at: number) => {
      clock.set(at);
      return Promise.all([a, b].map((backend) => runMonitorCycle({ store, config, backend, clock, atMillis: at })));
    };

    expect((await both(day1 + HOUR)).map((r) => r.evaluations[0]?.status)).toEqual(['up', 'up']);
    // The next day's 02:00 run never comes; both replicas judge the tick at the end of its grace.
    const missed = day1 + DAY + 30 * MINUTE;
    const down = await both(missed);
    expect(down.map((r) => r.evaluations[0]?.status)).toEqual(['down', 'down']);
    const fired = down.flatMap((r) => r.notifications);
    expect(fired.map((n) => [n.status, n.labels['alertname']])).toEqual([['firing', MONITOR_DOWN_ALERT]]);
    expect(down.reduce((n, r) => n + r.queued, 0)).toBe(1);
    const since = down[0]?.evaluations[0]?.downSinceMillis ?? 0;
    expect(fired[0]?.id).toBe(monitorNotificationId('billing', 'down', 'firing', since));
    // Later cycles of either replica add nothing.
    for (const r of await both(missed + 20 * MINUTE)) expect(r.notifications).toEqual([]);
    expect((await loadMonitorStateFrom(b.monitorState)).state.monitors['billing']?.firing).toEqual({ down: since });

    await store.insertSpans(run('billing', day1 + 2 * DAY + MINUTE, true, 3 * MINUTE));
    const up = await both(day1 + 2 * DAY + 10 * MINUTE);
    expect(up.map((r) => r.evaluations[0]?.status)).toEqual(['up', 'up']);
    expect(up.flatMap((r) => r.notifications).map((n) => n.status)).toEqual(['resolved']);

    expect(await a.outbox.size()).toBe(0);
    const requests = receiver.requests.map((r) => ({ key: r.headers['idempotency-key'], body: JSON.parse(r.body) as { status: string; labels: Record<string, string> } }));
    expect(requests.map((r) => [r.body.status, r.body.labels['monitor']])).toEqual([
      ['firing', 'billing'],
      ['resolved', 'billing'],
    ]);
    expect(requests[0]?.key).toBe(fired[0]?.id);
  });
}

describe('monitor cycles of two replicas', () => {
  replicasScenario('file backend (two backends on one folder)', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    return Promise.resolve([new FileAlertBackend({ dir: t.dir }), new FileAlertBackend({ dir: t.dir })]);
  });

  describe.skipIf(!clickhouseUp)('ClickHouse 18.16', () => {
    replicasScenario('ClickHouse backend (two connections to one database)', async () => {
      const database = `jobslo_test_monitors_ha_${randomUUID().replaceAll('-', '')}`;
      cleanups.push(() => clickhouseExec(`DROP DATABASE IF EXISTS ${database}`));
      const a = new ClickHouseAlertBackend({ url: clickhouseUrl(), database });
      const b = new ClickHouseAlertBackend({ url: clickhouseUrl(), database });
      cleanups.push(() => a.close(), () => b.close());
      await a.migrate();
      return [a, b];
    });
  });
});
