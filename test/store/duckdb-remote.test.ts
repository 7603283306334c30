/**
 * The read role through the collector's read API: the store conformance
 * suite on a DuckDB store whose every `RunReader` query goes through a real
 * collector (`POST /api/v1/store`) and a `RemoteStore`, as `jobslo analyze`
 * reads a DuckDB file a running collector holds. Writes and maintenance go
 * to the store itself, as they do in the collector's process.
 */
import { describe, expect, it } from 'vitest';
import { StoreSink, startCollector } from '../../collector/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import { REMOTE_READ_METHODS, RemoteStore } from '../../store/index.js';
import type { Store } from '../../store/index.js';
import { defineStoreConformance } from './conformance.js';
import { forgetDuckDbJobRows } from '../support/duckdb-store.js';

const READS = new Set<PropertyKey>(REMOTE_READ_METHODS);

defineStoreConformance('DuckDB read through the collector (RemoteStore)', {
  async open() {
    const store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    const collector = await startCollector({ sink: new StoreSink(store), port: 0, readStore: store });
    const remote = new RemoteStore(collector.url, 'duckdb::memory:');
    // Closing the collector closes its sink, and so the store.
    return new Proxy(store, {
      get(target, prop) {
        if (READS.has(prop)) return (remote[prop as keyof RemoteStore] as (...args: unknown[]) => unknown).bind(remote);
        if (prop === 'close') return () => collector.close();
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    }) as Store;
  },
  // Writes and maintenance go to the store itself (the proxy's target).
  forgetJobRows: (store) => forgetDuckDbJobRows(store as DuckDbStore),
});

describe('RemoteStore', () => {
  it('has the read role only: every reader method, and no write, migrate or retention method to fail', () => {
    const remote = new RemoteStore('http://127.0.0.1:1', 'duckdb:x.duckdb');
    for (const m of REMOTE_READ_METHODS) expect(typeof remote[m], m).toBe('function');
    for (const m of ['insertSpans', 'insertLifecycleEvents', 'migrate', 'dropBefore']) expect(m in remote, m).toBe(false);
  });
});
