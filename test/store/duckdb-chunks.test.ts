import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../store/duckdb.js';
import { deriveSpan } from '../../store/derive/index.js';
import { toSpanRow } from '../../store/rows.js';
import type { SpanRecord } from '../../contracts/index.js';
import { runSpans } from '../support/spans.js';

const RUNS = 1100; // about 2,400 spans and job rows: more than one 2,048-row data chunk per table

/** Job spans with and without the nullable values (exit code, cost, queue time), plus spans that form no run. */
function fixture(): SpanRecord[] {
  const t0 = Date.UTC(2026, 10, 30, 23, 0, 0);
  const spans: SpanRecord[] = [];
  for (let i = 0; i < RUNS; i++) {
    const failedFirst = i % 3 === 0;
    spans.push(
      ...runSpans({
        job: `job-${i % 7}`,
        // crosses midnight, so the DATE columns take two values
        startMillis: t0 + i * 7_000,
        outcome: i % 11 === 0 ? 'failed' : 'succeeded',
        attempts: [
          ...(failedFirst ? [{ startOffsetMillis: 0, durationMillis: 500, outcome: 'failed' as const, exitCode: 1 }] : []),
          { startOffsetMillis: failedFirst ? 1_000 : 0, durationMillis: 800, outcome: i % 11 === 0 ? ('failed' as const) : ('succeeded' as const), ...(i % 2 === 0 ? { exitCode: 0 } : {}) },
        ],
        deadLettered: i % 13 === 0,
        extraAttributes: i % 5 === 0 ? { 'jobslo.cost.amount': 0.25 * i, 'jobslo.run.queued_time_unix_nano': String(BigInt(t0 + i * 7_000 - 2_000) * 1_000_000n) } : {},
      }),
    );
  }
  // A job span without a run id forms no run (an unformed span).
  for (let i = 0; i < 5; i++) {
    const first = spans[i] as SpanRecord;
    spans.push({ ...first, spanId: `unformed${i}`.padEnd(16, '0'), attributes: { 'jobslo.job.name': 'job-x', 'jobslo.span.type': 'run' } });
  }
  return spans;
}

const plain = (v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

describe('DuckDB column-wise inserts', () => {
  let store: DuckDbStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('stores every span, job row, rollup mark and unformed span of an insert larger than a data chunk, with exact values and NULLs', async () => {
    store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    const spans = fixture();
    expect(spans.length).toBeGreaterThan(2049);
    await store.insertSpans(spans);

    const spanRows = await store.query(
      `SELECT strftime(day, '%Y-%m-%d') AS day, trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, status_message, service_name,
              job, run_id, span_type, attributes, resource_attributes, events FROM spans ORDER BY span_id`,
    );
    const expectedSpans = spans
      .map((s) => {
        const r = toSpanRow(s);
        return {
          day: new Date(Number(r.startNs / 1_000_000n)).toISOString().slice(0, 10),
          trace_id: r.traceId,
          span_id: r.spanId,
          parent_span_id: r.parentSpanId,
          name: r.name,
          kind: r.kind,
          start_ns: r.startNs.toString(),
          end_ns: r.endNs.toString(),
          status_code: r.statusCode,
          status_message: r.statusMessage,
          service_name: r.serviceName,
          job: r.job,
          run_id: r.runId,
          span_type: r.spanType,
          attributes: r.attributes,
          resource_attributes: r.resourceAttributes,
          events: r.events,
        };
      })
      .sort((a, b) => (a.span_id < b.span_id ? -1 : 1));
    expect(spanRows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)])))).toEqual(expectedSpans);

    const jobRows = await store.query(
      `SELECT strftime(day, '%Y-%m-%d') AS day, profile, job, run_id, role, attempt, start_ns, end_ns, outcome, terminal, run_attempts, error_type, exit_code,
              message, queued_ns, cost, cpu_seconds, max_rss_bytes, dead_lettered, trace_id, span_id FROM job_rows ORDER BY span_id, role`,
    );
    const expectedRows = spans
      .flatMap((s) => deriveSpan(s).rows)
      .map((r) => ({
        day: new Date(Number(r.endNs / 1_000_000n)).toISOString().slice(0, 10),
        profile: r.profile,
        job: r.job,
        run_id: r.runId,
        role: r.role,
        attempt: r.attempt,
        start_ns: r.startNs.toString(),
        end_ns: r.endNs.toString(),
        outcome: r.outcome,
        terminal: r.terminal,
        run_attempts: r.runAttempts,
        error_type: r.errorType,
        exit_code: r.exitCode,
        message: r.message,
        queued_ns: r.queuedNs === null ? null : r.queuedNs.toString(),
        cost: r.cost,
        cpu_seconds: r.cpuSeconds,
        max_rss_bytes: r.maxRssBytes,
        dead_lettered: r.deadLettered,
        trace_id: r.traceId,
        span_id: r.spanId,
      }))
      .sort((a, b) => (a.span_id < b.span_id ? -1 : a.span_id > b.span_id ? 1 : a.role < b.role ? -1 : 1));
    expect(expectedRows.length).toBeGreaterThan(2049);
    expect(expectedRows.some((r) => r.exit_code === null) && expectedRows.some((r) => r.exit_code !== null)).toBe(true);
    expect(expectedRows.some((r) => r.queued_ns !== null) && expectedRows.some((r) => r.cost === null) && expectedRows.some((r) => r.cost !== null)).toBe(true);
    expect(jobRows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)])))).toEqual(expectedRows);
    expect(new Set(expectedRows.map((r) => r.day)).size).toBe(2);

    const [marks] = await store.query('SELECT count(*) AS n, count(DISTINCT seq) AS seqs, min(seq) AS lo, max(seq) AS hi FROM rollup_marks');
    expect(marks).toEqual({ n: BigInt(expectedRows.length), seqs: BigInt(expectedRows.length), lo: 1n, hi: BigInt(expectedRows.length) });

    const unformed = await store.query('SELECT span_id, profile, missing FROM unformed_spans ORDER BY span_id');
    expect(unformed.map((u) => u['span_id'])).toEqual([0, 1, 2, 3, 4].map((i) => `unformed${i}`.padEnd(16, '0')));
    expect(unformed.every((u) => u['profile'] === 'jobslo' && u['missing'] !== '')).toBe(true);
  });

  it('migration 6 drops the job values that spans carried beside job_rows from an existing store, keeping its spans and runs', async () => {
    store = await DuckDbStore.open({ path: ':memory:' });
    await store.migrate();
    const spans = fixture().slice(0, 300);
    await store.insertSpans(spans);
    const range = { fromMillis: Date.UTC(2026, 10, 30), toMillis: Date.UTC(2026, 11, 2) };
    const runsBefore = await store.listRuns({ ...range, jobs: '*', limit: 1000 });
    // A store as migration 5 left it: the job values still in spans.
    await store.query('DELETE FROM jobslo_migrations WHERE version = 6');
    for (const c of ['attempt INTEGER', 'outcome VARCHAR', 'run_attempts INTEGER', 'error_type VARCHAR', 'exit_code INTEGER', 'cost DOUBLE', 'cpu_seconds DOUBLE', 'max_rss_bytes DOUBLE', 'queued_ns BIGINT', 'dead_lettered BOOLEAN']) {
      await store.query(`ALTER TABLE spans ADD COLUMN ${c}`);
    }
    await store.migrate();
    const cols = await store.query(`SELECT column_name FROM duckdb_columns() WHERE table_name = 'spans' ORDER BY column_index`);
    expect(cols.map((c) => c['column_name'])).toEqual([
      'day', 'trace_id', 'span_id', 'parent_span_id', 'name', 'kind', 'start_ns', 'end_ns', 'status_code', 'status_message', 'service_name',
      'job', 'run_id', 'span_type', 'attributes', 'resource_attributes', 'events', 'received_ns',
    ]);
    expect(await store.query('SELECT count(*) AS n FROM spans')).toEqual([{ n: BigInt(spans.length) }]);
    expect(await store.listRuns({ ...range, jobs: '*', limit: 1000 })).toEqual(runsBefore);
    expect(runsBefore.length).toBeGreaterThan(100);
    await store.insertSpans(fixture().slice(0, 10));
    expect(await store.query('SELECT count(*) AS n FROM spans')).toEqual([{ n: BigInt(spans.length + 10) }]);
  });
});
