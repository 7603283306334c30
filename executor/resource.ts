/**
 * Resource attributes from the environment, as the OpenTelemetry SDK
 * specification says: `OTEL_RESOURCE_ATTRIBUTES` is `key1=value1,key2=value2`
 * (the W3C Baggage format without `;` metadata), keys and values
 * percent-decoded and trimmed, every value a string; `,` and `=` inside a
 * key or value must be percent-encoded. On any error the whole variable is
 * discarded and the error reported. `OTEL_SERVICE_NAME`, when set, wins over
 * a `service.name` in `OTEL_RESOURCE_ATTRIBUTES`.
 */
import { ATTR_SERVICE_NAME } from '../contracts/index.js';

/** What {@link parseResourceAttributes} found. */
export interface ParsedResourceAttributes {
  attributes: Record<string, string>;
  /** Why the whole value was discarded, when it was. */
  error?: string;
}

/**
 * Parses an `OTEL_RESOURCE_ATTRIBUTES` value. Empty entries (`a=1,,b=2`)
 * are skipped; a later duplicate key wins.
 */
export function parseResourceAttributes(raw: string | undefined): ParsedResourceAttributes {
  if (raw === undefined || raw.trim() === '') return { attributes: {} };
  const attributes: Record<string, string> = {};
  for (const entry of raw.split(',')) {
    if (entry.trim() === '') continue;
    const parts = entry.split('=');
    if (parts.length !== 2) {
      return { attributes: {}, error: `"${entry.trim()}" is not key=value (a "," or "=" inside a key or value must be percent-encoded as %2C or %3D)` };
    }
    const [rawKey, rawValue] = parts as [string, string];
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey.trim());
      value = decodeURIComponent(rawValue.trim());
    } catch {
      return { attributes: {}, error: `"${entry.trim()}" has an invalid percent-encoding` };
    }
    if (key === '') return { attributes: {}, error: `"${entry.trim()}" has an empty key` };
    attributes[key] = value;
  }
  return { attributes };
}

/** Resource attributes from `env`, and a warning when `OTEL_RESOURCE_ATTRIBUTES` was discarded. */
export interface EnvResource {
  attributes: Record<string, string>;
  warning?: string;
}

/**
 * The resource attributes `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME`
 * in `env` give (see the module comment). An empty `OTEL_SERVICE_NAME` counts
 * as unset.
 */
export function resourceFromEnv(env: NodeJS.ProcessEnv): EnvResource {
  const parsed = parseResourceAttributes(env['OTEL_RESOURCE_ATTRIBUTES']);
  const attributes = { ...parsed.attributes };
  const serviceName = env['OTEL_SERVICE_NAME']?.trim();
  if (serviceName) attributes[ATTR_SERVICE_NAME] = serviceName;
  const out: EnvResource = { attributes };
  if (parsed.error !== undefined) out.warning = `OTEL_RESOURCE_ATTRIBUTES ignored: ${parsed.error}`;
  return out;
}
