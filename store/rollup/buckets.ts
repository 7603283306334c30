/**
 * The bucket hierarchy of the rollups: minute buckets that keep every run's
 * end time and latency (so any window edge is cut exactly), and hour buckets
 * that keep only counts. A bucket that starts at `s` with width `w` holds the
 * runs whose final outcome time t satisfies `s < t <= s + w`, the same
 * left-open, right-closed convention as every store window.
 */

/**
 * Version of the bucket contents, per store. A store whose rollups were built
 * with an older one rebuilds them at migrate (2: minute buckets keep run
 * starts; 3: they also keep run ids, dead-lettering, queued time, cost, CPU,
 * peak RSS and error type, for per-job aggregates and run lists; 4: hour
 * buckets keep the earliest run start, for the first run seen of freshness
 * SLOs; 5: ClickHouse's hour buckets keep their succeeded runs' starts per
 * start minute, for freshness ticks; 6: minute buckets keep the trace id,
 * span id, exit code, message and any outcome outside the known ones, so run
 * lists read them alone).
 */
export const ROLLUP_FORMAT = { duckdb: 6, clickhouse: 6 } as const;

/** Width of a minute bucket, ns. */
export const MINUTE_NS = 60_000_000_000n;
/** Width of an hour bucket, ns. */
export const HOUR_NS = 3_600_000_000_000n;

/** A range of run end times `(loNs, hiNs]`. */
export interface NsRange {
  loNs: bigint;
  hiNs: bigint;
}

/** How a window is read from the rollups. */
export interface WindowCover {
  /** Hour buckets whose start is in `[fromNs, toNs)`; every one lies wholly inside the window. Null when none does. */
  hours: { fromNs: bigint; toNs: bigint } | null;
  /**
   * Parts of the window read from minute buckets, run by run: the minute
   * buckets whose start is in `[minuteFromNs, minuteToNs)`, keeping the runs
   * with an end time in `(loNs, hiNs]`. At most two (the window's edges), each
   * shorter than an hour.
   */
  edges: (NsRange & { minuteFromNs: bigint; minuteToNs: bigint })[];
}

/** `floor(a / b)` for bigints, also for negative `a`. */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return q * b > a ? q - 1n : q;
}

/** `ceil(a / b)` for bigints, also for negative `a`. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}

/** Start of the bucket of width `widthNs` that holds a run ending at `endNs` (the bucket is `(start, start + width]`). */
export function bucketOf(endNs: bigint, widthNs: bigint): bigint {
  return floorDiv(endNs - 1n, widthNs) * widthNs;
}

function edge(loNs: bigint, hiNs: bigint): WindowCover['edges'][number] {
  return { loNs, hiNs, minuteFromNs: floorDiv(loNs, MINUTE_NS) * MINUTE_NS, minuteToNs: ceilDiv(hiNs, MINUTE_NS) * MINUTE_NS };
}

/**
 * Covers the window `(loNs, hiNs]` exactly: the whole hours inside it from
 * hour buckets, the rest (under an hour at each end) from the runs that
 * minute buckets keep. Every run end in the window is in exactly one part.
 * @throws {RangeError} when `hiNs < loNs`
 */
export function coverWindow(loNs: bigint, hiNs: bigint): WindowCover {
  if (hiNs < loNs) throw new RangeError(`window end ${hiNs} is before its start ${loNs}`);
  if (hiNs === loNs) return { hours: null, edges: [] };
  const h0 = ceilDiv(loNs, HOUR_NS) * HOUR_NS;
  const h1 = floorDiv(hiNs, HOUR_NS) * HOUR_NS;
  if (h0 >= h1) return { hours: null, edges: [edge(loNs, hiNs)] };
  const edges: WindowCover['edges'] = [];
  if (loNs < h0) edges.push(edge(loNs, h0));
  if (h1 < hiNs) edges.push(edge(h1, hiNs));
  return { hours: { fromNs: h0, toNs: h1 }, edges };
}
