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
import { dimensionsOf, makeRow } from './_row.js';
import type { Dimensions } from './_row.js';
import type { MakeRow, Profile } from './_profile.js';
import type { Derivation, JobRow, ProfileName } from './types.js';

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

const buildRow: MakeRow = (span, fields, dims) => makeRow(span, fields, dims());

/**
 * The job rows of one span (none for most spans), the profile that claimed
 * it, and a warning when it looks like job telemetry but cannot form a run.
 */
export function deriveSpan(span: SpanRecord): Derivation {
  let dims: Dimensions | undefined;
  const lazyDims = (): Dimensions => (dims ??= dimensionsOf(span));
  for (const [, profile] of PROFILES) {
    const d = profile(span, lazyDims, buildRow);
    if (d !== undefined) return d;
  }
  return NONE;
}

// The check builds no rows: every profile decides whether a span can form a run before building its row.
const PLACEHOLDER: JobRow = Object.freeze({
  profile: 'jobslo',
  job: '',
  runId: '',
  role: 'run',
  attempt: 0,
  startNs: 0n,
  endNs: 0n,
  outcome: '',
  terminal: false,
  runAttempts: 0,
  errorType: '',
  exitCode: null,
  message: '',
  queuedNs: null,
  cost: null,
  cpuSeconds: null,
  maxRssBytes: null,
  deadLettered: false,
  traceId: '',
  spanId: '',
  dimKeys: [],
  dimValues: [],
});
const noRow: MakeRow = () => PLACEHOLDER;
const NO_DIMS: Dimensions = { keys: [], values: [] };
const noDims = (): Dimensions => NO_DIMS;

/**
 * {@link deriveSpan} without building rows: the claiming profile and the
 * warning only. A fraction of the cost of deriving, for a receiver that must
 * answer with the warnings while the store derives the rows.
 */
export function checkSpan(span: SpanRecord): Pick<Derivation, 'profile' | 'warning' | 'missing'> {
  for (const [, profile] of PROFILES) {
    const d = profile(span, noDims, noRow);
    if (d !== undefined) return d;
  }
  return NONE;
}

/** Spans of a batch that look like job telemetry but cannot form a run. */
export interface DerivationWarnings {
  /** How many spans. */
  spans: number;
  /**
   * One line for an OTLP partial success `error_message`: how many, by
   * profile and missing attribute, and the first such span's warning; `''`
   * when none.
   */
  message: string;
}

/**
 * The derivation warnings of a batch, for a receiver's response (OTLP partial
 * success with `rejected_spans` 0). Uses {@link checkSpan}: no rows are built.
 */
export function derivationWarnings(spans: readonly SpanRecord[]): DerivationWarnings {
  let count = 0;
  let first = '';
  let byReason: Map<string, number> | undefined;
  for (const span of spans) {
    const d = checkSpan(span);
    if (d.warning === undefined) continue;
    if (count === 0) first = d.warning;
    count++;
    const reason = `${d.profile ?? ''} spans without ${d.missing ?? 'a run id'}`;
    byReason ??= new Map();
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  if (count === 0 || byReason === undefined) return { spans: 0, message: '' };
  const reasons = [...byReason].map(([reason, n]) => `${n} ${reason}`).join(', ');
  return { spans: count, message: `${count === 1 ? '1 span' : `${count} spans`} stored but not counted as runs (${reasons}); the first: ${first}` };
}
