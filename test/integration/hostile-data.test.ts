/**
 * Hostile and odd-byte job names and attribute values travel as data through
 * the whole scale-out path: OTLP/HTTP (protobuf and JSON) -> collector Kafka
 * sink -> Kafka -> ingest -> ClickHouse, and come back unchanged from every
 * query that selects by them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaSink, startCollector, startIngest } from '../../collector/index.js';
import type { AttributeValue, SpanRecord } from '../../contracts/index.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { quoteString } from '../../store/_clickhouse.js';
import { runSpans } from '../support/spans.js';
import { clickhouseExec, clickhouseUrl, kafkaBrokers, probeClickHouse, probeKafka, requireService } from '../support/services.js';
import { captureLogger, cleanupKafka, postSpans, unique, uniqueDatabase, waitFor } from './_util.js';

const SUITE = 'hostile data through Kafka into ClickHouse (test/integration/hostile-data.test.ts)';
const up = (await requireService('ClickHouse', () => probeClickHouse(), SUITE)) && (await requireService('Kafka', () => probeKafka(), SUITE));

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };

const HOSTILE = [
  "x'); DROP TABLE spans; --",
  "'; SELECT * FROM system.users; --",
  'back\\slash \\\' \\\\',
  'tab\there\nnewline\rreturn',
  'nul\u0000 bell\u0007 esc\u001b del\u007f',
  'quote"d `back`tick',
  'percent%_under*star?q',
  'émoji 🚀 ünïcödé 𝔘𝔫𝔦',
  '  spaces  ',
  'C1\u0085\u009f nbsp\u00a0 bom\ufeff rtl\u202e',
];

/** OTLP JSON for spans (what an exporter with the JSON protocol sends). */
function otlpJson(spans: readonly SpanRecord[]): string {
  const value = (v: AttributeValue): unknown =>
    typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : typeof v === 'number' ? (Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }) : { stringValue: JSON.stringify(v) };
  const attrs = (a: Record<string, AttributeValue>): unknown[] => Object.entries(a).map(([key, v]) => ({ key, value: value(v) }));
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attrs(spans[0]?.resourceAttributes ?? {}) },
        scopeSpans: [
          {
            scope: { name: 'fixture' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.startTimeUnixNano.toString(),
              endTimeUnixNano: s.endTimeUnixNano.toString(),
              attributes: attrs(s.attributes),
              status: { code: s.statusCode, message: s.statusMessage },
            })),
          },
        ],
      },
    ],
  });
}

describe.skipIf(!up)('hostile and odd-byte names and values round-trip through Kafka into ClickHouse', () => {
  const brokers = kafkaBrokers();
  const topic = unique();
  const group = unique('group');
  const db = uniqueDatabase();

  afterAll(async () => {
    if (!up) return;
    await cleanupKafka(brokers, [topic], [group]);
    await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  it(
    'stores them as data and finds each again by name, as a failure mode and as an attribute value',
    async () => {
      const { logger } = captureLogger();
      const sink = new KafkaSink({ brokers, topic, logger });
      await sink.start();
      const collector = await startCollector({ sink, port: 0, logger });
      const store = await ClickHouseStore.open({ url: clickhouseUrl(), database: db });
      await store.migrate();
      const ingest = await startIngest({ brokers, store, topic, groupId: group, deadLetterTopic: null, batchMaxWaitMillis: 100, logger });
      try {
        const sent: SpanRecord[] = [];
        for (const [i, job] of HOSTILE.entries()) {
          const spans = runSpans({
            job,
            startMillis: T0,
            outcome: 'failed',
            attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'failed', exitCode: 3 }],
            extraAttributes: { 'error.type': job, 'odd.value': job, 'jobslo.queue.name': job },
          });
          sent.push(...spans);
          // Half as protobuf (forwarded raw), half as JSON (re-encoded by the collector).
          const res =
            i % 2 === 0
              ? await postSpans(collector.url, spans)
              : await fetch(`${collector.url}/v1/traces`, { method: 'POST', body: otlpJson(spans), headers: { 'content-type': 'application/json' } });
          expect(res.status, job).toBe(200);
        }
        // A batch's inserts (spans, job rows and their rollup marks) run at once: wait for all of what is read below.
        await waitFor(
          'all runs stored',
          async () =>
            (await store.jobNames(RANGE)).length === HOSTILE.length &&
            (await store.jobAggregates(RANGE)).length === HOSTILE.length &&
            Number((await store.query(`SELECT count() AS n FROM ${store.spansTable}`))[0]?.['n']) >= sent.length,
          30_000,
          200,
        );

        expect(await store.jobNames(RANGE)).toEqual([...HOSTILE].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        const aggs = await store.jobAggregates(RANGE);
        for (const job of HOSTILE) {
          expect(aggs.find((a) => a.job === job)?.failureModes, job).toEqual({ [job]: 1 });
          const [w] = await store.windowCounts({ jobs: job, criterion: { kind: 'success' }, endMillis: RANGE.toMillis, windowsMillis: [7_200_000] });
          expect(w?.total, job).toBe(1);
          const runs = await store.listRuns({ ...RANGE, jobs: job });
          expect(runs.map((r) => [r.job, r.errorType]), job).toEqual([[job, job]]);
        }
        // Attribute JSON comes back byte for byte, and quoteString finds rows by any of these values.
        for (const span of sent.filter((s) => s.parentSpanId === '')) {
          const rows = await store.query(`SELECT attributes FROM ${store.spansTable} WHERE span_id = ${quoteString(span.spanId)} AND job = ${quoteString(String(span.attributes['jobslo.job.name']))}`);
          expect(rows).toHaveLength(1);
          expect(JSON.parse(String(rows[0]?.['attributes']))).toEqual(span.attributes);
        }
        expect(await clickhouseExec(`SELECT count() FROM system.tables WHERE database = '${db}' AND name = 'spans' FORMAT TSV`)).toBe('1\n');
      } finally {
        await ingest.stop();
        await collector.close();
        await store.close();
      }
    },
    120_000,
  );
});
