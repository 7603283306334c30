/** Where OTLP/HTTP traces go when nothing is configured. */
export const DEFAULT_TRACES_URL = 'http://localhost:4318/v1/traces';

/** Inputs of {@link resolveTracesEndpoint}. */
export interface EndpointSources {
  /** `--endpoint`: a base URL; `/v1/traces` is appended. */
  flag?: string | undefined;
  /** Environment to read `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` from. */
  env: Readonly<Record<string, string | undefined>>;
}

/** The resolved traces URL and the base URL to hand to child processes. */
export interface ResolvedEndpoint {
  /** Full URL to POST OTLP/HTTP traces to. */
  tracesUrl: string;
  /**
   * Base URL for a child's `OTEL_EXPORTER_OTLP_ENDPOINT`, or `undefined` when
   * the traces URL came from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the child
   * inherits that variable instead).
   */
  baseUrl: string | undefined;
  /** Which source won. */
  source: 'flag' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'default';
}

function appendTracesPath(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
}

/**
 * Resolves the OTLP/HTTP traces URL, first match wins:
 * 1. `--endpoint URL` (a base URL, `/v1/traces` appended);
 * 2. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, used as-is (OTel spec);
 * 3. `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (OTel spec);
 * 4. `http://localhost:4318/v1/traces`.
 *
 * Empty values count as unset, as in the OTel SDKs.
 */
export function resolveTracesEndpoint(sources: EndpointSources): ResolvedEndpoint {
  const flag = nonEmpty(sources.flag);
  if (flag !== undefined) return { tracesUrl: appendTracesPath(flag), baseUrl: flag.replace(/\/+$/, ''), source: 'flag' };
  const traces = nonEmpty(sources.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  if (traces !== undefined) return { tracesUrl: traces, baseUrl: undefined, source: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' };
  const base = nonEmpty(sources.env['OTEL_EXPORTER_OTLP_ENDPOINT']);
  if (base !== undefined) {
    return { tracesUrl: appendTracesPath(base), baseUrl: base.replace(/\/+$/, ''), source: 'OTEL_EXPORTER_OTLP_ENDPOINT' };
  }
  return { tracesUrl: DEFAULT_TRACES_URL, baseUrl: 'http://localhost:4318', source: 'default' };
}

/**
 * Parses an OTLP headers value (`OTEL_EXPORTER_OTLP_HEADERS`): comma-separated
 * `key=value` pairs with URL-encoded values, per the OpenTelemetry
 * specification. Malformed pairs are skipped, as the SDKs do.
 */
export function parseOtlpHeaders(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  for (const pair of value.split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    const key = pair.slice(0, i).trim();
    let v = pair.slice(i + 1).trim();
    try {
      v = decodeURIComponent(v);
    } catch {
      // not URL-encoded: kept as written
    }
    if (key !== '') out[key] = v;
  }
  return out;
}

/**
 * Headers for OTLP trace requests (and the lifecycle reporter, which talks to
 * the same collector): `OTEL_EXPORTER_OTLP_HEADERS`, overridden key by key
 * (case-insensitively) by `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, the
 * specification's precedence. This is how a bearer token reaches the
 * collector: `OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer TOKEN"`.
 */
export function resolveTraceHeaders(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const merged: Record<string, string> = {};
  const put = (h: Record<string, string>): void => {
    for (const [k, v] of Object.entries(h)) {
      for (const existing of Object.keys(merged)) if (existing.toLowerCase() === k.toLowerCase()) delete merged[existing];
      merged[k] = v;
    }
  };
  put(parseOtlpHeaders(env['OTEL_EXPORTER_OTLP_HEADERS']));
  put(parseOtlpHeaders(env['OTEL_EXPORTER_OTLP_TRACES_HEADERS']));
  return merged;
}
