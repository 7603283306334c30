import { ROOT_CONTEXT, createTraceState, isSpanContextValid, trace, type Context, type SpanContext } from '@opentelemetry/api';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Context whose parent is the W3C `TRACEPARENT` (and `TRACESTATE`) in `env`,
 * as set by a CI system or a parent `jobslo run`; `ROOT_CONTEXT` when absent
 * or malformed (version `ff`, all-zero ids, or extra fields on version `00`
 * are invalid per W3C Trace Context).
 */
export function contextFromEnv(env: Readonly<Record<string, string | undefined>>): Context {
  const m = TRACEPARENT.exec((env['TRACEPARENT'] ?? '').trim());
  if (!m) return ROOT_CONTEXT;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return ROOT_CONTEXT;
  const sc: SpanContext = {
    traceId: traceId ?? '',
    spanId: spanId ?? '',
    traceFlags: parseInt(flags ?? '00', 16) & 1,
    isRemote: true,
  };
  const state = env['TRACESTATE'];
  if (state !== undefined && state.trim() !== '') sc.traceState = createTraceState(state);
  if (!isSpanContextValid(sc)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, sc);
}

/** `TRACEPARENT` / `TRACESTATE` variables naming `sc` as the parent of a child process. */
export function envForSpanContext(sc: SpanContext): Record<string, string> {
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0');
  const out: Record<string, string> = { TRACEPARENT: `00-${sc.traceId}-${sc.spanId}-${flags}` };
  const state = sc.traceState?.serialize();
  if (state) out['TRACESTATE'] = state;
  return out;
}
