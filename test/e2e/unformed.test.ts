/**
 * Spans that look like job telemetry but form no run, end to end: the real
 * `jobslo collector` (DuckDB) answers OTLP/HTTP protobuf and OTLP/gRPC with a
 * partial-success warning (rejected 0) naming the missing attribute, stores
 * the spans, and `jobslo analyze` (through the collector and on the file
 * after it stopped) says how many the window holds and why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import type { SpanRecord } from '../../contracts/index.js';
import { buildCli } from '../executor/helpers/build.js';
import type { BuiltCli } from '../executor/helpers/build.js';
import { span } from '../support/native-spans.js';
import { grpcExport, partialSuccess, postProto } from '../support/otlp-response.js';
import { runJobslo } from '../support/jobslo.js';
import { killManaged, killManagedAfterEach, spawnManaged } from '../support/processes.js';
import { runSpans } from '../support/spans.js';

killManagedAfterEach();

let cli: BuiltCli;
let dir: string;

beforeAll(async () => {
  cli = await buildCli();
  dir = mkdtempSync(join(tmpdir(), 'jobslo-unformed-'));
}, 120_000);

afterAll(() => {
  cli?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('spans that form no run: told to the sender, counted by jobslo analyze', () => {
  it('answers HTTP and gRPC with a partial-success warning (0 rejected) and analyze reports how many and why', async () => {
    const store = `duckdb:${join(dir, 'unformed.duckdb')}`;
    const proc = spawnManaged(process.execPath, [cli.bin, 'collector', '--port', '0', '--grpc-port', '0', '--store', store], { cwd: dir });
    const m = await proc.waitForOutput(/collector listening url=(http:\/\/\S+)\/v1\/traces grpc=(\S+)/, 60_000);
    const url = m[1] as string;
    const grpcAddress = m[2] as string;
    const t = Date.now() - 60_000;
    const noRunId = (): SpanRecord => span({ name: 'nightly', startMillis: t, durationMillis: 5, attributes: { 'jobslo.job.name': 'nightly', 'jobslo.span.type': 'run' } });
    const good = runSpans({ job: 'formed', startMillis: t, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 10, outcome: 'succeeded' }] });

    const http = await postProto(url, [...good, noRunId(), noRunId(), noRunId(), span({ name: 'pod', startMillis: t, resource: { 'k8s.job.name': 'backup' } })]);
    expect(http.status).toBe(200);
    expect(http.partial.rejected).toBe(0);
    expect(http.partial.message).toMatch(/^4 spans stored but not counted as runs \(3 jobslo spans without jobslo\.run\.id, 1 k8s spans without k8s\.job\.uid\); the first: run span "nightly" has jobslo attributes but no jobslo\.run\.id/);

    const grpc = await grpcExport(grpcAddress, encodeTraceRequestProto([noRunId()]));
    expect(grpc.code).toBe(status.OK);
    expect(partialSuccess(grpc.response)).toEqual({ rejected: 0, message: expect.stringMatching(/^1 span stored but not counted as runs \(1 jobslo spans without jobslo\.run\.id\)/) });

    // One span refused by validation and one warned about: the message says both.
    const backwards = { ...noRunId(), endTimeUnixNano: BigInt(t - 1) * 1_000_000n };
    const mixed = await postProto(url, [backwards, noRunId()]);
    expect(mixed.status).toBe(200);
    expect(mixed.partial.rejected).toBe(1);
    expect(mixed.partial.message).toMatch(/end time before start time.*; 1 span stored but not counted as runs \(1 jobslo spans without jobslo\.run\.id\)/);

    const want = { spans: 6, by_reason: [{ profile: 'jobslo', missing: 'jobslo.run.id', spans: 5 }, { profile: 'k8s', missing: 'k8s.job.uid', spans: 1 }] };
    const line = '6 spans in this window look like job telemetry but form no run: 5 jobslo spans without jobslo.run.id, 1 k8s span without k8s.job.uid';
    // Through the running collector (it holds the file) ...
    const live = await runJobslo(cli.bin, ['analyze', '--store', store, '--since', '1h', '--format', 'json'], { cwd: dir });
    expect(live.code, live.stderr).toBe(0);
    const analysis = JSON.parse(live.stdout) as { jobs: { job: string; runs: number }[]; unformed_spans: unknown };
    expect(analysis.unformed_spans).toEqual(want);
    expect(analysis.jobs.map((j) => [j.job, j.runs])).toEqual([['formed', 1]]);
    const text = await runJobslo(cli.bin, ['analyze', '--store', store, '--since', '1h'], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(line);

    // ... and on the file once the collector has stopped.
    process.kill(proc.pid, 'SIGTERM');
    expect((await proc.exited).code).toBe(0);
    const offline = await runJobslo(cli.bin, ['analyze', '--store', store, '--since', '1h', '--format', 'json'], { cwd: dir });
    expect(offline.code, offline.stderr).toBe(0);
    expect((JSON.parse(offline.stdout) as { unformed_spans: unknown }).unformed_spans).toEqual(want);
    await killManaged(proc);
  }, 180_000);
});
