/** Building blocks the profiles share: the common columns of a row, failure modes and dimensions. */
import {
  ATTR_COST_AMOUNT,
  ATTR_CPU_SECONDS,
  ATTR_ERROR_TYPE,
  ATTR_MAX_RSS_BYTES,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_RUN_DEAD_LETTERED,
  RunOutcome,
} from '../../contracts/index.js';
import type { AttributeValue, Attributes, SpanRecord } from '../../contracts/index.js';
import { int, num, str } from './_values.js';
import type { JobRow, ProfileName, RowRole } from './types.js';

/** semconv `deployment.environment.name`; the old `deployment.environment` is read as it. */
export const DIM_ENVIRONMENT = 'deployment.environment.name';
const OLD_ENVIRONMENT = 'deployment.environment';
/** At most this many dimensions per row, and this many characters per value. */
export const MAX_DIMENSIONS = 64;
export const MAX_DIMENSION_VALUE_CHARS = 256;

/**
 * Span attribute namespaces that are per-run identifiers, outcomes or
 * payloads rather than dimensions (resource attributes are all kept).
 */
const NOT_DIMENSIONS = /^(jobslo\.|messaging\.message\.|messaging\.conversation|celery\.|bullmq\.|process\.|error\.|exception\.|code\.|thread\.|cicd\.pipeline\.run\.|cicd\.pipeline\.task\.run\.|k8s\.job\.uid|k8s\.pod\.uid)/;

// The record and unit separators delimit dimensions in the DuckDB store.
// eslint-disable-next-line no-control-regex
const SEPARATORS = /[\u001e\u001f]/g;
// eslint-disable-next-line no-control-regex
const HAS_SEPARATOR = /[\u001e\u001f]/;

function dimValue(v: AttributeValue | undefined): string | undefined {
  if (typeof v === 'string') {
    const cut = v.length > MAX_DIMENSION_VALUE_CHARS ? v.slice(0, MAX_DIMENSION_VALUE_CHARS) : v;
    return HAS_SEPARATOR.test(cut) ? cut.replace(SEPARATORS, ' ') : cut;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function dimKey(k: string): string {
  return HAS_SEPARATOR.test(k) ? k.replace(SEPARATORS, ' ') : k;
}

/** Dimensions as sorted keys and their values; shared between rows, never mutated. */
export interface Dimensions {
  readonly keys: string[];
  readonly values: string[];
}

function finish(map: Map<string, string>): Dimensions {
  if (!map.has(DIM_ENVIRONMENT)) {
    const old = map.get(OLD_ENVIRONMENT);
    if (old !== undefined) map.set(DIM_ENVIRONMENT, old);
  }
  const keys = [...map.keys()].sort();
  if (keys.length > MAX_DIMENSIONS) keys.length = MAX_DIMENSIONS;
  return { keys, values: keys.map((k) => map.get(k) as string) };
}

// A resource's attributes object is shared by all its spans (one per
// ResourceSpans when decoded), so its dimensions are computed once per object.
const byResource = new WeakMap<Attributes, { map: Map<string, string>; dims: Dimensions }>();
// Whether a span attribute key is a dimension, by key (bounded: cleared when full).
const isDimensionKey = new Map<string, boolean>();
const MAX_CACHED_KEYS = 10_000;

function dimensionKey(k: string): boolean {
  let yes = isDimensionKey.get(k);
  if (yes === undefined) {
    yes = !NOT_DIMENSIONS.test(k);
    if (isDimensionKey.size >= MAX_CACHED_KEYS) isDimensionKey.clear();
    isDimensionKey.set(k, yes);
  }
  return yes;
}

/**
 * The dimensions of a span: every scalar resource attribute, then the span's
 * own scalar attributes outside {@link NOT_DIMENSIONS} (a span attribute wins
 * over a resource attribute of the same key), `deployment.environment` also
 * as `deployment.environment.name` when that is absent. Sorted by key, at
 * most {@link MAX_DIMENSIONS}; the bytes 0x1E and 0x1F in keys and values
 * become spaces. Spans of one resource without dimension
 * attributes of their own share one result.
 */
export function dimensionsOf(span: SpanRecord): Dimensions {
  let res = byResource.get(span.resourceAttributes);
  if (res === undefined) {
    const map = new Map<string, string>();
    for (const k in span.resourceAttributes) {
      const v = dimValue(span.resourceAttributes[k]);
      if (v !== undefined) map.set(dimKey(k), v);
    }
    res = { map, dims: finish(new Map(map)) };
    byResource.set(span.resourceAttributes, res);
  }
  let own: Map<string, string> | undefined;
  for (const k in span.attributes) {
    if (!dimensionKey(k)) continue;
    const v = dimValue(span.attributes[k]);
    if (v === undefined) continue;
    own ??= new Map(res.map);
    own.set(dimKey(k), v);
  }
  return own === undefined ? res.dims : finish(own);
}

/** The last `exception` event's attribute `key`, or `''`. */
export function lastException(span: SpanRecord, key: 'exception.type' | 'exception.message'): string {
  for (let i = span.events.length - 1; i >= 0; i--) {
    const e = span.events[i];
    if (e?.name === 'exception') return str(e.attributes[key]);
  }
  return '';
}

/**
 * The failure mode of a row that did not succeed: `error.type`, else the last
 * exception's type, else the exit code (non-zero), else `timeout` for a
 * timed-out row, else `''` (the store then files the run under `failed`).
 */
export function failureMode(span: SpanRecord, outcome: string, exitCode: number | null): string {
  const declared = str(span.attributes[ATTR_ERROR_TYPE]);
  if (declared !== '') return declared;
  const exception = lastException(span, 'exception.type');
  if (exception !== '') return exception;
  if (exitCode !== null && exitCode !== 0) return String(exitCode);
  if (outcome === RunOutcome.TimedOut) return 'timeout';
  return '';
}

/** What a profile decides about a row; the rest comes from the span. */
export interface RowFields {
  profile: ProfileName;
  job: string;
  runId: string;
  role: RowRole;
  attempt?: number;
  outcome?: string;
  terminal?: boolean;
  runAttempts?: number;
  queuedNs?: bigint | null;
  /** Read cost, CPU and RSS attributes (run rows). @default false */
  resources?: boolean;
}

/** A row from a span and a profile's decisions. */
export function makeRow(span: SpanRecord, f: RowFields, dims: Dimensions): JobRow {
  const outcome = f.outcome ?? '';
  const exit = int(span.attributes[ATTR_PROCESS_EXIT_CODE]);
  const failed = outcome !== '' && outcome !== RunOutcome.Succeeded;
  const message = span.statusMessage !== '' ? span.statusMessage : failed ? lastException(span, 'exception.message') : '';
  return {
    profile: f.profile,
    job: f.job,
    runId: f.runId,
    role: f.role,
    attempt: Math.max(0, f.attempt ?? 0),
    startNs: span.startTimeUnixNano,
    endNs: span.endTimeUnixNano < span.startTimeUnixNano ? span.startTimeUnixNano : span.endTimeUnixNano,
    outcome,
    terminal: f.terminal ?? false,
    runAttempts: Math.max(0, f.runAttempts ?? 0),
    errorType: failed ? failureMode(span, outcome, exit) : str(span.attributes[ATTR_ERROR_TYPE]),
    exitCode: exit,
    message,
    queuedNs: f.queuedNs ?? null,
    cost: f.resources ? num(span.attributes[ATTR_COST_AMOUNT]) : null,
    cpuSeconds: f.resources ? num(span.attributes[ATTR_CPU_SECONDS]) : null,
    maxRssBytes: f.resources ? num(span.attributes[ATTR_MAX_RSS_BYTES]) : null,
    deadLettered: span.attributes[ATTR_RUN_DEAD_LETTERED] === true,
    traceId: span.traceId,
    spanId: span.spanId,
    dimKeys: dims.keys,
    dimValues: dims.values,
  };
}

/** `failed` for an ERROR status, else `succeeded`. */
export function outcomeFromStatus(span: SpanRecord): string {
  return span.statusCode === 2 ? RunOutcome.Failed : RunOutcome.Succeeded;
}
