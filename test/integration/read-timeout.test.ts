/**
 * The read API of a real `jobslo collector --store duckdb:FILE` (store on its
 * own thread): a read still running after --read-timeout is stopped and
 * answered 503, a write sent meanwhile is stored, and reads work again; the
 * thread's exporter metrics are served on /metrics. On a ClickHouse store,
 * which every command reads directly, there is no read API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { parsePromText, promValue } from '../support/prom-text.js';
import { runSpans } from '../support/spans.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';
import { buildCli, runCli, spawnCli, uniqueDatabase, waitFor } from './_util.js';
import type { CliProcess } from './_util.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const RANGE = { fromMillis: T0 - 3_600_000, toMillis: T0 + 3_600_000 };
let dir: string;
let collector: CliProcess;
let url: string;

beforeAll(async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'jobslo-read-timeout-'));
  collector = spawnCli(['collector', '--port', '0', '--no-grpc', '--store', `duckdb:${join(dir, 'r.duckdb')}`, '--read-timeout', '100ms']);
  url = await waitFor('the collector to listen', () => /collector listening url=(http:\/\/[^\s]+)\/v1\/traces/.exec(collector.output())?.[1], 60_000, 50);
}, 240_000);

afterAll(async () => {
  await collector?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const read = (method: string, args: unknown[]): Promise<Response> =>
  fetch(`${url}/api/v1/store`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method, args }) });
const write = (job: string): Promise<Response> =>
  fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: Buffer.from(encodeTraceRequestProto(runSpans({ job, startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] }))),
  });

describe('collector read API: --read-timeout through the store thread', () => {
  it('stops a read past its time budget with 503, stores a write sent meanwhile, and reads again', async () => {
    expect((await write('before')).status).toBe(200);
    // 10,000 windows run as 157 store queries one after the other: never within 100 ms.
    const windows = Array.from({ length: 10_000 }, (_, i) => (i + 1) * 60_000);
    const slow = read('windowCountsMany', [[{ jobs: '*', criterion: { kind: 'success' }, endMillis: T0 + 3_600_000, windowsMillis: windows }]]);
    const during = write('during');
    const answer = await slow;
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { message: string }).message).toMatch(/time budget of 100 ms/);
    expect((await during).status).toBe(200);
    // A short read fits the budget again (on a loaded machine one may not: the condition is waited on).
    const names = await waitFor(
      'a short read to answer',
      async () => {
        const r = await read('jobNames', [RANGE]);
        return r.status === 200 ? ((await r.json()) as { result: string[] }).result : undefined;
      },
      30_000,
      100,
    );
    expect(names).toEqual(['before', 'during']);
    // The store thread's exporter metrics are served with the receiver's.
    const spansPerWrite = runSpans({ job: 'x', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] }).length;
    const samples = parsePromText(await (await fetch(`${url}/metrics`)).text());
    expect(promValue(samples, 'jobslo_exporter_sent_items_total', { exporter: 'store', signal: 'spans' })).toBe(2 * spansPerWrite);
    expect(promValue(samples, 'jobslo_receiver_accepted_spans_total', { transport: 'http' })).toBe(2 * spansPerWrite);
  }, 120_000);
});

const chUp = await requireService('ClickHouse', () => probeClickHouse(), 'collector read API on a ClickHouse store (test/integration/read-timeout.test.ts)');

describe.skipIf(!chUp)('collector on a ClickHouse store: no read API', () => {
  it('answers /api/v1/store 404 while storing spans, and refuses --read-timeout and --read-port', async () => {
    const db = uniqueDatabase();
    const store = `clickhouse:${clickhouseUrl()}/${db}`;
    const ch = spawnCli(['collector', '--port', '0', '--no-grpc', '--store', store]);
    try {
      const chUrl = await waitFor('the collector to listen', () => /collector listening url=(http:\/\/[^\s]+)\/v1\/traces/.exec(ch.output())?.[1], 60_000, 50);
      const res = await fetch(`${chUrl}/api/v1/store`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'jobNames', args: [RANGE] }) });
      expect(res.status).toBe(404);
      const stored = await fetch(`${chUrl}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: Buffer.from(encodeTraceRequestProto(runSpans({ job: 'ch', startMillis: T0, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 5, outcome: 'succeeded' }] }))),
      });
      expect(stored.status).toBe(200);
      for (const flag of [['--read-timeout', '1s'], ['--read-port', '0']]) {
        const refused = await runCli(['collector', '--port', '0', '--no-grpc', '--store', store, ...flag]);
        expect(refused.code).toBe(2);
        expect(refused.output).toContain(`${flag[0] as string}: only applies with a DuckDB store`);
      }
    } finally {
      await ch.kill('SIGKILL');
      await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
    }
  }, 120_000);
});
