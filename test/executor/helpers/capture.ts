/** A tiny OTLP/HTTP JSON trace receiver on 127.0.0.1:0 that keeps what it gets, for CLI tests. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedEvent {
  name: string;
  timeNanos: bigint;
  attributes: Record<string, unknown>;
}

export interface CapturedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  startNanos: bigint;
  endNanos: bigint;
  statusCode: number;
  statusMessage: string;
  attributes: Record<string, unknown>;
  events: CapturedEvent[];
  resource: Record<string, unknown>;
  scope: string;
}

export interface Capture {
  /** Base URL for `--endpoint`. */
  url: string;
  spans: CapturedSpan[];
  requests: number;
  close(): Promise<void>;
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
};
type KeyValue = { key: string; value?: AnyValue };

function decodeValue(v: AnyValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(decodeValue);
  if (v.kvlistValue) return decodeAttrs(v.kvlistValue.values);
  return null;
}

function decodeAttrs(kvs: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) out[kv.key] = decodeValue(kv.value);
  return out;
}

interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  status?: { code?: number; message?: string };
  attributes?: KeyValue[];
  events?: { name: string; timeUnixNano: string | number; attributes?: KeyValue[] }[];
}
interface JsonRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { scope?: { name?: string }; spans?: JsonSpan[] }[] }[];
}

/** Starts the receiver; answers every POST with 200 `{}`. */
export async function startCapture(): Promise<Capture> {
  const spans: CapturedSpan[] = [];
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests += 1;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonRequest;
        for (const rs of body.resourceSpans ?? []) {
          const resource = decodeAttrs(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                name: s.name,
                startNanos: BigInt(s.startTimeUnixNano),
                endNanos: BigInt(s.endTimeUnixNano),
                statusCode: s.status?.code ?? 0,
                statusMessage: s.status?.message ?? '',
                attributes: decodeAttrs(s.attributes),
                events: (s.events ?? []).map((e) => ({ name: e.name, timeNanos: BigInt(e.timeUnixNano), attributes: decodeAttrs(e.attributes) })),
                resource,
                scope: ss.scope?.name ?? '',
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
