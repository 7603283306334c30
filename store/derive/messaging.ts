/** Profile `messaging`: any consumer following the OpenTelemetry messaging conventions. */
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_OLD,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_OLD,
  ATTR_MESSAGING_OPERATION_TYPE,
} from '../../contracts/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { outcomeFromStatus } from './_row.js';
import type { Dims, MakeRow } from './_profile.js';
import { str } from './_values.js';
import type { Derivation } from './types.js';

const ENQUEUE_OPERATIONS = new Set(['create', 'send', 'publish']);

/**
 * Claims spans with `messaging.operation.type` (or the older
 * `messaging.operation`). A `process` span is one attempt of run
 * `messaging.message.id` of job `messaging.destination.name` (or the older
 * `messaging.destination`); the conventions have no attempt number or
 * delivery count, so every processing is an attempt that may end the run and
 * the latest one gives the outcome (from the span status). `create`, `send`
 * and `publish` spans give the run's queued time; `receive` and `settle`
 * spans give nothing.
 */
export function messagingProfile(span: SpanRecord, dims: Dims, make: MakeRow): Derivation | undefined {
  const a = span.attributes;
  const op = str(a[ATTR_MESSAGING_OPERATION_TYPE] ?? a[ATTR_MESSAGING_OPERATION_OLD]);
  if (op === '') return undefined;
  const isProcess = op === 'process';
  if (!isProcess && !ENQUEUE_OPERATIONS.has(op)) return { rows: [], profile: 'messaging' };
  const job = str(a[ATTR_MESSAGING_DESTINATION_NAME] ?? a[ATTR_MESSAGING_DESTINATION_OLD]);
  const runId = str(a[ATTR_MESSAGING_MESSAGE_ID]);
  if (job === '' || runId === '') {
    if (!isProcess) return { rows: [], profile: 'messaging' };
    const missing = job === '' ? `${ATTR_MESSAGING_DESTINATION_NAME} (or ${ATTR_MESSAGING_DESTINATION_OLD})` : ATTR_MESSAGING_MESSAGE_ID;
    return { rows: [], profile: 'messaging', missing: job === '' ? ATTR_MESSAGING_DESTINATION_NAME : ATTR_MESSAGING_MESSAGE_ID, warning: `messaging process span "${span.name}" has no ${missing}: it cannot form a run` };
  }
  if (!isProcess) {
    return { profile: 'messaging', rows: [make(span, { profile: 'messaging', job, runId, role: 'enqueue', queuedNs: span.startTimeUnixNano }, dims)] };
  }
  return { profile: 'messaging', rows: [make(span, { profile: 'messaging', job, runId, role: 'attempt', outcome: outcomeFromStatus(span), terminal: true }, dims)] };
}
