/**
 * Job runs recorded with the real OpenTelemetry JS SDK (run span + one
 * attempt span each, jobslo attributes), for interop tests that export them
 * with the SDK's own exporters.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

export interface SdkRunsOptions {
  job: string;
  runs: number;
  /** First run's start, Unix ms; runs are 1 s apart. */
  startMillis: number;
  /** Extra attributes of the run span of run `i`, e.g. a poison value on one of them. */
  runAttributes?: (i: number) => Attributes;
}

/** Records `runs` runs, each a run span (root) and one attempt span, and returns the finished spans. */
export async function recordSdkRuns(options: SdkRunsOptions): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'sdk-interop' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('jobslo-sdk-interop', '1.0.0');
  for (let i = 0; i < options.runs; i++) {
    const start = options.startMillis + i * 1000;
    const runId = `${options.job}-run-${i}`;
    const run = tracer.startSpan(`run ${options.job}`, {
      kind: SpanKind.INTERNAL,
      startTime: start,
      attributes: {
        'jobslo.job.name': options.job,
        'jobslo.run.id': runId,
        'jobslo.span.type': 'run',
        'jobslo.run.outcome': 'succeeded',
        'jobslo.run.attempts': 1,
        ...(options.runAttributes?.(i) ?? {}),
      },
    });
    const attempt = tracer.startSpan(
      `attempt ${options.job}`,
      {
        startTime: start + 10,
        attributes: { 'jobslo.job.name': options.job, 'jobslo.run.id': runId, 'jobslo.span.type': 'attempt', 'jobslo.attempt.number': 1, 'jobslo.attempt.outcome': 'succeeded' },
      },
      trace.setSpan(ROOT_CONTEXT, run),
    );
    attempt.setStatus({ code: SpanStatusCode.OK });
    attempt.end(start + 500);
    run.end(start + 510);
  }
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

/** Exports with `exporter` and shuts it down; resolves to the export result. */
export async function exportSpans(exporter: SpanExporter, spans: readonly ReadableSpan[]): Promise<ExportResult> {
  try {
    return await new Promise<ExportResult>((resolve) => exporter.export([...spans], resolve));
  } finally {
    await exporter.shutdown();
  }
}

export { ExportResultCode };
