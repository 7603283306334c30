/** The monitor state machine over run facts, driven by an explicit clock (no store, no sleeps). */
import { describe, expect, it } from 'vitest';
import { slackPayload } from '../../analyzer/alerts/index.js';
import { planMonitorNotifications, stepMonitor } from '../../analyzer/monitors/index.js';
import type { FinishedRunFact, MonitorDefinition, MonitorEvaluation, MonitorRecord, MonitorState, OpenRunFact } from '../../analyzer/monitors/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const daily: MonitorDefinition = { name: 'billing', job: 'billing', schedule: { kind: 'cron', cron: '0 2 * * *', timezone: 'UTC' }, graceMillis: 30 * MINUTE, paused: false, source: 'monitor' };
const D1 = Date.UTC(2026, 2, 10, 2); // a 02:00 tick

/** Drives one monitor through evaluations with a growing list of run facts. */
function driver(m: MonitorDefinition) {
  const finished: FinishedRunFact[] = [];
  const open: OpenRunFact[] = [];
  let prev: MonitorRecord | undefined;
  let state: MonitorState = { version: 1, monitors: {} };
  const sent: string[] = [];
  let n = 0;
  return {
    sent,
    run(startMillis: number, durationMillis: number, outcome = 'succeeded') {
      finished.push({ runId: `r${finished.length}`, startMillis, endMillis: startMillis + durationMillis, outcome });
    },
    start(runId: string, startMillis: number) {
      open.push({ runId, startMillis });
    },
    finish(runId: string, endMillis: number, outcome = 'succeeded') {
      const i = open.findIndex((o) => o.runId === runId);
      const [o] = open.splice(i, 1);
      if (o) finished.push({ runId, startMillis: o.startMillis, endMillis, outcome });
    },
    at(t: number): MonitorEvaluation {
      const e = stepMonitor(m, prev, { fromMillis: t - 35 * DAY, finished: finished.filter((f) => f.endMillis <= t), open: open.filter((o) => o.startMillis <= t) }, t);
      const plan = planMonitorNotifications([e], state, { nowMillis: t, newId: () => `n${++n}` });
      state = plan.state;
      prev = state.monitors[m.name];
      for (const x of plan.notifications) sent.push(`${x.labels['alertname']} ${x.status}`);
      return e;
    },
  };
}

describe('a daily 02:00 job with a 30m grace', () => {
  it('is up after a success, late at 02:00, down at 02:30, stays down for days, recovers on the next success', () => {
    const d = driver(daily);
    d.run(D1 + 60_000, 5 * MINUTE);
    expect(d.at(D1 + 10 * MINUTE).status).toBe('up');
    const tick = D1 + DAY;
    expect(d.at(tick - 1).status).toBe('up');
    const late = d.at(tick);
    expect(late.status).toBe('late');
    expect(late.lateDeadlineMillis).toBe(tick + 30 * MINUTE);
    expect(d.at(tick + 30 * MINUTE - 1).status).toBe('late');
    const down = d.at(tick + 30 * MINUTE);
    expect(down.status).toBe('down');
    expect(down.downSinceMillis).toBe(tick + 30 * MINUTE);
    expect(down.missedInARow).toBe(1);
    for (let t = tick + HOUR; t < tick + 4 * DAY; t += 3 * HOUR) {
      const e = d.at(t);
      expect(e.status, new Date(t).toISOString()).toBe('down');
      expect(e.downSinceMillis).toBe(tick + 30 * MINUTE);
    }
    expect(d.at(tick + 4 * DAY).missedInARow).toBe(4);
    // A failed run does not bring it back; an on-time success does.
    d.run(tick + 4 * DAY + MINUTE, MINUTE, 'failed');
    expect(d.at(tick + 4 * DAY + 10 * MINUTE).status).toBe('down');
    d.run(tick + 4 * DAY + 15 * MINUTE, MINUTE, 'succeeded');
    const up = d.at(tick + 4 * DAY + 20 * MINUTE);
    expect(up.status).toBe('up');
    expect(up.missedInARow).toBe(0);
    expect(up.lastSuccessEndMillis).toBe(tick + 4 * DAY + 16 * MINUTE);
    expect(d.sent).toEqual(['JobsloJobDown firing', 'JobsloJobDown resolved']);
  });

  it('goes down at the end of the first failed run and stays down through later on-time failures', () => {
    const d = driver(daily);
    d.run(D1, MINUTE);
    d.run(D1 + DAY, 2 * MINUTE, 'failed');
    expect(d.at(D1 + DAY + MINUTE).status).toBe('late');
    const e = d.at(D1 + DAY + 2 * MINUTE);
    expect(e.status).toBe('down');
    expect(e.downSinceMillis).toBe(D1 + DAY + 2 * MINUTE);
    expect(e.missedInARow).toBe(0);
    d.run(D1 + 2 * DAY, MINUTE, 'timed_out');
    expect(d.at(D1 + 2 * DAY + HOUR).downSinceMillis).toBe(D1 + DAY + 2 * MINUTE);
    expect(d.sent).toEqual(['JobsloJobDown firing']);
  });

  it('stays down across a DST change in its time zone and recovers at the next 02:00 run', () => {
    const berlin: MonitorDefinition = { ...daily, schedule: { kind: 'cron', cron: '0 2 * * *', timezone: 'Europe/Berlin' } };
    const d = driver(berlin);
    const oct23 = Date.UTC(2026, 9, 23, 0); // 02:00 CEST
    d.run(oct23, MINUTE);
    expect(d.at(oct23 + HOUR).status).toBe('up');
    const oct24 = oct23 + DAY;
    expect(d.at(oct24).status).toBe('late');
    expect(d.at(oct24 + 30 * MINUTE).status).toBe('down');
    // Clocks go back on Oct 25; 02:00 CET on Oct 27 is 01:00 UTC.
    for (let t = oct24 + HOUR; t < Date.UTC(2026, 9, 27, 1); t += HOUR) expect(d.at(t).status, new Date(t).toISOString()).toBe('down');
    const oct27 = Date.UTC(2026, 9, 27, 1);
    expect(d.at(oct27).nextExpectedMillis).toBe(oct27);
    d.run(oct27 + MINUTE, MINUTE);
    expect(d.at(oct27 + 5 * MINUTE).status).toBe('up');
    expect(d.sent).toEqual(['JobsloJobDown firing', 'JobsloJobDown resolved']);
  });
});

describe('new monitors', () => {
  it('a monitor for a job that first runs tomorrow is new until then and never pages', () => {
    const d = driver(daily);
    const today = D1 - 12 * HOUR;
    for (let t = today; t < D1 + DAY; t += HOUR) {
      const e = d.at(t);
      expect(e.status, new Date(t).toISOString()).toBe('new');
    }
    expect(d.at(D1).nextExpectedMillis).toBe(D1);
    expect(d.at(D1 + 1).nextExpectedMillis).toBe(D1 + DAY);
    d.run(D1 + DAY + MINUTE, MINUTE);
    expect(d.at(D1 + DAY + 5 * MINUTE).status).toBe('up');
    expect(d.sent).toEqual([]);
  });

  it('with start: the ticks after it count even without a run', () => {
    const d = driver({ ...daily, startMillis: D1 - HOUR });
    expect(d.at(D1 - MINUTE).status).toBe('up');
    expect(d.at(D1).status).toBe('late');
    expect(d.at(D1 + 30 * MINUTE).status).toBe('down');
    expect(d.sent).toEqual(['JobsloJobDown firing']);
  });

  it('a paused monitor never pages', () => {
    const d = driver({ ...daily, paused: true });
    d.run(D1, MINUTE);
    for (let t = D1; t < D1 + 3 * DAY; t += HOUR) expect(d.at(t).status).toBe('paused');
    expect(d.sent).toEqual([]);
  });
});

describe('running too long', () => {
  it('a run that started and has not finished after max_runtime notifies once, and resolves when it ends', () => {
    const d = driver({ ...daily, maxRuntimeMillis: HOUR });
    d.run(D1, MINUTE);
    d.start('long', D1 + DAY);
    expect(d.at(D1 + DAY + 31 * MINUTE).status).toBe('up');
    expect(d.at(D1 + DAY + HOUR).status).toBe('up');
    const e = d.at(D1 + DAY + HOUR + 1);
    expect(e.status).toBe('running_too_long');
    expect(e.overdueStartsMillis).toEqual([D1 + DAY]);
    expect(d.at(D1 + DAY + 2 * HOUR).status).toBe('running_too_long');
    d.finish('long', D1 + DAY + 3 * HOUR);
    expect(d.at(D1 + DAY + 3 * HOUR + MINUTE).status).toBe('up');
    expect(d.sent).toEqual(['JobsloJobRunningTooLong firing', 'JobsloJobRunningTooLong resolved']);
  });

  it('an open run satisfies its tick: a long run is not a missed one', () => {
    const d = driver(daily);
    d.run(D1, MINUTE);
    d.start('slow', D1 + DAY + MINUTE);
    expect(d.at(D1 + DAY + 5 * HOUR).status).toBe('up');
    expect(d.sent).toEqual([]);
  });
});

describe('period monitors', () => {
  const hourly: MonitorDefinition = { name: 'sync', job: 'sync', schedule: { kind: 'period', periodMillis: HOUR }, graceMillis: 10 * MINUTE, paused: false, source: 'monitor' };
  it('are late one period after the last start and down after the grace', () => {
    const d = driver(hourly);
    d.run(D1, MINUTE);
    expect(d.at(D1 + 30 * MINUTE).status).toBe('up');
    expect(d.at(D1 + 30 * MINUTE).nextExpectedMillis).toBe(D1 + HOUR);
    expect(d.at(D1 + HOUR).status).toBe('late');
    expect(d.at(D1 + HOUR + 10 * MINUTE).status).toBe('down');
    expect(d.at(D1 + 3 * HOUR + 10 * MINUTE).missedInARow).toBe(3);
    d.run(D1 + 4 * HOUR, MINUTE);
    expect(d.at(D1 + 4 * HOUR + 2 * MINUTE).status).toBe('up');
    expect(d.sent).toEqual(['JobsloJobDown firing', 'JobsloJobDown resolved']);
  });
});

describe('notification bodies', () => {
  it('a Slack message of a monitor has its summary, state, schedule and last success, not an SLO budget', () => {
    const e = stepMonitor(daily, undefined, { fromMillis: 0, finished: [{ runId: 'r', startMillis: D1, endMillis: D1 + MINUTE, outcome: 'failed' }], open: [] }, D1 + HOUR);
    const { notifications } = planMonitorNotifications([e], { version: 1, monitors: {} }, { nowMillis: D1 + HOUR, newId: () => 'id' });
    const n = notifications[0];
    if (!n) throw new Error('no notification');
    const body = slackPayload(n, { receiver: 'ops', externalUrl: '' }) as { text: string; blocks: { fields?: { text: string }[] }[] };
    expect(body.text).toBe(':rotating_light: FIRING [page] Job billing is down: its last run failed (monitor billing)');
    expect(body.blocks[1]?.fields?.map((f) => f.text)).toEqual([
      '*Job:* billing',
      '*State:* down',
      '*Schedule:* cron "0 2 * * *" UTC, grace 30m',
      '*Last success:* never',
      `*Since:* ${new Date(D1 + MINUTE).toISOString()}`,
      '*Missed in a row:* 0',
    ]);
  });
});
