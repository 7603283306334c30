// Micro-benchmark of the OTLP trace decoders.
//
//   npx tsc -p tsconfig.build.json && node bench/otlp-decode.mjs [iterationsPerRound]
//
// Builds one ExportTraceServiceRequest of 1,000 spans shaped like a job's
// telemetry (10 attributes, one event, a 5-attribute resource), decodes it
// `iterationsPerRound` times per round (default 100), and prints spans/s per
// round and the median of 5 rounds, for protobuf and for the equivalent JSON.
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import {
  decodeTraceRequestJson,
  decodeTraceRequestProto,
  encodeTraceRequestProto,
} from '../dist/collector/otlp/index.js';

const SPANS = 1000;
const ROUNDS = 5;
const iterations = Number(process.argv[2] ?? 100);

const hex = (n, width) => n.toString(16).padStart(width, '0');

function buildSpans() {
  const resourceAttributes = {
    'service.name': 'nightly-report',
    'service.version': '1.4.2',
    'host.name': 'worker-7.internal',
    'process.pid': 4242,
    'deployment.environment': 'production',
  };
  const spans = [];
  const base = 1_700_000_000_000_000_000n;
  for (let i = 0; i < SPANS; i++) {
    const trace = Math.floor(i / 10) + 1;
    spans.push({
      traceId: hex(trace, 32),
      spanId: hex(i + 1, 16),
      parentSpanId: i % 10 === 0 ? '' : hex(i - (i % 10) + 1, 16),
      traceState: '',
      name: i % 10 === 0 ? 'run nightly-report' : 'attempt',
      kind: i % 10 === 0 ? 2 : 1,
      startTimeUnixNano: base + BigInt(i) * 1_000_000n,
      endTimeUnixNano: base + BigInt(i) * 1_000_000n + 750_000n,
      statusCode: i % 17 === 0 ? 2 : 0,
      statusMessage: i % 17 === 0 ? 'exit code 1' : '',
      attributes: {
        'job.name': 'nightly-report',
        'job.run_id': `run-${trace}`,
        'job.attempt.number': (i % 10) + 1,
        'job.attempt.outcome': i % 17 === 0 ? 'failure' : 'success',
        'job.queue.name': 'reports',
        'job.cost.amount': 0.0125 * (i % 10),
        'job.cpu_seconds': 1.5,
        'job.dead_lettered': false,
        'process.command': '/usr/bin/node dist/report.js --date=2024-01-01',
        'job.tags': ['nightly', 'reports'],
      },
      events: [{ name: 'job.retry.scheduled', timeUnixNano: base + BigInt(i) * 1_000_000n + 500_000n, attributes: { 'job.retry.delay_ms': 250 } }],
      resourceAttributes,
      scopeName: 'jobslo',
      scopeVersion: '0.1.0',
    });
  }
  return spans;
}

function toAnyValue(v) {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(toAnyValue) } };
  return {};
}
const toKeyValues = (attrs) => Object.entries(attrs).map(([key, value]) => ({ key, value: toAnyValue(value) }));

/** The same spans as OTLP/JSON, shaped as the OTel JS JSON exporter sends them. */
function toJson(spans) {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: toKeyValues(spans[0].resourceAttributes) },
        scopeSpans: [
          {
            scope: { name: 'jobslo', version: '0.1.0' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: String(s.startTimeUnixNano),
              endTimeUnixNano: String(s.endTimeUnixNano),
              attributes: toKeyValues(s.attributes),
              events: s.events.map((e) => ({ name: e.name, timeUnixNano: String(e.timeUnixNano), attributes: toKeyValues(e.attributes) })),
              status: { code: s.statusCode, message: s.statusMessage },
              flags: 257,
            })),
          },
        ],
      },
    ],
  });
}

function bench(label, size, decode) {
  const check = decode();
  if (check.spans.length !== SPANS || check.rejectedSpans !== 0) throw new Error(`${label}: decoded ${check.spans.length} spans`);
  for (let i = 0; i < Math.max(10, iterations / 5); i++) decode(); // warm-up
  const rates = [];
  const cpuRates = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) decode();
    const cpu = process.cpuUsage(c0);
    const seconds = (performance.now() - t0) / 1000;
    rates.push((SPANS * iterations) / seconds);
    // CPU time (user + system, including GC threads) is steadier than wall time on a busy machine.
    cpuRates.push((SPANS * iterations) / ((cpu.user + cpu.system) / 1e6));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  console.log(`${label}: ${(size / 1024).toFixed(0)} KiB per ${SPANS}-span request`);
  console.log(`  wall rounds (spans/s): ${rates.map(fmt).join(', ')}`);
  console.log(`  median: ${fmt(median(rates))} spans/s wall (${((size / SPANS) * median(rates) / 1e6).toFixed(1)} MB/s), ${fmt(median(cpuRates))} spans per CPU-second`);
}

const spans = buildSpans();
const proto = encodeTraceRequestProto(spans);
const json = toJson(spans);
console.log(`node ${process.version}, ${iterations} decodes of ${SPANS} spans per round, ${ROUNDS} rounds`);
bench('protobuf', proto.length, () => decodeTraceRequestProto(proto));
bench('json', Buffer.byteLength(json), () => decodeTraceRequestJson(json));
