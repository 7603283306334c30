import { createHash } from 'node:crypto';
import { LifecycleEvent } from './attributes.js';
import { DecodeError } from './errors.js';
import type { Attributes } from './model.js';

/** Version tag of the lifecycle event wire format. Bump it only for incompatible changes. */
export const LIFECYCLE_SCHEMA = 'jobslo.lifecycle/v1';

/**
 * One lifecycle transition of a run, as sent live by the executor to
 * `POST /v1/lifecycle` and published on the Kafka lifecycle topic.
 * Wire format (JSON, snake_case):
 * `{"schema":"jobslo.lifecycle/v1","event_id","type","job","run_id","time_unix_nano","attempt"?,"attributes"?}`.
 */
export interface LifecycleEventRecord {
  /** Unique id; the same event delivered twice has the same id. See {@link lifecycleEventId}. */
  eventId: string;
  /** One of {@link LifecycleEvent}, e.g. `job.queued`. */
  type: LifecycleEvent;
  job: string;
  runId: string;
  /** When the transition happened, Unix epoch nanoseconds. */
  timeUnixNano: bigint;
  /** Attempt number the event is about, when it is about one. */
  attempt?: number;
  attributes: Attributes;
}

const TYPES = new Set<string>(Object.values(LifecycleEvent));

/** Deterministic id of an event: a hash of run id, type, time and attempt. */
export function lifecycleEventId(runId: string, type: string, timeUnixNano: bigint, attempt?: number): string {
  return createHash('sha256').update(`${runId}\u0000${type}\u0000${timeUnixNano}\u0000${attempt ?? ''}`).digest('hex').slice(0, 32);
}

/** The wire (JSON) form of an event. */
export function lifecycleToJson(e: LifecycleEventRecord): Record<string, unknown> {
  return {
    schema: LIFECYCLE_SCHEMA,
    event_id: e.eventId,
    type: e.type,
    job: e.job,
    run_id: e.runId,
    time_unix_nano: e.timeUnixNano.toString(),
    ...(e.attempt !== undefined ? { attempt: e.attempt } : {}),
    attributes: e.attributes,
  };
}

/**
 * Validates one wire event.
 * @param path where it was, for the error message (`events[3]`)
 * @throws {DecodeError} naming the bad field and what was expected
 */
export function lifecycleFromJson(value: unknown, path: string): LifecycleEventRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DecodeError(`${path}: expected an object`);
  const v = value as Record<string, unknown>;
  if (v['schema'] !== LIFECYCLE_SCHEMA) {
    throw new DecodeError(`${path}.schema: expected "${LIFECYCLE_SCHEMA}", got ${JSON.stringify(v['schema'] ?? null)}`);
  }
  const str = (key: string): string => {
    const s = v[key];
    if (typeof s !== 'string' || s === '') throw new DecodeError(`${path}.${key}: expected a non-empty string`);
    return s;
  };
  const type = str('type');
  if (!TYPES.has(type)) throw new DecodeError(`${path}.type: "${type}" is not a lifecycle event; expected one of ${[...TYPES].join(', ')}`);
  const job = str('job');
  const runId = str('run_id');
  const t = v['time_unix_nano'];
  if (!((typeof t === 'string' && /^\d{1,20}$/.test(t)) || (typeof t === 'number' && Number.isSafeInteger(t) && t >= 0))) {
    throw new DecodeError(`${path}.time_unix_nano: expected a non-negative integer (decimal string or number)`);
  }
  const timeUnixNano = BigInt(t);
  const attempt = v['attempt'];
  if (attempt !== undefined && !(typeof attempt === 'number' && Number.isInteger(attempt) && attempt > 0)) {
    throw new DecodeError(`${path}.attempt: expected a positive integer`);
  }
  const attrs = v['attributes'] ?? {};
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) throw new DecodeError(`${path}.attributes: expected an object`);
  const eventId = v['event_id'] === undefined ? lifecycleEventId(runId, type, timeUnixNano, attempt as number | undefined) : str('event_id');
  return { eventId, type: type as LifecycleEvent, job, runId, timeUnixNano, ...(attempt !== undefined ? { attempt: attempt as number } : {}), attributes: attrs as Attributes };
}

/**
 * Parses a `POST /v1/lifecycle` body: `{"events": [...]}`.
 * @throws {DecodeError} for invalid JSON or any invalid event (nothing is accepted then)
 */
export function parseLifecycleBatch(text: string): LifecycleEventRecord[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new DecodeError(`body is not JSON: ${(cause as Error).message}`, { cause });
  }
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new DecodeError('expected {"events": [...]}');
  return events.map((e, i) => lifecycleFromJson(e, `events[${i}]`));
}
