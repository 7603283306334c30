import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR_SPAN_TYPE, SPAN_NAME_ATTEMPT, SPAN_NAME_RUN } from '../../../contracts/index.js';
import type { Clock } from '../../../executor/index.js';

/** An in-memory span pipeline for library tests. */
export function memoryTracing(): {
  provider: BasicTracerProvider;
  exporter: InMemorySpanExporter;
  runSpans(): ReadableSpan[];
  attemptSpans(): ReadableSpan[];
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const byType = (type: string, name: string) => () =>
    exporter.getFinishedSpans().filter((s) => s.attributes[ATTR_SPAN_TYPE] === type && s.name === name);
  return {
    provider,
    exporter,
    runSpans: byType('run', SPAN_NAME_RUN),
    attemptSpans: () =>
      byType('attempt', SPAN_NAME_ATTEMPT)().sort((a, b) => Number(a.attributes['jobslo.attempt.number']) - Number(b.attributes['jobslo.attempt.number'])),
  };
}

/** Span time (HrTime) to epoch milliseconds. */
export function ms(t: [number, number]): number {
  return t[0] * 1000 + t[1] / 1e6;
}

/** A clock on the (faked) global timers and `Date.now`, for `vi.useFakeTimers()`. */
export const fakeableClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, delayMillis) {
    const t = setTimeout(fn, delayMillis);
    return () => clearTimeout(t);
  },
};

export function eventNames(span: ReadableSpan): string[] {
  return span.events.map((e) => e.name);
}
