/** `jobslo serve` /metrics: per-job series and check states, valid for promtool. */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { FileAlertBackend } from '../../analyzer/alerts/index.js';
import { parseConfig } from '../../analyzer/slo/index.js';
import { noopLogger } from '../../contracts/index.js';
import { startSloServer } from '../../cli/commands/serve.js';
import { requireService } from '../support/services.js';
import { MINUTE, memoryStore, run, startReceiver, tempDir } from '../slo/helpers.js';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const hasPromtool = await requireService(
  'promtool',
  () => {
    const r = spawnSync('promtool', ['--version'], { timeout: 10_000 });
    return r.status === 0 ? Promise.resolve() : Promise.reject(new Error(r.error?.message ?? `exit ${r.status}`));
  },
  'promtool check metrics on /metrics',
  'install it with "bash scripts/install-promtool.sh" (Debian package prometheus)',
);

/** Samples of one metric: labels (as a string) -> value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

async function scrape() {
  const store = await memoryStore();
  cleanups.push(() => store.close());
  const receiver = await startReceiver();
  cleanups.push(() => receiver.close());
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const now = Date.now();
  await store.insertSpans(run('billing', now - 5 * MINUTE, true, 90_000));
  await store.insertSpans(run('billing', now - 2 * MINUTE, false, 2_000));
  await store.insertSpans(run('report "q"', now - 3 * MINUTE, true, 500));
  const config = parseConfig(
    `slos:\n  - {name: billing-ok, job: billing, objective: 0.9}\n  - {name: typo, job: flaky-synk, objective: 0.9}\nmonitors:\n  - {job: billing, period: 1h}\n  - {name: ghost, job: ghost-job, cron: "0 2 * * *"}\nalerts:\n  webhooks:\n    - {name: ops, url: "${receiver.url}", format: json}\n`,
  );
  const backend = new FileAlertBackend({ dir: tmp.dir });
  cleanups.push(() => backend.close());
  const server = await startSloServer({ store, config, backend, port: 0, intervalMillis: 3_600_000, logger: noopLogger });
  cleanups.push(() => server.close());
  const res = await fetch(`${server.url}/metrics`);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return { text: await res.text(), receiver };
}

describe('/metrics', () => {
  it('has per-job last success, last run, runs by outcome, a duration histogram and check states, labelled jobslo_job', async () => {
    const { text, receiver } = await scrape();
    // serve's first cycle found the billing monitor down and delivered it.
    expect(receiver.requests.map((r) => (JSON.parse(r.body) as { labels: Record<string, string> }).labels['alertname']).filter((n) => n?.startsWith('JobsloJob'))).toEqual(['JobsloJobDown']);
    const success = samples(text, 'jobslo_job_last_success_timestamp_seconds');
    expect([...success.keys()].sort()).toEqual(['{jobslo_job="billing"}', '{jobslo_job="report \\"q\\""}']);
    expect(samples(text, 'jobslo_job_last_run_timestamp_seconds').get('{jobslo_job="billing"}')).toBeGreaterThan(success.get('{jobslo_job="billing"}') as number);
    const runs = samples(text, 'jobslo_job_runs_total');
    expect(runs.get('{jobslo_job="billing",outcome="succeeded"}')).toBe(1);
    expect(runs.get('{jobslo_job="billing",outcome="failed"}')).toBe(1);
    expect(runs.get('{jobslo_job="billing",outcome="timed_out"}')).toBe(0);
    const buckets = samples(text, 'jobslo_job_run_duration_seconds_bucket');
    expect(buckets.get('{jobslo_job="billing",le="1"}')).toBe(0);
    expect(buckets.get('{jobslo_job="billing",le="5"}')).toBe(1);
    expect(buckets.get('{jobslo_job="billing",le="120"}')).toBe(2);
    expect(buckets.get('{jobslo_job="billing",le="+Inf"}')).toBe(2);
    expect(samples(text, 'jobslo_job_run_duration_seconds_sum').get('{jobslo_job="billing"}')).toBeCloseTo(92, 6);
    expect(samples(text, 'jobslo_job_run_duration_seconds_count').get('{jobslo_job="billing"}')).toBe(2);
    const status = samples(text, 'jobslo_monitor_status');
    // Its last run failed: down until a run succeeds.
    expect(status.get('{monitor="billing",jobslo_job="billing",status="down"}')).toBe(1);
    expect(status.get('{monitor="ghost",jobslo_job="ghost-job",status="new"}')).toBe(1);
    expect(samples(text, 'jobslo_config_unmatched_selectors').get('')).toBe(2);
    expect(samples(text, 'jobslo_config_selector_unmatched').get('{kind="slo",name="typo",jobslo_job="flaky-synk"}')).toBe(1);
    expect(samples(text, 'jobslo_slo_sli_ratio').get('{slo="billing-ok",jobslo_job="billing",sli="success"}')).toBe(0.5);
    // Prometheus attaches job and instance to every scraped series: none of ours may use them.
    expect(text).not.toMatch(/[{,](job|instance)="/);
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics', async () => {
    const { text } = await scrape();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
});
