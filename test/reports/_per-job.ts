import type { Store } from '../../store/index.js';

const BATCH = new Set<PropertyKey>(['timeSeriesByJob', 'listRunsByJob', 'runDistributions']);

/** The store as one without the optional per-job batch queries (like ClickHouse or the remote store today). */
export function perJobOnly(store: Store): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (BATCH.has(prop)) return undefined;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}
