/** Monitors end to end: DuckDB store → state machine → outbox → a real HTTP receiver, on an injected clock. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileAlertBackend } from '../../analyzer/alerts/index.js';
import { loadMonitorState, monitorStatePath, runMonitorCycle } from '../../analyzer/monitors/index.js';
import { parseConfig } from '../../analyzer/slo/index.js';
import { LifecycleEvent, lifecycleEventId } from '../../contracts/index.js';
import { fakeClock, memoryStore, run, startReceiver, tempDir, DAY, HOUR, MINUTE } from '../slo/helpers.js';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('runMonitorCycle', () => {
  it('delivers exactly one down and one recovered notification for a daily job that misses its 02:00 run, across a DST change', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const config = parseConfig(
      `monitors:\n  - job: billing\n    cron: "0 2 * * *"\n    timezone: Europe/Berlin\n    grace: 30m\nalerts:\n  webhooks:\n    - {name: ops, url: "${receiver.url}/hook", format: json}\n`,
    );
    const oct23 = Date.UTC(2026, 9, 23, 0); // 02:00 CEST
    await store.insertSpans(run('billing', oct23 + MINUTE, true, 5 * MINUTE));
    const clock = fakeClock(oct23 + HOUR);
    const cycle = async (at: number) => {
      clock.set(at);
      return runMonitorCycle({ store, config, backend: new FileAlertBackend({ dir: tmp.dir }), clock, atMillis: at });
    };
    expect((await cycle(oct23 + HOUR)).evaluations[0]?.status).toBe('up');
    const oct24 = oct23 + DAY;
    expect((await cycle(oct24)).evaluations[0]?.status).toBe('late');
    const down = await cycle(oct24 + 30 * MINUTE);
    expect(down.evaluations[0]?.status).toBe('down');
    expect(down.notifications.map((n) => n.status)).toEqual(['firing']);
    expect(down.drain.delivered).toBe(1);
    // Every 20 minutes for three days, through the night the clocks go back (Oct 25).
    const oct27 = Date.UTC(2026, 9, 27, 1); // 02:00 CET
    for (let t = oct24 + 50 * MINUTE; t < oct27; t += 20 * MINUTE) {
      const r = await cycle(t);
      expect(r.evaluations[0]?.status, new Date(t).toISOString()).toBe('down');
      expect(r.notifications).toEqual([]);
    }
    await store.insertSpans(run('billing', oct27 + 2 * MINUTE, true, 3 * MINUTE));
    const up = await cycle(oct27 + 10 * MINUTE);
    expect(up.evaluations[0]?.status).toBe('up');
    expect(up.notifications.map((n) => n.status)).toEqual(['resolved']);
    await cycle(oct27 + HOUR);

    const bodies = receiver.requests.map((r) => JSON.parse(r.body) as { status: string; labels: Record<string, string>; annotations: Record<string, string> });
    expect(bodies.map((b) => [b.status, b.labels['alertname'], b.labels['monitor']])).toEqual([
      ['firing', 'JobsloJobDown', 'billing'],
      ['resolved', 'JobsloJobDown', 'billing'],
    ]);
    expect(bodies[0]?.annotations['summary']).toContain('billing is down');
    expect(existsSync(join(tmp.dir, 'outbox'))).toBe(true);
    expect(loadMonitorState(monitorStatePath(tmp.dir)).monitors['billing']?.status).toBe('up');
  });

  it('writes a state version only when a record changes, not on every cycle', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const config = parseConfig(`monitors:\n  - {job: billing, cron: "0 2 * * *", timezone: UTC, grace: 30m}\n`);
    const day = Date.UTC(2026, 2, 10, 2);
    await store.insertSpans(run('billing', day + MINUTE, true, 5 * MINUTE));
    const backend = new FileAlertBackend({ dir: tmp.dir });
    const clock = fakeClock(day + HOUR);
    const cycle = async (at: number) => {
      clock.set(at);
      return runMonitorCycle({ store, config, backend, clock, atMillis: at });
    };
    expect((await cycle(day + HOUR)).evaluations[0]?.status).toBe('up');
    const first = (await backend.monitorState.load()).version;
    expect(first).toBeGreaterThan(0);
    // Twenty hours of cycles before the next tick's deadline: nothing to record.
    for (let t = day + 2 * HOUR; t < day + 22 * HOUR; t += 10 * MINUTE) expect((await cycle(t)).evaluations[0]?.status).toBe('up');
    expect((await backend.monitorState.load()).version).toBe(first);
    // The next tick is missed: late then down are recorded, each once.
    expect((await cycle(day + 24 * HOUR + MINUTE)).evaluations[0]?.status).toBe('late');
    expect((await backend.monitorState.load()).version).toBe(first + 1);
    expect((await cycle(day + 24 * HOUR + 31 * MINUTE)).evaluations[0]?.status).toBe('down');
    expect((await cycle(day + 24 * HOUR + 41 * MINUTE)).evaluations[0]?.status).toBe('down');
    expect((await backend.monitorState.load()).version).toBe(first + 2);
  });

  it('a freshness SLO implies a monitor that is new until the job first runs, and never pages before', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const config = parseConfig(
      `slos:\n  - {name: etl-fresh, job: etl, sli: freshness, objective: 0.9, freshness: {cron: "0 2 * * *", grace: 30m}}\nalerts:\n  webhooks:\n    - {name: ops, url: "${receiver.url}/hook", format: json}\n`,
    );
    expect(config.monitors.map((m) => [m.name, m.source])).toEqual([['etl-fresh', 'freshness_slo']]);
    const today = Date.UTC(2026, 2, 10, 9);
    const clock = fakeClock(today);
    for (let t = today; t < today + DAY; t += HOUR) {
      const r = await runMonitorCycle({ store, config, backend: new FileAlertBackend({ dir: tmp.dir }), clock, atMillis: t });
      expect(r.evaluations[0]?.status).toBe('new');
    }
    await store.insertSpans(run('etl', Date.UTC(2026, 2, 11, 2, 1), true));
    const r = await runMonitorCycle({ store, config, backend: new FileAlertBackend({ dir: tmp.dir }), clock, atMillis: Date.UTC(2026, 2, 11, 3) });
    expect(r.evaluations[0]?.status).toBe('up');
    expect(receiver.requests).toEqual([]);
  });

  it('a run that started (live job.started) and has not finished after max_runtime notifies running too long once', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const config = parseConfig(`monitors:\n  - {job: etl, cron: "0 2 * * *", max_runtime: 1h}\nalerts:\n  webhooks:\n    - {name: ops, url: "${receiver.url}", format: json}\n`);
    const day1 = Date.UTC(2026, 2, 10, 2);
    await store.insertSpans(run('etl', day1, true, 10 * MINUTE));
    const started = day1 + DAY;
    const t = BigInt(started) * 1_000_000n;
    await store.insertLifecycleEvents([{ eventId: lifecycleEventId('stuck', LifecycleEvent.Started, t), type: LifecycleEvent.Started, job: 'etl', runId: 'stuck', timeUnixNano: t, attributes: {} }]);
    const clock = fakeClock(started);
    const at = async (ms: number) => (await runMonitorCycle({ store, config, backend: new FileAlertBackend({ dir: tmp.dir }), clock, atMillis: ms })).evaluations[0];
    expect((await at(started + 30 * MINUTE))?.status).toBe('up');
    const long = await at(started + HOUR + MINUTE);
    expect(long?.status).toBe('running_too_long');
    expect(long?.overdueStartsMillis).toEqual([started]);
    expect((await at(started + 2 * HOUR))?.status).toBe('running_too_long');
    const bodies = receiver.requests.map((r) => JSON.parse(r.body) as { status: string; labels: Record<string, string> });
    expect(bodies.map((b) => [b.status, b.labels['alertname']])).toEqual([['firing', 'JobsloJobRunningTooLong']]);
  });
});
