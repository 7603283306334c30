/**
 * A small Prometheus metrics registry for jobslo's own health (counters,
 * gauges, histograms), rendered in the text exposition format 0.0.4 with the
 * same escaping as `jobslo serve`'s SLO metrics. Several processes (the
 * collector's workers) can merge their values: {@link MetricsRegistry.snapshot}
 * gives plain data, {@link MetricsRegistry.render} adds other snapshots in.
 */
import { PROMETHEUS_CONTENT_TYPE, escapeLabelValue, formatSampleValue } from '../analyzer/slo/index.js';

export { PROMETHEUS_CONTENT_TYPE };

/** Latency buckets in seconds, 0.5 ms to 10 s. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Type = 'counter' | 'gauge' | 'histogram';
type Labels<L extends string> = Record<L, string>;

interface HistogramValue {
  /** Per-bucket (non-cumulative) counts; the last is the +Inf overflow. */
  counts: number[];
  sum: number;
  count: number;
}

/** Values of one registry as plain data (JSON-safe), keyed by metric name, then by the JSON array of label values. */
export type MetricsSnapshot = Record<string, Record<string, number | HistogramValue>>;

// Prometheus reserves `job` and `instance` for the scrape target; a series carrying them gets relabelled `exported_job`.
const RESERVED_LABELS = new Set(['job', 'instance', 'le', 'quantile']);

abstract class Metric<L extends string> {
  protected readonly values = new Map<string, number | HistogramValue>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: Type,
    readonly labelNames: readonly L[],
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`bad metric name ${name}`);
    for (const l of labelNames) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l) || l.startsWith('__') || RESERVED_LABELS.has(l)) throw new TypeError(`bad label name ${l} on ${name}`);
    }
  }

  protected key(labels: Labels<L> | undefined): string {
    if (this.labelNames.length === 0) return '[]';
    return JSON.stringify(this.labelNames.map((l) => labels?.[l] ?? ''));
  }

  /** @internal */
  entries(): IterableIterator<[string, number | HistogramValue]> {
    return this.values.entries();
  }
}

/** A value that only goes up. */
export class Counter<L extends string = never> extends Metric<L> {
  inc(labels?: Labels<L>, by = 1): void {
    const k = this.key(labels);
    this.values.set(k, ((this.values.get(k) as number | undefined) ?? 0) + by);
  }
}

/** A value that goes up and down. */
export class Gauge<L extends string = never> extends Metric<L> {
  set(labels: Labels<L> | undefined, value: number): void {
    this.values.set(this.key(labels), value);
  }

  inc(labels?: Labels<L>, by = 1): void {
    const k = this.key(labels);
    this.values.set(k, ((this.values.get(k) as number | undefined) ?? 0) + by);
  }

  dec(labels?: Labels<L>, by = 1): void {
    this.inc(labels, -by);
  }

  /** Forgets every series (for gauges re-set from scratch, e.g. lag of the partitions assigned now). */
  reset(): void {
    this.values.clear();
  }
}

/** Observations counted into buckets, with their sum and count. */
export class Histogram<L extends string = never> extends Metric<L> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram', labelNames);
  }

  observe(labels: Labels<L> | undefined, value: number): void {
    const k = this.key(labels);
    let h = this.values.get(k) as HistogramValue | undefined;
    if (!h) {
      h = { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.values.set(k, h);
    }
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    (h.counts[i] as number)++;
    h.sum += value;
    h.count++;
  }

  /** Runs `fn` and observes how long it took, in seconds (also when it throws). */
  async time<T>(labels: Labels<L> | undefined, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
}

/** Metrics of one process, rendered for `GET /metrics`. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric<string>>();
  private readonly collectors: (() => void)[] = [];

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.register(new Counter<L>(name, help, 'counter', labelNames));
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.register(new Gauge<L>(name, help, 'gauge', labelNames));
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], buckets: readonly number[] = LATENCY_BUCKETS_SECONDS): Histogram<L> {
    return this.register(new Histogram<L>(name, help, labelNames, buckets));
  }

  /** Runs `fn` before every render/snapshot, to set gauges from live state. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  private register<M extends Metric<string>>(m: M): M {
    if (this.metrics.has(m.name)) throw new TypeError(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }

  /** The current values as plain data, for {@link render} in another process. */
  snapshot(): MetricsSnapshot {
    for (const c of this.collectors) c();
    const out: MetricsSnapshot = {};
    for (const [name, m] of this.metrics) {
      const series: Record<string, number | HistogramValue> = {};
      for (const [k, v] of m.entries()) series[k] = typeof v === 'number' ? v : { counts: [...v.counts], sum: v.sum, count: v.count };
      out[name] = series;
    }
    return out;
  }

  /**
   * Prometheus text of this registry's metrics, with the values of `others`
   * (snapshots of registries with the same metrics, e.g. one per worker
   * process) added in: counters, gauges and histograms are summed per series.
   */
  render(others: readonly MetricsSnapshot[] = []): string {
    const mine = this.snapshot();
    let out = '';
    for (const [name, m] of this.metrics) {
      const merged = new Map<string, number | HistogramValue>();
      for (const snap of [mine, ...others]) {
        for (const [k, v] of Object.entries(snap[name] ?? {})) {
          const prev = merged.get(k);
          if (typeof v === 'number') merged.set(k, ((prev as number | undefined) ?? 0) + v);
          else if (prev === undefined) merged.set(k, { counts: [...v.counts], sum: v.sum, count: v.count });
          else {
            const p = prev as HistogramValue;
            v.counts.forEach((c, i) => (p.counts[i] = (p.counts[i] ?? 0) + c));
            p.sum += v.sum;
            p.count += v.count;
          }
        }
      }
      out += `# HELP ${name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${m.type}\n`;
      for (const [k, v] of [...merged].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
        const values = JSON.parse(k) as string[];
        const pairs = m.labelNames.map((l, i) => `${l}="${escapeLabelValue(values[i] ?? '')}"`);
        if (typeof v === 'number') {
          out += `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatSampleValue(v)}\n`;
          continue;
        }
        const buckets = (m as unknown as Histogram<string>).buckets;
        let cumulative = 0;
        for (let i = 0; i <= buckets.length; i++) {
          cumulative += v.counts[i] ?? 0;
          const le = i < buckets.length ? formatSampleValue(buckets[i] as number) : '+Inf';
          out += `${name}_bucket{${[...pairs, `le="${le}"`].join(',')}} ${cumulative}\n`;
        }
        const l = pairs.length ? `{${pairs.join(',')}}` : '';
        out += `${name}_sum${l} ${formatSampleValue(v.sum)}\n${name}_count${l} ${v.count}\n`;
      }
    }
    return out;
  }
}
