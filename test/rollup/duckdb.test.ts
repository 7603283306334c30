import { describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../store/duckdb.js';
import type { RunSummary } from '../../store/index.js';
import { MINUTE_NS } from '../../store/rollup/index.js';
import type { RunFact } from '../../store/rollup/index.js';
import type { DuckDbRollups } from '../../store/rollup/duckdb.js';
import { defineRollupConformance } from './conformance.js';

defineRollupConformance('DuckDB', {
  async open(rollups) {
    const store = await DuckDbStore.open({ path: ':memory:', rollups });
    await store.migrate();
    return store;
  },
  async toFormat1(store) {
    const d = store as DuckDbStore;
    await d.query('ALTER TABLE rollup_minute_runs DROP COLUMN start_ns');
    await d.query('ALTER TABLE rollup_hour DROP COLUMN first_start_ns');
    await d.query(`DELETE FROM rollup_state WHERE key = 'format'`);
  },
});

describe('DuckDB minute buckets as run lists', () => {
  it('keep every column a run list shows, an outcome outside the known ones included', async () => {
    const store = await DuckDbStore.open({ path: ':memory:', rollups: true });
    try {
      await store.migrate();
      const rollups = (store as unknown as { rollups: DuckDbRollups }).rollups;
      const endNs = BigInt(Date.UTC(2026, 10, 20, 10, 0, 30)) * 1_000_000n;
      const run = (runId: string, outcome: string, latencyNs: bigint): RunFact => ({
        job: 'j', runId, runEndNs: endNs, startNs: endNs - latencyNs, outcome, latencyNs, attempts: 2, ran: true,
        deadLettered: outcome !== 'succeeded', errorType: 'E', traceId: `t-${runId}`, spanId: `s-${runId}`, exitCode: 3, message: `m-${runId}`,
      });
      await rollups.writeBuckets([{ job: 'j', minuteNs: (endNs / MINUTE_NS) * MINUTE_NS, runs: [run('r1', 'weird', 5_000_000n), run('r2', 'failed', 9_000_000n)] }], []);
      const range = { jobs: 'j', fromMillis: Date.UTC(2026, 10, 20, 9), toMillis: Date.UTC(2026, 10, 20, 11) };
      const expected = (runId: string, outcome: string, latencyMillis: number): RunSummary => ({
        job: 'j', runId, traceId: `t-${runId}`, spanId: `s-${runId}`, outcome, startMillis: Number(endNs / 1_000_000n) - latencyMillis, endMillis: Number(endNs / 1_000_000n),
        latencyMillis, attempts: 2, errorType: 'E', exitCode: 3, message: `m-${runId}`, deadLettered: true,
      });
      expect(await store.listRuns({ ...range, order: 'slowest' })).toEqual([expected('r2', 'failed', 9), expected('r1', 'weird', 5)]);
      expect(await store.listRunsByJob({ ...range, filter: 'failed', limitPerJob: 5 })).toEqual([expected('r2', 'failed', 9)]);
    } finally {
      await store.close();
    }
  });

  it('keep the first runs per job in the raw order through ties at the limit, and every run of a job with fewer', async () => {
    const store = await DuckDbStore.open({ path: ':memory:', rollups: true });
    try {
      await store.migrate();
      const rollups = (store as unknown as { rollups: DuckDbRollups }).rollups;
      const minuteNs = (BigInt(Date.UTC(2026, 10, 20, 10)) * 1_000_000n / MINUTE_NS) * MINUTE_NS;
      // [run id, end offset s, latency ms]
      const spec: [string, number, number][] = [['r1', 5, 5], ['r5', 1, 9], ['r3', 1, 9], ['r4', 1, 9], ['r2', 7, 3], ['r0', 7, 0], ['r6', 2, 9]];
      const runs = spec.map(([runId, endS, latency]): RunFact => {
        const runEndNs = minuteNs + BigInt(endS) * 1_000_000_000n;
        const latencyNs = BigInt(latency) * 1_000_000n;
        return { job: 'j', runId, runEndNs, startNs: runEndNs - latencyNs, outcome: 'succeeded', latencyNs, attempts: 1, ran: latency > 0 };
      });
      await rollups.writeBuckets([{ job: 'j', minuteNs, runs }], []);
      const range = { jobs: '*', fromMillis: Date.UTC(2026, 10, 20, 9), toMillis: Date.UTC(2026, 10, 20, 11) };
      const ids = async (order: 'slowest' | 'latest', limitPerJob: number): Promise<string[]> => (await store.listRunsByJob({ ...range, order, limitPerJob })).map((r) => r.runId);
      // Slowest: latency, then end (latest first), then run id.
      expect(await ids('slowest', 2)).toEqual(['r6', 'r3']);
      expect(await ids('slowest', 4)).toEqual(['r6', 'r3', 'r4', 'r5']);
      expect(await ids('slowest', 7)).toEqual(['r6', 'r3', 'r4', 'r5', 'r1', 'r2', 'r0']);
      expect(await ids('slowest', 50)).toEqual(['r6', 'r3', 'r4', 'r5', 'r1', 'r2', 'r0']);
      // Latest: end, then run id.
      expect(await ids('latest', 1)).toEqual(['r0']);
      expect(await ids('latest', 5)).toEqual(['r0', 'r2', 'r1', 'r6', 'r3']);
    } finally {
      await store.close();
    }
  });
});
