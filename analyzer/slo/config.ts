/**
 * `jobslo.yaml`: SLOs, burn-rate alert tiers and webhooks. Parsed with
 * `yaml`, validated at load; every error is a {@link ConfigError} naming the
 * path of the bad field (`slos[0].objective`) and, when known, its line.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import { ConfigError, YamlFieldReader as Reader, cronProblem, isTimeZone, describeYamlValue as describe, errorMessage, formatDurationMillis } from '../../contracts/index.js';
import type { YamlPathSegment as Segment } from '../../contracts/index.js';
import { parseStoreUrl } from '../../store/index.js';
import { checkTemplate } from './template.js';
import { burnFactor, defaultTiers } from './tiers.js';
import type { BurnRateTier } from './tiers.js';
import type { MonitorDefinition } from '../monitors/types.js';

/** What makes an event good. */
export type SliKind = 'success' | 'latency' | 'freshness';

/** Freshness (dead-man switch) settings of an SLO. */
export interface FreshnessSpec {
  /** Cron expression of the schedule (5 or 6 fields). */
  cron: string;
  /** IANA time zone the schedule is read in. @default 'UTC' */
  timezone: string;
  /** How long after a tick a succeeded run may start and still count. @default 1_800_000 (30m) */
  graceMillis: number;
  /**
   * Ticks are counted from here (`start:`, Unix ms). Without it, from the
   * first run of the job seen, so ticks before the job existed are not missed.
   */
  startMillis?: number;
}

/** One validated SLO. */
export interface SloDefinition {
  name: string;
  /** Exact job name or glob (`etl-*`). */
  job: string;
  /**
   * Only runs with these dimension values count (`where:`, resource or span
   * attributes such as `deployment.environment.name`); every key must match.
   * Absent: every run of the job. Run-based SLIs (success, latency) only.
   */
  where?: Record<string, string>;
  sli: SliKind;
  /** Target ratio of good events, in (0, 1). */
  objective: number;
  /** Rolling window, ms. */
  windowMillis: number;
  /** For `sli: latency`: a run is good when it succeeded within this, ms. */
  latencyThresholdMillis?: number;
  /** For `sli: freshness`. */
  freshness?: FreshnessSpec;
  alerting: {
    /** The long window needs at least this many events to fire. @default 1 */
    minEvents: number;
    tiers: BurnRateTier[];
  };
  /** Extra labels of its alerts (routing: `team`, `service`, ...). @default {} */
  labels: Record<string, string>;
  /** Annotation templates (`summary`, `description`, others) with `{{ placeholders }}`. @default {} */
  annotations: Record<string, string>;
  /** Runbook link, the `runbook_url` annotation of its alerts. */
  runbookUrl?: string;
  /** Where the SLO came from. */
  source: 'jobslo' | 'openslo';
}

/** Labels jobslo sets on every SLO alert; an SLO's `labels` may not redefine them. */
export const RESERVED_ALERT_LABELS: readonly string[] = Object.freeze(['alertname', 'slo', 'job', 'sli', 'severity', 'long_window', 'short_window']);

/** Annotations jobslo computes; an SLO's `annotations` may set only `summary`, `description` and new keys. */
export const COMPUTED_ANNOTATIONS: readonly string[] = Object.freeze([
  'objective',
  'burn_rate_long',
  'burn_rate_short',
  'factor',
  'error_budget_remaining',
  'sli_value',
  'runbook_url',
  'slo_url',
  'job_url',
]);

/** Payload format of a webhook. */
export type WebhookFormat = 'alertmanager' | 'slack' | 'json';

/** One webhook receiver. */
export interface WebhookConfig {
  name: string;
  url: string;
  /** @default 'alertmanager' */
  format: WebhookFormat;
  /** HMAC-SHA256 key, resolved from `env:NAME` or `file:PATH`; never logged. */
  secret?: string;
  /** Per-request timeout. @default 10_000 */
  timeoutMillis: number;
}

/** An Alertmanager that jobslo pushes its alerts to (API v2), re-sent every evaluation. */
export interface AlertmanagerTarget {
  name: string;
  /** Base URL, e.g. `http://alertmanager:9093`; alerts go to `URL/api/v2/alerts`. */
  url: string;
  /** Per-request timeout. @default 10_000 */
  timeoutMillis: number;
}

/** Alert delivery settings. */
export interface AlertsConfig {
  webhooks: WebhookConfig[];
  /** Alertmanagers to push to. @default [] */
  alertmanagers?: AlertmanagerTarget[];
  /** A firing alert is re-sent after this long. @default 14_400_000 (4h) */
  repeatIntervalMillis: number;
  /** Base URL of `jobslo serve`, for `externalURL` and `generatorURL`. @default '' */
  externalUrl: string;
}

/** A validated `jobslo.yaml`. */
export interface JobsloConfig {
  /** File it was read from (or `<inline>`). */
  file: string;
  /** `store:` value, already checked with `parseStoreUrl`. */
  store?: string;
  slos: SloDefinition[];
  /**
   * Job monitors (check states): those under `monitors:`, then one per
   * freshness SLO whose job has no monitor of its own (`source: freshness_slo`).
   */
  monitors: MonitorDefinition[];
  /** `schedules:`: schedule files whose jobs get a monitor each, as written (relative to the config file's folder). */
  scheduleFiles: string[];
  alerts: AlertsConfig;
}

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Named in error messages. @default 'jobslo.yaml' */
  fileName?: string;
  /** Environment for `env:` secrets. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Reads `file:` secrets. @default readFileSync utf8 */
  readFile?: (path: string) => string;
  /**
   * Read webhook secrets (`env:`/`file:`) now. `false` only checks their form
   * and leaves `secret` unset: for commands that never send (`analyze`).
   * @default true
   */
  resolveSecrets?: boolean;
}

/** Default config file, relative to the working directory. */
export const DEFAULT_CONFIG_FILE = 'jobslo.yaml';

const DEFAULT_REPEAT_MILLIS = 4 * 3_600_000;
const DEFAULT_GRACE_MILLIS = 30 * 60_000;
const DEFAULT_WEBHOOK_TIMEOUT_MILLIS = 10_000;

/**
 * Reads and validates a config file.
 * @throws {ConfigError} naming `--config` when the file cannot be read, else the bad field
 */
export function loadConfig(path: string, options: Omit<ParseConfigOptions, 'fileName'> = {}): JobsloConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('--config', `cannot read ${path}: ${errorMessage(cause)}`, { cause });
  }
  return parseConfig(text, { ...options, fileName: path });
}

/**
 * Parses and validates the text of a config file: one jobslo document and/or
 * any number of OpenSLO v1 `kind: SLO` documents.
 * @throws {ConfigError} for YAML syntax errors (with line and column) and invalid fields
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): JobsloConfig {
  const file = options.fileName ?? DEFAULT_CONFIG_FILE;
  const env = options.env ?? process.env;
  const read = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const readFile = options.resolveSecrets === false ? null : read;
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) throw new ConfigError(file, 'is not a YAML stream');
  for (const doc of docs) {
    const e = doc.errors[0];
    if (e) {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
      throw new ConfigError(file, `YAML syntax error${where}: ${e.message.split('\n')[0] ?? e.message}`);
    }
  }
  const present = docs.filter((d) => d.contents !== null);
  const multi = present.length > 1;
  let base: JobsloConfig | undefined;
  const openSlos: SloDefinition[] = [];
  present.forEach((doc, i) => {
    const index = (docs as readonly unknown[]).indexOf(doc);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    const isOpenSlo = value !== null && typeof value === 'object' && !Array.isArray(value) && 'apiVersion' in value;
    // OpenSLO documents are named by index; the jobslo document keeps plain paths (`slos[0].objective`).
    const r = new Reader(doc as unknown as Document, lines, file, multi && isOpenSlo ? ['documents', index] : []);
    if (isOpenSlo) {
      openSlos.push(readOpenSlo(r, value as Record<string, unknown>));
      return;
    }
    if (base) r.fail([], `a second jobslo document (document ${i + 1}); put every SLO in one document or use OpenSLO documents`);
    base = readJobslo(r, value, file, env, readFile);
  });
  const config: JobsloConfig = base ?? { file, slos: [], monitors: [], scheduleFiles: [], alerts: { webhooks: [], repeatIntervalMillis: DEFAULT_REPEAT_MILLIS, externalUrl: '' } };
  config.slos.push(...openSlos);
  const seen = new Set<string>();
  config.slos.forEach((s, i) => {
    if (seen.has(s.name)) throw new ConfigError(`slos[${i}].name`, `"${s.name}" is defined twice; SLO names must be unique`);
    seen.add(s.name);
  });
  config.monitors = withImpliedMonitors(config.monitors, config.slos);
  return config;
}

function readJobslo(r: Reader, value: unknown, file: string, env: NodeJS.ProcessEnv, readFile: ((p: string) => string) | null): JobsloConfig {
  const root = r.mapping(value, [], ['store', 'slos', 'monitors', 'schedules', 'alerts']);
  let store: string | undefined;
  if (root['store'] !== undefined) {
    store = r.string(root['store'], ['store']);
    try {
      parseStoreUrl(store, 'store');
    } catch (err) {
      r.fail(['store'], err instanceof ConfigError ? err.message.replace(/^store: /, '') : errorMessage(err));
    }
  }
  const slos = root['slos'] === undefined ? [] : r.list(root['slos'], ['slos']).map((s, i) => readSlo(r, s, ['slos', i]));
  const monitors = root['monitors'] === undefined ? [] : r.list(root['monitors'], ['monitors']).map((m, i) => readMonitor(r, m, ['monitors', i]));
  const names = new Set<string>();
  monitors.forEach((m, i) => {
    if (names.has(m.name)) r.fail(['monitors', i, 'name'], `"${m.name}" is used by another monitor; monitor names must be unique`);
    names.add(m.name);
  });
  const scheduleFiles = root['schedules'] === undefined ? [] : r.list(root['schedules'], ['schedules']).map((f, i) => r.string(f, ['schedules', i]));
  const alerts = readAlerts(r, root['alerts'], env, readFile);
  return { file, ...(store !== undefined ? { store } : {}), slos, monitors, scheduleFiles, alerts };
}

const MONITOR_FIELDS = ['name', 'job', 'where', 'cron', 'timezone', 'period', 'grace', 'max_runtime', 'start', 'paused'] as const;

/** A monitor: `job` and either `cron` (+ `timezone`) or `period`; `where`, `grace`, `max_runtime`, `start`, `paused` optional. */
function readMonitor(r: Reader, value: unknown, path: Segment[]): MonitorDefinition {
  const m = r.mapping(value, path, MONITOR_FIELDS);
  const job = r.string(m['job'], [...path, 'job']);
  const name = m['name'] === undefined ? job : r.string(m['name'], [...path, 'name']);
  if ((m['cron'] === undefined) === (m['period'] === undefined)) {
    r.fail(path, 'needs exactly one of cron (e.g. cron: "0 2 * * *") or period (e.g. period: 1h, a run at most this long after the previous one)');
  }
  let schedule: MonitorDefinition['schedule'];
  if (m['cron'] !== undefined) {
    const timezone = readTimezone(r, m['timezone'], [...path, 'timezone']);
    schedule = { kind: 'cron', cron: readCron(r, m['cron'], [...path, 'cron'], timezone), timezone };
  } else {
    if (m['timezone'] !== undefined) r.fail([...path, 'timezone'], 'only applies with cron (a period does not depend on the time zone)');
    schedule = { kind: 'period', periodMillis: r.duration(m['period'], [...path, 'period']) };
  }
  const def: MonitorDefinition = {
    name,
    job,
    schedule,
    graceMillis: m['grace'] === undefined ? DEFAULT_GRACE_MILLIS : r.duration(m['grace'], [...path, 'grace']),
    paused: m['paused'] === undefined ? false : r.boolean(m['paused'], [...path, 'paused']),
    source: 'monitor',
  };
  const where = m['where'] === undefined ? undefined : readWhere(r, m['where'], [...path, 'where']);
  if (where !== undefined) def.where = where;
  if (m['max_runtime'] !== undefined) {
    // Runs still going are known from live lifecycle events, which carry no resource or span attributes.
    if (where !== undefined) r.fail([...path, 'max_runtime'], 'cannot be combined with where: (a run still going is known from its live lifecycle events, which carry no dimensions); give max_runtime to a monitor of the job without where:');
    def.maxRuntimeMillis = r.duration(m['max_runtime'], [...path, 'max_runtime']);
  }
  if (m['start'] !== undefined) def.startMillis = readStart(r, m['start'], [...path, 'start']);
  return def;
}

/** `start:` as an ISO-8601 time with a zone (`2026-01-15T00:00:00Z`). */
function readStart(r: Reader, value: unknown, path: Segment[]): number {
  // YAML reads an unquoted timestamp as a string (core schema); a Date is accepted too.
  const text = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : undefined;
  const ms = text === undefined || !/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/.test(text.trim()) ? NaN : Date.parse(text.trim());
  if (Number.isNaN(ms)) r.fail(path, `must be an ISO-8601 date or time with a zone, e.g. 2026-01-15 or 2026-01-15T02:00:00Z, got ${describe(value)}`);
  return ms;
}

function readTimezone(r: Reader, value: unknown, path: Segment[]): string {
  const timezone = value === undefined ? 'UTC' : r.string(value, path);
  if (!isTimeZone(timezone)) r.fail(path, `"${timezone}" is not an IANA time zone such as UTC or Europe/Berlin`);
  return timezone;
}

/** A cron expression of 5 fields (or 6, the first being seconds) that fires at least once. */
function readCron(r: Reader, value: unknown, path: Segment[], timezone: string): string {
  const cron = r.string(value, path);
  const problem = cronProblem(cron, timezone);
  if (problem !== null) r.fail(path, `"${cron}" ${problem}`);
  return cron;
}

/**
 * Explicit monitors, then one per freshness SLO whose job and `where:` no
 * monitor covers yet (same cron, time zone, grace, start and `where:`).
 */
function withImpliedMonitors(monitors: readonly MonitorDefinition[], slos: readonly SloDefinition[]): MonitorDefinition[] {
  const out = [...monitors];
  const whereText = (w: Record<string, string> | undefined): string => JSON.stringify(Object.entries(w ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  for (const s of slos) {
    const f = s.freshness;
    if (s.sli !== 'freshness' || !f || out.some((m) => (m.job === s.job && whereText(m.where) === whereText(s.where)) || m.name === s.name)) continue;
    const def: MonitorDefinition = { name: s.name, job: s.job, schedule: { kind: 'cron', cron: f.cron, timezone: f.timezone }, graceMillis: f.graceMillis, paused: false, source: 'freshness_slo' };
    if (s.where !== undefined) def.where = s.where;
    if (f.startMillis !== undefined) def.startMillis = f.startMillis;
    out.push(def);
  }
  return out;
}

const SLO_FIELDS = ['name', 'job', 'where', 'sli', 'objective', 'window', 'latency', 'freshness', 'alerting', 'labels', 'annotations', 'runbook_url'] as const;

function readSlo(r: Reader, value: unknown, path: Segment[]): SloDefinition {
  const m = r.mapping(value, path, SLO_FIELDS);
  const name = r.string(m['name'], [...path, 'name']);
  const job = r.string(m['job'], [...path, 'job']);
  const sli = r.oneOf(m['sli'] ?? 'success', [...path, 'sli'], ['success', 'latency', 'freshness'] as const);
  const objective = r.objective(m['objective'], [...path, 'objective']);
  const windowMillis = r.duration(m['window'] ?? '30d', [...path, 'window']);
  const slo: SloDefinition = { name, job, sli, objective, windowMillis, alerting: { minEvents: 1, tiers: [] }, labels: {}, annotations: {}, source: 'jobslo' };
  if (m['where'] !== undefined) {
    const where = readWhere(r, m['where'], [...path, 'where']);
    if (where !== undefined) slo.where = where;
  }
  readRouting(r, m, path, slo);
  if (sli === 'latency') {
    if (m['latency'] === undefined) r.fail([...path, 'latency'], 'is required for sli: latency, e.g. latency: { threshold: 10m }');
    const l = r.mapping(m['latency'], [...path, 'latency'], ['threshold']);
    slo.latencyThresholdMillis = r.duration(l['threshold'], [...path, 'latency', 'threshold']);
  } else if (m['latency'] !== undefined) {
    r.fail([...path, 'latency'], `only applies to sli: latency (this SLO is sli: ${sli})`);
  }
  if (sli === 'freshness') {
    if (m['freshness'] === undefined) r.fail([...path, 'freshness'], 'is required for sli: freshness, e.g. freshness: { cron: "0 2 * * *", timezone: UTC, grace: 30m }');
    slo.freshness = readFreshness(r, m['freshness'], [...path, 'freshness']);
  } else if (m['freshness'] !== undefined) {
    r.fail([...path, 'freshness'], `only applies to sli: freshness (this SLO is sli: ${sli})`);
  }
  slo.alerting = readAlerting(r, m['alerting'], [...path, 'alerting'], windowMillis);
  return slo;
}

/** An attribute name as OpenTelemetry writes them: no spaces or control characters, at most 255 characters. */
const DIMENSION_KEY = /^[^\s\p{Cc}]{1,255}$/u;

/**
 * `where:` of an SLO or a monitor: dimension key to exact value (strings; numbers and
 * booleans as written). `""` selects runs without the dimension. Undefined
 * for an empty mapping.
 */
function readWhere(r: Reader, value: unknown, path: Segment[]): Record<string, string> | undefined {
  const m = r.mapping(value, path, Object.keys((value as Record<string, unknown> | null) ?? {}));
  const where: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    const p = [...path, k];
    if (!DIMENSION_KEY.test(k)) r.fail(p, 'is not a dimension key: use an attribute name such as deployment.environment.name or service.name (no spaces)');
    if (typeof v === 'number' || typeof v === 'boolean') where[k] = String(v);
    else if (typeof v === 'string') where[k] = v;
    else r.fail(p, `must be a string (the dimension's exact value, e.g. prod), got ${describe(v)}`);
  }
  return Object.keys(where).length === 0 ? undefined : where;
}

function readFreshness(r: Reader, value: unknown, path: Segment[]): FreshnessSpec {
  const m = r.mapping(value, path, ['cron', 'timezone', 'grace', 'start']);
  const timezone = readTimezone(r, m['timezone'], [...path, 'timezone']);
  const cron = readCron(r, m['cron'], [...path, 'cron'], timezone);
  const graceMillis = m['grace'] === undefined ? DEFAULT_GRACE_MILLIS : r.duration(m['grace'], [...path, 'grace']);
  const spec: FreshnessSpec = { cron, timezone, graceMillis };
  if (m['start'] !== undefined) spec.startMillis = readStart(r, m['start'], [...path, 'start']);
  return spec;
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `labels`, `annotations` and `runbook_url` of an SLO. */
function readRouting(r: Reader, m: Record<string, unknown>, path: Segment[], slo: SloDefinition): void {
  const textOf = (v: unknown, p: Segment[]): string => {
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') r.fail(p, `must be a string, got ${describe(v)}`);
    return v;
  };
  if (m['labels'] !== undefined) {
    const labels = r.mapping(m['labels'], [...path, 'labels'], Object.keys((m['labels'] as Record<string, unknown> | null) ?? {}));
    for (const [k, v] of Object.entries(labels)) {
      const p = [...path, 'labels', k];
      if (!LABEL_NAME.test(k) || k.startsWith('__')) r.fail(p, 'is not a label name: use [A-Za-z_][A-Za-z0-9_]*, not starting with __');
      if (RESERVED_ALERT_LABELS.includes(k)) r.fail(p, `is set by jobslo on every alert (${RESERVED_ALERT_LABELS.join(', ')}); pick another name`);
      slo.labels[k] = textOf(v, p);
    }
  }
  if (m['annotations'] !== undefined) {
    const annotations = r.mapping(m['annotations'], [...path, 'annotations'], Object.keys((m['annotations'] as Record<string, unknown> | null) ?? {}));
    for (const [k, v] of Object.entries(annotations)) {
      const p = [...path, 'annotations', k];
      if (!LABEL_NAME.test(k)) r.fail(p, 'is not an annotation name: use [A-Za-z_][A-Za-z0-9_]*');
      if (k === 'runbook_url') r.fail(p, `use the SLO's runbook_url field`);
      if (COMPUTED_ANNOTATIONS.includes(k)) r.fail(p, `is computed by jobslo (${COMPUTED_ANNOTATIONS.join(', ')}); templates may set summary, description and new names`);
      const text = textOf(v, p);
      const problem = checkTemplate(text);
      if (problem !== undefined) r.fail(p, problem);
      slo.annotations[k] = text;
    }
  }
  if (m['runbook_url'] !== undefined) {
    const u = r.string(m['runbook_url'], [...path, 'runbook_url']);
    if (!isHttpUrl(u)) r.fail([...path, 'runbook_url'], `must be an http(s) URL, got ${JSON.stringify(u)}`);
    slo.runbookUrl = u;
  }
}

/** `alerting.default_tiers`: per default tier (by its long window), `enabled` and `severity`. */
function applyDefaultTierSettings(r: Reader, value: unknown, path: Segment[], tiers: BurnRateTier[]): BurnRateTier[] {
  if (value === undefined) return tiers;
  const known = tiers.map((t) => formatDurationMillis(t.longWindowMillis));
  const m = r.mapping(value, path, known);
  for (const [key, v] of Object.entries(m)) {
    const p = [...path, key];
    const sm = r.mapping(v, p, ['enabled', 'severity']);
    const tier = tiers[known.indexOf(key)] as BurnRateTier;
    if (sm['enabled'] !== undefined) tier.enabled = r.boolean(sm['enabled'], [...p, 'enabled']);
    if (sm['severity'] !== undefined) tier.severity = r.string(sm['severity'], [...p, 'severity']);
  }
  return tiers;
}

function readAlerting(r: Reader, value: unknown, path: Segment[], windowMillis: number): SloDefinition['alerting'] {
  if (value === undefined) return { minEvents: 1, tiers: defaultTiers(windowMillis) };
  const m = r.mapping(value, path, ['min_events', 'tiers', 'default_tiers']);
  let minEvents = 1;
  if (m['min_events'] !== undefined) {
    minEvents = r.number(m['min_events'], [...path, 'min_events']);
    if (!Number.isInteger(minEvents) || minEvents < 0) r.fail([...path, 'min_events'], `must be a whole number >= 0, got ${minEvents}`);
  }
  const t = m['tiers'];
  if (t === undefined || t === 'default') return { minEvents, tiers: applyDefaultTierSettings(r, m['default_tiers'], [...path, 'default_tiers'], defaultTiers(windowMillis)) };
  if (typeof t === 'string') r.fail([...path, 'tiers'], `must be "default" or a list of tiers, got ${describe(t)}`);
  if (m['default_tiers'] !== undefined) r.fail([...path, 'default_tiers'], 'only applies with tiers: default; set severity and enabled on the tiers of the list');
  const tiers = r.list(t, [...path, 'tiers']).map((item, i): BurnRateTier => {
    const p = [...path, 'tiers', i];
    const tm = r.mapping(item, p, ['severity', 'long', 'short', 'factor', 'budget', 'enabled']);
    const severity = r.string(tm['severity'], [...p, 'severity']);
    const longWindowMillis = r.duration(tm['long'], [...p, 'long']);
    const shortWindowMillis = r.duration(tm['short'], [...p, 'short']);
    if (shortWindowMillis >= longWindowMillis) {
      r.fail([...p, 'short'], `must be shorter than long (${formatDurationMillis(longWindowMillis)}), got ${formatDurationMillis(shortWindowMillis)}`);
    }
    if ((tm['factor'] === undefined) === (tm['budget'] === undefined)) {
      r.fail(p, 'needs exactly one of factor (a burn rate, e.g. 14.4) or budget (the fraction of the error budget spent in the long window, e.g. 0.02)');
    }
    let factor: number;
    if (tm['factor'] !== undefined) {
      factor = r.number(tm['factor'], [...p, 'factor']);
      if (factor <= 0) r.fail([...p, 'factor'], `must be > 0, got ${factor}`);
    } else {
      const budget = r.number(tm['budget'], [...p, 'budget']);
      if (!(budget > 0 && budget <= 1)) r.fail([...p, 'budget'], `must be in (0, 1], got ${budget}`);
      factor = burnFactor(budget, windowMillis, longWindowMillis);
    }
    const enabled = tm['enabled'] === undefined ? true : r.boolean(tm['enabled'], [...p, 'enabled']);
    return { severity, longWindowMillis, shortWindowMillis, factor, enabled };
  });
  return { minEvents, tiers };
}

function readAlerts(r: Reader, value: unknown, env: NodeJS.ProcessEnv, readFile: ((p: string) => string) | null): AlertsConfig {
  const alerts: AlertsConfig = { webhooks: [], repeatIntervalMillis: DEFAULT_REPEAT_MILLIS, externalUrl: '' };
  if (value === undefined) return alerts;
  const m = r.mapping(value, ['alerts'], ['webhooks', 'alertmanagers', 'repeat_interval', 'external_url']);
  if (m['alertmanagers'] !== undefined) alerts.alertmanagers = readAlertmanagers(r, m['alertmanagers']);
  if (m['repeat_interval'] !== undefined) alerts.repeatIntervalMillis = r.duration(m['repeat_interval'], ['alerts', 'repeat_interval']);
  if (m['external_url'] !== undefined) {
    const u = r.string(m['external_url'], ['alerts', 'external_url']);
    if (!isHttpUrl(u)) r.fail(['alerts', 'external_url'], `must be an http(s) URL, got ${JSON.stringify(u)}`);
    alerts.externalUrl = u.replace(/\/+$/, '');
  }
  if (m['webhooks'] !== undefined) {
    const names = new Set<string>();
    alerts.webhooks = r.list(m['webhooks'], ['alerts', 'webhooks']).map((w, i): WebhookConfig => {
      const p: Segment[] = ['alerts', 'webhooks', i];
      const wm = r.mapping(w, p, ['name', 'url', 'format', 'secret', 'timeout']);
      const name = r.string(wm['name'], [...p, 'name']);
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) r.fail([...p, 'name'], `must match [A-Za-z0-9_.-]+ (it names outbox files), got ${JSON.stringify(name)}`);
      if (names.has(name)) r.fail([...p, 'name'], `"${name}" is used by another webhook; names must be unique`);
      names.add(name);
      const url = r.string(wm['url'], [...p, 'url']);
      if (!isHttpUrl(url)) r.fail([...p, 'url'], `must be an http(s) URL, got ${JSON.stringify(url)}`);
      const format = r.oneOf(wm['format'] ?? 'alertmanager', [...p, 'format'], ['alertmanager', 'slack', 'json'] as const);
      const timeoutMillis = wm['timeout'] === undefined ? DEFAULT_WEBHOOK_TIMEOUT_MILLIS : r.duration(wm['timeout'], [...p, 'timeout']);
      const hook: WebhookConfig = { name, url, format, timeoutMillis };
      if (wm['secret'] !== undefined) {
        const secret = readSecret(r, wm['secret'], [...p, 'secret'], env, readFile);
        if (secret !== undefined) hook.secret = secret;
      }
      return hook;
    });
  }
  return alerts;
}

function readAlertmanagers(r: Reader, value: unknown): AlertmanagerTarget[] {
  const names = new Set<string>();
  return r.list(value, ['alerts', 'alertmanagers']).map((a, i): AlertmanagerTarget => {
    const p: Segment[] = ['alerts', 'alertmanagers', i];
    const am = r.mapping(a, p, ['name', 'url', 'timeout']);
    const name = r.string(am['name'], [...p, 'name']);
    if (names.has(name)) r.fail([...p, 'name'], `"${name}" is used by another Alertmanager; names must be unique`);
    names.add(name);
    const url = r.string(am['url'], [...p, 'url']);
    if (!isHttpUrl(url)) r.fail([...p, 'url'], `must be the http(s) base URL of an Alertmanager (e.g. http://alertmanager:9093), got ${JSON.stringify(url)}`);
    if (/\/api\/v[12]\/?/.test(url)) r.fail([...p, 'url'], `is the base URL only; jobslo adds /api/v2/alerts, got ${JSON.stringify(url)}`);
    const timeoutMillis = am['timeout'] === undefined ? DEFAULT_WEBHOOK_TIMEOUT_MILLIS : r.duration(am['timeout'], [...p, 'timeout']);
    return { name, url: url.replace(/\/+$/, ''), timeoutMillis };
  });
}

/** The secret, or undefined when `readFile` is null (form checked only). */
function readSecret(r: Reader, value: unknown, path: Segment[], env: NodeJS.ProcessEnv, readFile: ((p: string) => string) | null): string | undefined {
  const ref = r.string(value, path);
  // The value itself is never echoed: it may be a pasted secret.
  if (!ref.startsWith('env:') && !ref.startsWith('file:')) r.fail(path, 'must be env:VARIABLE or file:PATH; secrets are not written into the config file');
  if (readFile === null) return undefined;
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const v = env[name];
    if (v === undefined || v === '') r.fail(path, `environment variable ${name} is not set (or empty)`);
    return v;
  }
  let v: string;
  try {
    v = readFile(ref.slice(5)).trim();
  } catch (err) {
    r.fail(path, `cannot read secret file ${ref.slice(5)}: ${errorMessage(err)}`);
  }
  if (v === '') r.fail(path, `secret file ${ref.slice(5)} is empty`);
  return v;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * An OpenSLO v1 `kind: SLO` whose ratio indicator counts jobslo runs:
 * `good` and `total` both have `metricSource.type: jobslo` and the same
 * `metricSource.spec.job`; `good.metricSource.spec.query` is
 * `outcome="succeeded"` (success SLI) or `outcome="succeeded" and latency<=DURATION`
 * (latency SLI); `total.metricSource.spec.query` is `counted` (succeeded,
 * failed and timed-out runs). Only rolling `Occurrences` windows with one
 * objective are supported; anything else is an error naming the part.
 */
function readOpenSlo(r: Reader, doc: Record<string, unknown>): SloDefinition {
  if (doc['apiVersion'] !== 'openslo/v1') r.fail(['apiVersion'], `unsupported OpenSLO version ${describe(doc['apiVersion'])}; only openslo/v1 is supported`);
  if (doc['kind'] !== 'SLO') r.fail(['kind'], `unsupported OpenSLO kind ${describe(doc['kind'])}; only kind: SLO is supported (inline its indicator)`);
  const root = r.mapping(doc, [], ['apiVersion', 'kind', 'metadata', 'spec']);
  const meta = r.mapping(root['metadata'], ['metadata'], ['name', 'displayName', 'labels', 'annotations']);
  const name = r.string(meta['name'], ['metadata', 'name']);
  const spec = r.mapping(root['spec'], ['spec'], ['description', 'service', 'indicator', 'indicatorRef', 'budgetingMethod', 'timeWindow', 'objectives', 'alertPolicies']);
  if (spec['indicatorRef'] !== undefined) r.fail(['spec', 'indicatorRef'], 'is not supported; inline the indicator under spec.indicator');
  if (spec['alertPolicies'] !== undefined) r.fail(['spec', 'alertPolicies'], 'is not supported; jobslo alerts with multiwindow burn-rate tiers (see docs/slos.md)');
  const method = spec['budgetingMethod'] ?? 'Occurrences';
  if (method !== 'Occurrences') r.fail(['spec', 'budgetingMethod'], `${describe(method)} is not supported; only Occurrences`);
  const windows = r.list(spec['timeWindow'], ['spec', 'timeWindow']);
  if (windows.length !== 1) r.fail(['spec', 'timeWindow'], `must have exactly one window, got ${windows.length}`);
  const tw = r.mapping(windows[0], ['spec', 'timeWindow', 0], ['duration', 'isRolling', 'calendar']);
  if (tw['calendar'] !== undefined || tw['isRolling'] === false) r.fail(['spec', 'timeWindow', 0], 'calendar windows are not supported; use isRolling: true');
  const windowMillis = r.duration(tw['duration'], ['spec', 'timeWindow', 0, 'duration']);
  const objectives = r.list(spec['objectives'], ['spec', 'objectives']);
  if (objectives.length !== 1) r.fail(['spec', 'objectives'], `must have exactly one objective, got ${objectives.length}`);
  const op: Segment[] = ['spec', 'objectives', 0];
  const obj = r.mapping(objectives[0], op, ['displayName', 'target', 'targetPercent', 'op', 'value', 'timeSliceTarget', 'timeSliceWindow']);
  for (const k of ['op', 'value', 'timeSliceTarget', 'timeSliceWindow']) {
    if (obj[k] !== undefined) r.fail([...op, k], 'is not supported; ratio SLOs need only target');
  }
  let objective: number;
  if (obj['target'] !== undefined) objective = r.objective(obj['target'], [...op, 'target']);
  else if (obj['targetPercent'] !== undefined) objective = r.objective(r.number(obj['targetPercent'], [...op, 'targetPercent']) / 100, [...op, 'targetPercent']);
  else r.fail(op, 'needs target (0..1) or targetPercent (0..100)');

  const ip: Segment[] = ['spec', 'indicator'];
  const ind = r.mapping(spec['indicator'], ip, ['metadata', 'spec']);
  const isp = r.mapping(ind['spec'], [...ip, 'spec'], ['ratioMetric', 'thresholdMetric']);
  if (isp['thresholdMetric'] !== undefined) r.fail([...ip, 'spec', 'thresholdMetric'], 'is not supported; use ratioMetric with good and total');
  const rp: Segment[] = [...ip, 'spec', 'ratioMetric'];
  const ratio = r.mapping(isp['ratioMetric'], rp, ['counter', 'good', 'bad', 'total', 'rawType', 'raw']);
  for (const k of ['bad', 'raw', 'rawType']) if (ratio[k] !== undefined) r.fail([...rp, k], 'is not supported; use good and total');
  const source = (which: 'good' | 'total'): { job: string; query: string } => {
    const p: Segment[] = [...rp, which];
    const part = r.mapping(ratio[which], p, ['metricSource']);
    const ms = r.mapping(part['metricSource'], [...p, 'metricSource'], ['metricSourceRef', 'type', 'spec']);
    if (ms['metricSourceRef'] !== undefined) r.fail([...p, 'metricSource', 'metricSourceRef'], 'is not supported; use type: jobslo');
    if (ms['type'] !== 'jobslo') r.fail([...p, 'metricSource', 'type'], `${describe(ms['type'])} is not supported; only type: jobslo (jobslo run outcomes)`);
    const s = r.mapping(ms['spec'], [...p, 'metricSource', 'spec'], ['job', 'query']);
    return { job: r.string(s['job'], [...p, 'metricSource', 'spec', 'job']), query: r.string(s['query'], [...p, 'metricSource', 'spec', 'query']).trim() };
  };
  const good = source('good');
  const total = source('total');
  if (good.job !== total.job) r.fail([...rp, 'total', 'metricSource', 'spec', 'job'], `must equal the good job ${JSON.stringify(good.job)}, got ${JSON.stringify(total.job)}`);
  if (total.query !== 'counted') r.fail([...rp, 'total', 'metricSource', 'spec', 'query'], `must be "counted" (succeeded, failed and timed-out runs), got ${JSON.stringify(total.query)}`);
  const gq = /^outcome\s*=\s*"succeeded"(?:\s+and\s+latency\s*<=\s*(\S+))?$/.exec(good.query);
  const gqPath: Segment[] = [...rp, 'good', 'metricSource', 'spec', 'query'];
  if (!gq) r.fail(gqPath, `${JSON.stringify(good.query)} is not supported; use outcome="succeeded" or outcome="succeeded" and latency<=10m`);
  const slo: SloDefinition = {
    name,
    job: good.job,
    sli: gq[1] === undefined ? 'success' : 'latency',
    objective,
    windowMillis,
    alerting: { minEvents: 1, tiers: defaultTiers(windowMillis) },
    labels: {},
    annotations: {},
    source: 'openslo',
  };
  if (gq[1] !== undefined) slo.latencyThresholdMillis = r.duration(gq[1], gqPath);
  return slo;
}

/**
 * The `--store` value: the flag, else `JOBSLO_STORE`, else the config's
 * `store:`, else `undefined` (the caller's default).
 */
export function configuredStore(flag: string | undefined, env: NodeJS.ProcessEnv, config: JobsloConfig | undefined): string | undefined {
  return flag ?? env['JOBSLO_STORE'] ?? config?.store;
}
