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
