import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../store/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { runSpans } from '../support/spans.js';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };

let store: DuckDbStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function fresh(): Promise<DuckDbStore> {
  store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  return store;
}

const flaky = (startMillis: number): SpanRecord[] =>
  runSpans({
    job: 'flaky',
    startMillis,
    outcome: 'succeeded',
    attempts: [
      { startOffsetMillis: 0, durationMillis: 100, outcome: 'failed', exitCode: 1 },
      { startOffsetMillis: 200, durationMillis: 100, outcome: 'failed', exitCode: 1 },
      { startOffsetMillis: 400, durationMillis: 100, outcome: 'succeeded', exitCode: 0 },
    ],
  });

describe('span-to-run derivation (DuckDB)', () => {
  it('counts a run with retries once, with attempts - 1 retries and first-start-to-last-end latency', async () => {
    const s = await fresh();
    await s.insertSpans(flaky(T0));
    const [agg] = await s.jobAggregates(RANGE);
    expect(agg).toMatchObject({ job: 'flaky', runs: 1, succeeded: 1, failed: 0, retries: 2 });
    expect(agg?.latencyP50Millis).toBe(500);
  });

  it('gives the same runs when spans arrive out of order', async () => {
    const s = await fresh();
    const spans = flaky(T0).reverse();
    await s.insertSpans(spans);
    const [agg] = await s.jobAggregates(RANGE);
    expect(agg).toMatchObject({ runs: 1, succeeded: 1, retries: 2, latencyP50Millis: 500 });
  });

  it('joins a run whose attempts arrive in separate requests', async () => {
    const s = await fresh();
    const spans = flaky(T0);
    for (const span of spans) await s.insertSpans([span]);
    const [agg] = await s.jobAggregates(RANGE);
    expect(agg).toMatchObject({ runs: 1, succeeded: 1, retries: 2, latencyP50Millis: 500 });
  });

  it('does not change any SLI when the same spans are delivered twice', async () => {
    const s = await fresh();
    const spans = [...flaky(T0), ...runSpans({ job: 'flaky', startMillis: T0 + 1000, outcome: 'failed', attempts: [{ startOffsetMillis: 0, durationMillis: 50, outcome: 'failed', exitCode: 2 }] })];
    await s.insertSpans(spans);
    const once = await s.jobAggregates(RANGE);
    await s.insertSpans(spans);
    await s.insertSpans(spans.slice(1, 3));
    expect(await s.jobAggregates(RANGE)).toEqual(once);
    expect(once[0]).toMatchObject({ runs: 2, succeeded: 1, failed: 1, retries: 2 });
  });

  it('does not count a run until its run span (the final outcome) has arrived', async () => {
    const s = await fresh();
    const spans = flaky(T0);
    await s.insertSpans(spans.slice(1));
    expect(await s.jobAggregates(RANGE)).toEqual([]);
    await s.insertSpans(spans.slice(0, 1));
    expect((await s.jobAggregates(RANGE))[0]?.runs).toBe(1);
  });

  it('excludes cancelled and skipped runs from the success rate but counts them', async () => {
    const s = await fresh();
    await s.insertSpans([
      ...runSpans({ job: 'j', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] }),
      ...runSpans({ job: 'j', startMillis: T0, outcome: 'timed_out', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'timed_out' }], deadLettered: true }),
      ...runSpans({ job: 'j', startMillis: T0, outcome: 'cancelled', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'failed' }] }),
      ...runSpans({ job: 'j', startMillis: T0, outcome: 'skipped', attempts: [] }),
    ]);
    const [agg] = await s.jobAggregates(RANGE);
    expect(agg).toMatchObject({ runs: 2, succeeded: 1, failed: 1, timedOut: 1, cancelled: 1, skipped: 1, deadLettered: 1 });
  });

  it('counts a run in the range its final outcome falls in', async () => {
    const s = await fresh();
    await s.insertSpans(runSpans({ job: 'edge', startMillis: RANGE.toMillis - 50, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 100, outcome: 'succeeded' }] }));
    expect(await s.jobAggregates(RANGE)).toEqual([]);
    expect(await s.jobAggregates({ fromMillis: RANGE.toMillis, toMillis: RANGE.toMillis + 1000 })).toHaveLength(1);
  });

  it('stores hostile job names as data', async () => {
    const s = await fresh();
    const name = "x'); DROP TABLE spans; --\u0000\u00e9";
    await s.insertSpans(runSpans({ job: name, startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 1, outcome: 'succeeded' }] }));
    expect((await s.jobAggregates(RANGE)).map((a) => a.job)).toEqual([name]);
  });
});
