/**
 * Auth and TLS through the real CLI: a public collector refuses to start
 * without tokens; with tokens, "jobslo run" delivers only with the headers
 * OpenTelemetry exporters send, "jobslo analyze" reads the DuckDB file
 * through the collector's own loopback read listener, "jobslo serve" guards
 * its report and metrics, and no token reaches any log.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/kafka-broker.js';
import { parsePromText, promValue } from '../support/prom-text.js';
import { selfSignedCert, send } from '../support/tls.js';
import { buildCli, runCli, spawnCli, waitFor } from '../integration/_util.js';
import type { CliProcess } from '../integration/_util.js';

const INGEST = 'cli-ingest-7d1e3f5a9b2c4d6e';
const READ = 'cli-read-8e2f4a6b1c3d5e7f';
const TOKENS = { JOBSLO_TEST_INGEST: INGEST, JOBSLO_TEST_READ: READ };
const dir = mkdtempSync(join(tmpdir(), 'jobslo-cli-security-'));
const procs: CliProcess[] = [];

beforeAll(() => buildCli(), 180_000);
afterAll(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const noTokens = (text: string): void => {
  for (const t of [INGEST, READ]) expect(text).not.toContain(t);
};

describe('jobslo collector on a public address', () => {
  it('refuses to start without a token, naming the insecure flag', async () => {
    const r = await runCli(['collector', '--host', '0.0.0.0', '--port', '0', '--store', `duckdb:${join(dir, 'refused.duckdb')}`]);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/--insecure-allow-unauthenticated/);
  });

  it('refuses a literal token on the command line without echoing it', async () => {
    const r = await runCli(['collector', '--ingest-token', INGEST, '--port', '0', '--store', `duckdb:${join(dir, 'literal.duckdb')}`]);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/--ingest-token: must be env:VARIABLE or file:PATH/);
    noTokens(r.output);
  });

  it('with tokens: run delivers only with OTEL_EXPORTER_OTLP_HEADERS, analyze reads through the loopback read listener, serve guards /metrics, no token in any log', async () => {
    const db = join(dir, 'public.duckdb');
    const port = await freePort();
    const collector = spawnCli(
      ['collector', '--host', '0.0.0.0', '--port', String(port), '--grpc-port', '0', '--store', `duckdb:${db}`, '--ingest-token', 'env:JOBSLO_TEST_INGEST', '--read-token', 'env:JOBSLO_TEST_READ'],
      { ...TOKENS, JOBSLO_LOG_LEVEL: 'debug' },
    );
    procs.push(collector);
    const base = `http://127.0.0.1:${port}`;
    await waitFor('collector /health', async () => (await fetch(`${base}/health`)).ok, 30_000, 200);
    await waitFor('owner file', () => {
      try {
        return JSON.parse(readFileSync(`${db}.collector.json`, 'utf8')) as { url: string; token?: string };
      } catch {
        return undefined;
      }
    });
    const owner = JSON.parse(readFileSync(`${db}.collector.json`, 'utf8')) as { url: string; token?: string };
    expect(statSync(`${db}.collector.json`).mode & 0o777).toBe(0o600);
    expect(owner.url).not.toBe(base);
    expect(typeof owner.token).toBe('string');

    const run = (env: Record<string, string>): Promise<{ code: number | string; output: string }> =>
      runCli(['run', '--job', 'secured', '--endpoint', base, '--state-dir', join(dir, 'state'), '--', 'true'], env);
    const without = await run({});
    expect(without.code).toBe(0);
    expect(without.output).toMatch(/telemetry not delivered.*Unauthorized/);
    const wrongScope = await run({ OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${READ}` });
    expect(wrongScope.output).toMatch(/telemetry not delivered.*Forbidden/);
    const ok = await run({ OTEL_EXPORTER_OTLP_HEADERS: 'x-team=jobs', OTEL_EXPORTER_OTLP_TRACES_HEADERS: `Authorization=Bearer%20${INGEST}` });
    expect(ok.code).toBe(0);
    expect(ok.output).toBe('');

    // The public listener does not serve the read API; the owner file's listener does, with its token.
    expect((await fetch(`${base}/api/v1/store`, { method: 'POST', headers: { authorization: `Bearer ${READ}` }, body: '{}' })).status).toBe(404);
    const analyzed = await runCli(['analyze', '--store', `duckdb:${db}`, '--since', '1h', '--format', 'json']);
    expect(analyzed.code, analyzed.output).toBe(0);
    const job = (JSON.parse(analyzed.stdout) as { jobs: { job: string; runs: number }[] }).jobs.find((j) => j.job === 'secured');
    expect(job?.runs).toBe(1);

    // /metrics: read scope; the refused runs show as unauthenticated and forbidden requests.
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${INGEST}` } })).status).toBe(403);
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${READ}` } });
    expect(metrics.status).toBe(200);
    const samples = parsePromText(await metrics.text());
    expect(promValue(samples, 'jobslo_receiver_requests_total', { outcome: 'unauthenticated' })).toBeGreaterThan(0);
    expect(promValue(samples, 'jobslo_receiver_requests_total', { outcome: 'forbidden' })).toBeGreaterThan(0);
    expect(promValue(samples, 'jobslo_receiver_accepted_spans_total')).toBeGreaterThan(0);

    // serve over TLS with a read token, on the same store (read through the collector).
    const { certFile, keyFile } = selfSignedCert(dir);
    writeFileSync(join(dir, 'jobslo.yaml'), 'slos:\n  - {name: secured-success, job: secured, sli: success, objective: 0.9, window: 1d}\n');
    writeFileSync(join(dir, 'read-tokens'), `# serve\n${READ}\n`);
    const servePort = await freePort();
    const serve = spawnCli(['serve', '--config', join(dir, 'jobslo.yaml'), '--store', `duckdb:${db}`, '--port', String(servePort), '--state-dir', join(dir, 'serve-state'), '--read-token', `file:${join(dir, 'read-tokens')}`, '--tls-cert', certFile, '--tls-key', keyFile]);
    procs.push(serve);
    const ca = readFileSync(certFile);
    const sbase = `https://localhost:${servePort}`;
    await waitFor('serve /healthz', async () => (await send(`${sbase}/healthz`, { ca })).status === 200, 60_000, 250);
    expect((await send(`${sbase}/metrics`, { ca })).status).toBe(401);
    expect((await send(`${sbase}/`, { ca, headers: { authorization: `Bearer ${INGEST}` } })).status).toBe(401);
    const sm = await send(`${sbase}/metrics`, { ca, headers: { authorization: `Bearer ${READ}` } });
    expect(sm.status).toBe(200);
    expect(sm.body).toMatch(/jobslo_slo_sli_ratio\{slo="secured-success"/);

    expect(await serve.kill('SIGTERM')).toBe(0);
    expect(await collector.kill('SIGTERM')).toBe(0);
    noTokens(collector.output());
    noTokens(serve.output());
    expect(collector.output()).toMatch(/refused telemetry without a valid ingest token/);
  }, 180_000);
});

describe('jobslo ingest metrics on a public address', () => {
  const ingestArgs = (metrics: string, ...more: string[]): string[] => ['ingest', '--brokers', '127.0.0.1:9092', '--store', `duckdb:${join(dir, `ingest-${metrics.replace(/\W/g, '-')}.duckdb`)}`, '--metrics', metrics, ...more];

  it('refuses to start without a read token, naming --metrics and the insecure flag', async () => {
    const r = await runCli(ingestArgs('0.0.0.0:0'));
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/--metrics: 0\.0\.0\.0 is reachable from other machines/);
    expect(r.output).toMatch(/--read-token/);
    expect(r.output).toMatch(/--insecure-allow-unauthenticated/);
  });

  it('starts on a public address with a read token (401 without it) or with --insecure-allow-unauthenticated (open)', async () => {
    const guardedPort = await freePort();
    const guarded = spawnCli(ingestArgs(`0.0.0.0:${guardedPort}`, '--read-token', 'env:JOBSLO_TEST_READ'), TOKENS);
    procs.push(guarded);
    const openPort = await freePort();
    const open = spawnCli(ingestArgs(`0.0.0.0:${openPort}`, '--insecure-allow-unauthenticated'));
    procs.push(open);
    for (const port of [guardedPort, openPort]) {
      await waitFor(`ingest /health on ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok === true, 30_000, 200);
    }
    expect((await fetch(`http://127.0.0.1:${guardedPort}/metrics`)).status).toBe(401);
    const withToken = await fetch(`http://127.0.0.1:${guardedPort}/metrics`, { headers: { authorization: `Bearer ${READ}` } });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toContain('jobslo_ingest_messages_total');
    const opened = await fetch(`http://127.0.0.1:${openPort}/metrics`);
    expect(opened.status).toBe(200);
    await Promise.all([guarded.kill('SIGTERM'), open.kill('SIGTERM')]);
    noTokens(guarded.output());
  }, 60_000);
});
