/** Alert state transitions and the full evaluate → outbox → webhook cycle. */
import { afterEach, describe, expect, it } from 'vitest';
import { FileAlertBackend, alertFingerprint, planNotifications, readStateFile, runAlertCycle, statePaths } from '../../analyzer/alerts/index.js';
import type { AlertState } from '../../analyzer/alerts/index.js';
import { evaluateFromCounts, parseConfig } from '../../analyzer/slo/index.js';
import type { JobsloConfig, SloEvaluation } from '../../analyzer/slo/index.js';
import type { DuckDbStore } from '../../store/duckdb.js';
import { HOUR, MINUTE, fakeClock, memoryStore, startReceiver, steadyRuns, tempDir } from './helpers.js';

const T0 = Date.UTC(2026, 7, 3, 9);

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('fingerprints', () => {
  const tier = { severity: 'page', longWindowMillis: HOUR, shortWindowMillis: 5 * MINUTE };
  it('are stable per SLO name and tier severity/windows, 16 hex digits', () => {
    expect(alertFingerprint('etl', tier)).toMatch(/^[0-9a-f]{16}$/);
    expect(alertFingerprint('etl', tier)).toBe(alertFingerprint('etl', { ...tier }));
    expect(alertFingerprint('etl', tier)).not.toBe(alertFingerprint('etl2', tier));
    expect(alertFingerprint('etl', tier)).not.toBe(alertFingerprint('etl', { ...tier, severity: 'ticket' }));
    expect(alertFingerprint('etl', tier)).not.toBe(alertFingerprint('etl', { ...tier, shortWindowMillis: 10 * MINUTE }));
  });
});

describe('planNotifications', () => {
  const cfg = parseConfig('slos:\n  - {name: s, job: j, objective: 0.99, window: 30d, alerting: {tiers: [{severity: page, long: 1h, short: 5m, factor: 14.4}]}}\n');
  const slo = cfg.slos[0];
  if (!slo) throw new Error('no slo');
  const evalAt = (at: number, firing: boolean): SloEvaluation =>
    evaluateFromCounts(slo, at, [
      { windowMillis: HOUR, good: firing ? 0 : 100, total: 100 },
      { windowMillis: 5 * MINUTE, good: firing ? 0 : 10, total: 10 },
    ]);
  let n = 0;
  const opts = (nowMillis: number) => ({ nowMillis, repeatIntervalMillis: 4 * HOUR, newId: () => `id-${++n}` });

  it('sends firing once, repeats only after repeat_interval, then resolves', () => {
    let state: AlertState = { version: 1, firing: {} };
    const step = (at: number, firing: boolean) => {
      const r = planNotifications([evalAt(at, firing)], state, opts(at));
      state = r.state;
      return r.notifications.map((x) => [x.status, x.startsAtMillis, x.endsAtMillis]);
    };
    expect(step(T0, true)).toEqual([['firing', T0, null]]);
    expect(step(T0 + MINUTE, true)).toEqual([]);
    expect(step(T0 + 4 * HOUR - 1, true)).toEqual([]);
    expect(step(T0 + 4 * HOUR, true)).toEqual([['firing', T0, null]]);
    expect(step(T0 + 5 * HOUR, false)).toEqual([['resolved', T0, T0 + 5 * HOUR]]);
    expect(step(T0 + 6 * HOUR, false)).toEqual([]);
    expect(state.firing).toEqual({});
  });

  it('resolves an alert whose SLO was removed from the config', () => {
    const first = planNotifications([evalAt(T0, true)], { version: 1, firing: {} }, opts(T0));
    const after = planNotifications([], first.state, opts(T0 + MINUTE));
    expect(after.notifications.map((x) => [x.status, x.labels['slo']])).toEqual([['resolved', 's']]);
  });
});

describe('runAlertCycle', () => {
  it('pages once, repeats, resolves, and keeps its state across restarts', async () => {
    const store: DuckDbStore = await memoryStore();
    cleanups.push(() => store.close());
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const t = tempDir();
    cleanups.push(t.cleanup);
    // Clean for 2h, 100% failures for 20 minutes, clean again.
    await store.insertSpans([
      ...steadyRuns('etl', T0 - 2 * HOUR, T0, 30_000, 0),
      ...steadyRuns('etl', T0, T0 + 20 * MINUTE, 30_000, 1),
      ...steadyRuns('etl', T0 + 20 * MINUTE, T0 + 6 * HOUR, 30_000, 0),
    ]);
    const config: JobsloConfig = parseConfig(
      `slos:\n  - name: etl-success\n    job: etl\n    objective: 0.99\n    window: 30d\n    alerting:\n      tiers:\n        - {severity: page, long: 1h, short: 5m, budget: 0.02}\nalerts:\n  repeat_interval: 10m\n  webhooks:\n    - {name: oncall, url: "${r.url}/hook", format: alertmanager}\n`,
    );
    const clock = fakeClock(T0);
    const cycle = async (at: number) => {
      clock.set(at);
      // Every cycle is a fresh "process": nothing but the state folder carries over.
      return runAlertCycle({ store, config, backend: new FileAlertBackend({ dir: t.dir }), clock });
    };
    const statuses = () => r.requests.map((q) => (JSON.parse(q.body) as { status: string }).status);

    expect((await cycle(T0 + 5 * MINUTE)).firing).toBe(0);
    const fired = await cycle(T0 + 10 * MINUTE);
    expect(fired.firing).toBe(1);
    expect(statuses()).toEqual(['firing']);
    await cycle(T0 + 11 * MINUTE);
    expect(statuses()).toEqual(['firing']);
    await cycle(T0 + 20 * MINUTE);
    expect(statuses()).toEqual(['firing', 'firing']);
    const keys = r.requests.map((q) => q.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(2);
    expect(Object.keys(readStateFile(statePaths(t.dir).stateFile).state.firing)).toHaveLength(1);
    // Errors stopped at +20m: the 5m window is clean by +25m.
    const resolved = await cycle(T0 + 25 * MINUTE);
    expect(resolved.firing).toBe(0);
    expect(statuses()).toEqual(['firing', 'firing', 'resolved']);
    const body = JSON.parse(r.requests[2]?.body ?? '{}') as { alerts: { startsAt: string; endsAt: string; fingerprint: string }[] };
    expect(body.alerts[0]?.startsAt).toBe(new Date(T0 + 10 * MINUTE).toISOString());
    expect(body.alerts[0]?.endsAt).toBe(new Date(T0 + 25 * MINUTE).toISOString());
    expect(body.alerts[0]?.fingerprint).toBe(alertFingerprint('etl-success', { severity: 'page', longWindowMillis: HOUR, shortWindowMillis: 5 * MINUTE }));
    expect(readStateFile(statePaths(t.dir).stateFile).state.firing).toEqual({});
  });
});
