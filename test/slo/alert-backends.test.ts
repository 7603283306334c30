/**
 * The alert state and outbox contract, written once and run on the file
 * backend and on the ClickHouse backend (a real 18.16 server): compare-and-swap
 * on the state version, lease-based claims with fencing, dead letters and requeue.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseAlertBackend, FileAlertBackend, emptyAlertState } from '../../analyzer/alerts/index.js';
import type { AlertBackend, AlertState, OutboxEntry } from '../../analyzer/alerts/index.js';
import { chdbVersions, startChdbShim } from '../support/clickhouse-suite.js';
import type { ChdbShim } from '../support/clickhouse-suite.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';
import { tempDir } from './helpers.js';

const T0 = Date.UTC(2026, 9, 1, 8);
const clickhouseUp = await requireService('ClickHouse', () => probeClickHouse(), 'alert backends on ClickHouse');

let cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function entry(key: string, webhook = 'hook', createdAtMillis = T0): OutboxEntry {
  return { version: 1, idempotencyKey: key, webhook, body: JSON.stringify({ key, text: "it's \\ \"quoted\"\n\ttabbed" }), createdAtMillis, attempts: 0, notBeforeMillis: 0 };
}

function stateWith(fp: string, at: number): AlertState {
  return { version: 1, firing: { [fp]: { labels: { slo: 's' }, annotations: {}, startsAtMillis: at, lastSentMillis: at } } };
}

function contract(name: string, open: () => AlertBackend | Promise<AlertBackend>): void {
  describe(name, () => {
    const fresh = async (): Promise<AlertBackend> => {
      const b = await open();
      cleanups.push(() => b.close());
      return b;
    };

    it('starts empty at version 0', async () => {
      const b = await fresh();
      expect(await b.state.load()).toEqual({ version: 0, state: emptyAlertState() });
      expect(await b.outbox.size()).toBe(0);
    });

    it('compare-and-swap: one of two writers from the same version wins, and only its entries are queued', async () => {
      const b = await fresh();
      const [x, y] = await Promise.all([
        b.state.compareAndSwap(0, stateWith('a', T0), [entry('from-x')]),
        b.state.compareAndSwap(0, stateWith('b', T0), [entry('from-y')]),
      ]);
      expect([x.ok, y.ok].filter(Boolean)).toHaveLength(1);
      const loaded = await b.state.load();
      expect(loaded.version).toBe(1);
      expect(Object.keys(loaded.state.firing)).toEqual([x.ok ? 'a' : 'b']);
      const claimed = await b.outbox.claim('me', T0, 60_000, 10);
      expect(claimed.map((c) => c.entry.idempotencyKey)).toEqual([x.ok ? 'from-x' : 'from-y']);
      expect(claimed[0]?.entry.body).toBe(entry('k').body.replace('"k"', `"${x.ok ? 'from-x' : 'from-y'}"`));
      // A stale writer is refused.
      expect((await b.state.compareAndSwap(0, stateWith('c', T0), [entry('stale')])).ok).toBe(false);
      expect((await b.state.compareAndSwap(1, stateWith('c', T0), [])).ok).toBe(true);
      expect((await b.state.load()).version).toBe(2);
    });

    it('monitor state: compare-and-swap beside the alert state; of two writers of the same notification only the winner\'s entry is sent', async () => {
      const b = await fresh();
      expect(await b.monitorState.load()).toEqual({ version: 0, value: undefined });
      await b.state.compareAndSwap(0, stateWith('a', T0), [entry('slo-alert')]);
      const same = (writer: string): OutboxEntry => ({ ...entry('monitor-down'), body: JSON.stringify({ writer }) });
      const [x, y] = await Promise.all([
        b.monitorState.compareAndSwap(0, { version: 1, monitors: { m: 'x' } }, [same('x')]),
        b.monitorState.compareAndSwap(0, { version: 1, monitors: { m: 'y' } }, [same('y')]),
      ]);
      expect([x.ok, y.ok].filter(Boolean)).toHaveLength(1);
      const winner = x.ok ? 'x' : 'y';
      expect(await b.monitorState.load()).toEqual({ version: 1, value: { version: 1, monitors: { m: winner } } });
      // The alert state keeps its own version.
      expect((await b.state.load()).version).toBe(1);
      expect((await b.monitorState.compareAndSwap(0, { version: 1, monitors: {} }, [entry('stale')])).ok).toBe(false);
      const claimed = await b.outbox.claim('me', T0, 60_000, 10);
      // Same creation time: the order between the two is the backend's.
      expect(claimed.map((c) => [c.entry.idempotencyKey, c.entry.idempotencyKey === 'monitor-down' ? c.entry.body : '']).sort()).toEqual([
        ['monitor-down', JSON.stringify({ writer: winner })],
        ['slo-alert', ''],
      ]);
    });

    it('claims are exclusive while the lease lasts, taken over after it, and the old claimant is fenced', async () => {
      const b = await fresh();
      await b.state.compareAndSwap(0, stateWith('a', T0), [entry('k1'), entry('k2'), entry('other', 'hook2')]);
      const first = await b.outbox.claim('replica-1', T0, 10_000, 10);
      expect(first.map((c) => c.entry.idempotencyKey)).toEqual(['k1', 'k2', 'other']);
      expect(await b.outbox.claim('replica-2', T0 + 5_000, 10_000, 10)).toEqual([]);
      // replica-1 dies; its lease runs out.
      const second = await b.outbox.claim('replica-2', T0 + 10_001, 10_000, 10);
      expect(second.map((c) => c.entry.idempotencyKey)).toEqual(['k1', 'k2', 'other']);
      const [a1] = first;
      const [b1, b2, b3] = second;
      if (!a1 || !b1 || !b2 || !b3) throw new Error('claims missing');
      // Fenced: the old claimant's result is refused.
      expect(await b.outbox.settle(a1, { kind: 'delivered' }, T0 + 10_002)).toBe(false);
      expect(await b.outbox.settle(b1, { kind: 'delivered' }, T0 + 10_002)).toBe(true);
      expect(await b.outbox.settle(b2, { kind: 'retry', attempts: 1, notBeforeMillis: T0 + 60_000, lastError: 'HTTP 503' }, T0 + 10_002)).toBe(true);
      expect(await b.outbox.settle(b3, { kind: 'release' }, T0 + 10_002)).toBe(true);
      expect(await b.outbox.size()).toBe(2);
      // k2 waits for its backoff; `other` (another webhook) is free at once.
      const third = await b.outbox.claim('replica-2', T0 + 20_000, 10_000, 10);
      expect(third.map((c) => c.entry.idempotencyKey)).toEqual(['other']);
      expect(await b.outbox.settle(third[0] as (typeof third)[number], { kind: 'delivered' }, T0 + 20_001)).toBe(true);
      const later = await b.outbox.claim('replica-3', T0 + 60_000, 10_000, 10);
      expect(later.map((c) => [c.entry.idempotencyKey, c.entry.attempts, c.entry.lastError])).toEqual([['k2', 1, 'HTTP 503']]);
    });

    it('a webhook keeps its order: an entry waiting for backoff holds back the later ones', async () => {
      const b = await fresh();
      await b.state.compareAndSwap(0, emptyAlertState(), [entry('k1', 'hook', T0), entry('k2', 'hook', T0 + 1)]);
      const [c1] = await b.outbox.claim('r', T0, 10_000, 1);
      if (!c1) throw new Error('no claim');
      await b.outbox.settle(c1, { kind: 'retry', attempts: 1, notBeforeMillis: T0 + 5_000, lastError: 'down' }, T0);
      expect(await b.outbox.claim('r', T0 + 1_000, 10_000, 10)).toEqual([]);
      expect((await b.outbox.claim('r', T0 + 5_000, 10_000, 10)).map((c) => c.entry.idempotencyKey)).toEqual(['k1', 'k2']);
    });

    it('dead letters are listed with their reason and requeued with fresh attempts', async () => {
      const b = await fresh();
      await b.state.compareAndSwap(0, emptyAlertState(), [entry('k1'), entry('k2')]);
      const claimed = await b.outbox.claim('r', T0, 10_000, 10);
      for (const c of claimed) expect(await b.outbox.settle(c, { kind: 'dead', attempts: 1, reason: 'HTTP 400' }, T0 + 1)).toBe(true);
      expect(await b.outbox.size()).toBe(0);
      const dead = await b.outbox.deadLetters();
      expect(dead.map((d) => [d.entry.idempotencyKey, d.reason, d.entry.attempts, d.deadAtMillis])).toEqual([
        ['k1', 'HTTP 400', 1, T0 + 1],
        ['k2', 'HTTP 400', 1, T0 + 1],
      ]);
      expect(await b.outbox.requeue([dead[1]?.id ?? ''], T0 + 2)).toBe(1);
      expect((await b.outbox.deadLetters()).map((d) => d.entry.idempotencyKey)).toEqual(['k1']);
      const again = await b.outbox.claim('r', T0 + 3, 10_000, 10);
      expect(again.map((c) => [c.entry.idempotencyKey, c.entry.attempts])).toEqual([['k2', 0]]);
      expect(await b.outbox.requeue('all', T0 + 4)).toBe(1);
      expect(await b.outbox.size()).toBe(2);
    });
  });
}

contract('file backend', () => {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return new FileAlertBackend({ dir: t.dir });
});

describe.skipIf(!clickhouseUp)('ClickHouse', () => {
  contract('ClickHouse backend (18.16)', async () => {
    const database = `jobslo_test_alerts_${randomUUID().replaceAll('-', '')}`;
    cleanups.push(() => clickhouseExec(`DROP DATABASE IF EXISTS ${database}`));
    const b = new ClickHouseAlertBackend({ url: clickhouseUrl(), database });
    await b.migrate();
    return b;
  });
});

const versions = chdbVersions();
const chdbUp = await requireService(
  'chDB',
  () => ('error' in versions ? Promise.reject(new Error(versions.error)) : Promise.resolve()),
  'alert backends on a current ClickHouse release via chDB',
  'install it with "bash scripts/install-chdb.sh"',
);

describe.skipIf(!chdbUp)('ClickHouse, current release (chDB)', () => {
  let shim: ChdbShim | undefined;
  beforeAll(async () => {
    shim = await startChdbShim();
  });
  afterAll(async () => {
    await shim?.stop();
  });
  contract('ClickHouse backend (current release)', async () => {
    if (!shim) throw new Error('the chDB shim did not start (see beforeAll)');
    const url = shim.url;
    const database = `jobslo_test_alerts_${randomUUID().replaceAll('-', '')}`;
    cleanups.push(() => clickhouseExec(`DROP DATABASE IF EXISTS ${database}`, url));
    const b = new ClickHouseAlertBackend({ url, database });
    await b.migrate();
    return b;
  });
});
