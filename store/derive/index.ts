/**
 * Span-to-run derivation: each span is read once, at insert, by the first
 * profile that claims it (see {@link PROFILE_ORDER}), into normalized job
 * rows that both stores hold. Pure functions, no I/O.
 */
import type { SpanRecord } from '../../contracts/index.js';
import { bullmqProfile } from './bullmq.js';
import { celeryProfile } from './celery.js';
import { cicdProfile } from './cicd.js';
import { jobsloProfile } from './jobslo.js';
import { k8sProfile } from './k8s.js';
import { messagingProfile } from './messaging.js';
import { dimensionsOf } from './_row.js';
import type { Dimensions } from './_row.js';
import type { Profile } from './_profile.js';
import type { Derivation, ProfileName } from './types.js';

export { RowRole } from './types.js';
export type { Derivation, JobRow, ProfileName } from './types.js';
export type { RowRole as RowRoleName } from './types.js';
export { CICD_RESULT_OUTCOMES } from './cicd.js';
export { DIM_ENVIRONMENT, dimensionsOf, failureMode } from './_row.js';
export type { Dimensions } from './_row.js';
export { pick, str, num, nanos } from './_values.js';

const PROFILES: readonly [ProfileName, Profile][] = [
  ['jobslo', jobsloProfile],
  ['celery', celeryProfile],
  ['bullmq', bullmqProfile],
  ['cicd', cicdProfile],
  ['messaging', messagingProfile],
  ['k8s', k8sProfile],
];

/**
 * The order in which profiles are tried; the first that claims a span
 * decides alone. Explicit `jobslo.*` attributes first (what the user asked
 * for), then framework profiles (more precise than the generic conventions
 * they also emit: Celery spans carry `messaging.*`), then CI/CD, generic
 * messaging, and last Kubernetes Jobs (`k8s.job.name` is a resource attribute
 * that every span of a Job's pod carries, whatever framework runs there).
 */
export const PROFILE_ORDER: readonly ProfileName[] = PROFILES.map(([name]) => name);

const NONE: Derivation = { rows: [] };

/**
 * The job rows of one span (none for most spans), the profile that claimed
 * it, and a warning when it looks like job telemetry but cannot form a run.
 */
export function deriveSpan(span: SpanRecord): Derivation {
  let dims: Dimensions | undefined;
  const lazyDims = (): Dimensions => (dims ??= dimensionsOf(span));
  for (const [, profile] of PROFILES) {
    const d = profile(span, lazyDims);
    if (d !== undefined) return d;
  }
  return NONE;
}

/** Spans of a batch that look like job telemetry but cannot form a run. */
export interface DerivationWarnings {
  /** How many spans. */
  spans: number;
  /** One line naming the first such span's missing attribute and the count, for an OTLP partial success `error_message`; `''` when none. */
  message: string;
}

/**
 * The derivation warnings of a batch, for a receiver's response (OTLP partial
 * success with `rejected_spans` 0). Derives every span, so call it only where
 * the cost of a second derivation is acceptable.
 */
export function derivationWarnings(spans: readonly SpanRecord[]): DerivationWarnings {
  let count = 0;
  let first = '';
  for (const span of spans) {
    const w = deriveSpan(span).warning;
    if (w === undefined) continue;
    if (count === 0) first = w;
    count++;
  }
  if (count === 0) return { spans: 0, message: '' };
  return { spans: count, message: count === 1 ? `1 span stored but not counted: ${first}` : `${count} spans stored but not counted; the first: ${first}` };
}
