/** `monitors:` in jobslo.yaml, freshness `start:`, and freshness accounting from the first run seen. */
import { describe, expect, it } from 'vitest';
import { evaluateSlo, parseConfig } from '../../analyzer/slo/index.js';
import { ConfigError } from '../../contracts/index.js';
import { DAY, HOUR, MINUTE, memoryStore, run } from '../slo/helpers.js';

const fails = (text: string): string => {
  try {
    parseConfig(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('parsed');
};

describe('monitors in jobslo.yaml', () => {
  it('reads cron and period monitors with their defaults', () => {
    const c = parseConfig(
      'monitors:\n  - {job: billing, cron: "0 2 * * *", timezone: Europe/Berlin, grace: 1h, max_runtime: 2h, start: "2026-01-15T00:00:00Z"}\n  - {name: sync-check, job: "sync-*", period: 15m}\n',
    );
    expect(c.monitors).toEqual([
      { name: 'billing', job: 'billing', schedule: { kind: 'cron', cron: '0 2 * * *', timezone: 'Europe/Berlin' }, graceMillis: HOUR, maxRuntimeMillis: 2 * HOUR, startMillis: Date.UTC(2026, 0, 15), paused: false, source: 'monitor' },
      { name: 'sync-check', job: 'sync-*', schedule: { kind: 'period', periodMillis: 15 * MINUTE }, graceMillis: 30 * MINUTE, paused: false, source: 'monitor' },
    ]);
  });

  it.each([
    ['monitors:\n  - {job: a}\n', 'monitors[0]: needs exactly one of cron', '2:5'],
    ['monitors:\n  - {job: a, cron: "0 0 31 2 *"}\n', 'monitors[0].cron: "0 0 31 2 *" never fires', '2:20'],
    ['monitors:\n  - {job: a, cron: "0 2 * *"}\n', 'monitors[0].cron: "0 2 * *" has 4 fields; use 5 fields', '2:20'],
    ['monitors:\n  - {job: a, period: 1h, timezone: UTC}\n', 'monitors[0].timezone: only applies with cron', '2:36'],
    ['monitors:\n  - {job: a, cron: "0 2 * * *", gracee: 1h}\n', 'monitors[0].gracee: unknown field; expected one of name, job, where, cron, timezone, period, grace, max_runtime, start, paused', '2:41'],
    ['monitors:\n  - {job: a, cron: "0 2 * * *", start: yesterday}\n', 'monitors[0].start: must be an ISO-8601 date', '2:40'],
    ['monitors:\n  - {job: a, period: 1h}\n  - {job: a, period: 2h}\n', 'monitors[1].name: "a" is used by another monitor', ''],
  ])('rejects %j with the field path and position', (text, message, where) => {
    const msg = fails(text);
    expect(msg).toContain(message);
    if (where !== '') expect(msg).toContain(`jobslo.yaml:${where}`);
  });

  it('an explicit monitor for the job of a freshness SLO replaces the implied one', () => {
    const c = parseConfig('slos:\n  - {name: f, job: etl, sli: freshness, objective: 0.9, freshness: {cron: "0 2 * * *"}}\nmonitors:\n  - {name: etl-check, job: etl, cron: "0 2 * * *", grace: 2h}\n');
    expect(c.monitors.map((m) => [m.name, m.source, m.graceMillis])).toEqual([['etl-check', 'monitor', 2 * HOUR]]);
  });

  it('freshness start: and a never-firing freshness cron', () => {
    const c = parseConfig('slos:\n  - {name: f, job: etl, sli: freshness, objective: 0.9, freshness: {cron: "0 2 * * *", start: 2026-03-01}}\n');
    expect(c.slos[0]?.freshness?.startMillis).toBe(Date.UTC(2026, 2, 1));
    expect(c.monitors[0]?.startMillis).toBe(Date.UTC(2026, 2, 1));
    expect(fails('slos:\n  - {name: f, job: etl, sli: freshness, objective: 0.9, freshness: {cron: "0 0 31 2 *"}}\n')).toContain('never fires');
  });
});

describe('freshness accounting starts when monitoring starts', () => {
  const at = Date.UTC(2026, 2, 31, 12);
  const config = (extra = ''): string => `slos:\n  - {name: f, job: etl, sli: freshness, objective: 0.9, window: 30d, alerting: {tiers: []}, freshness: {cron: "0 2 * * *", grace: 30m${extra}}}\n`;

  it('a job first seen three days ago counts only the ticks since', async () => {
    const store = await memoryStore();
    try {
      for (let d = 3; d >= 1; d--) await store.insertSpans(run('etl', Date.UTC(2026, 2, 31 - d, 2, 5), true));
      const e = await evaluateSlo(store, parseConfig(config()).slos[0]!, at);
      expect([e.good, e.total]).toEqual([3, 4]);
    } finally {
      await store.close();
    }
  });

  it('a job never seen has no ticks counted (no data, not 0%)', async () => {
    const store = await memoryStore();
    try {
      const e = await evaluateSlo(store, parseConfig(config()).slos[0]!, at);
      expect([e.good, e.total, e.sli]).toEqual([0, 0, null]);
    } finally {
      await store.close();
    }
  });

  it('an explicit start counts every tick after it, run or not', async () => {
    const store = await memoryStore();
    try {
      const e = await evaluateSlo(store, parseConfig(config(', start: "2026-03-21T00:00:00Z"')).slos[0]!, at);
      expect([e.good, e.total]).toEqual([0, 11]);
    } finally {
      await store.close();
    }
  });

  it('a job that ran before the window counts the whole window', async () => {
    const store = await memoryStore();
    try {
      await store.insertSpans(run('etl', at - 40 * DAY, true));
      const e = await evaluateSlo(store, parseConfig(config()).slos[0]!, at);
      expect(e.total).toBe(30);
    } finally {
      await store.close();
    }
  });
});
