import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../cli/demo/run-demo.js';
import { expectedOutcomes, planDemo } from '../../cli/demo/plan.js';

const dir = mkdtempSync(join(tmpdir(), 'jobslo-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('demo: real executor -> OTLP/HTTP -> collector -> DuckDB -> analyzer', () => {
  it('reports exactly the runs, outcomes and retries the seeded plan made', async () => {
    const result = await runDemo({ storePath: join(dir, 'demo.duckdb'), reportDir: join(dir, 'report'), seed: 7 });
    expect(result.delivery).toMatchObject({ delivered: true, failedSpans: 0 });
    const got = result.analysis.jobs.map((j) => ({
      job: j.job,
      runs: j.runs,
      succeeded: j.succeeded,
      failed: j.failed,
      timedOut: j.timed_out,
      retries: Math.round(j.retries_per_run * j.runs),
      deadLettered: j.dead_lettered,
    }));
    expect(got).toEqual(result.expected);
    for (const j of result.analysis.jobs) {
      expect(j.success_rate).toBeCloseTo(j.succeeded / j.runs, 6);
      expect(j.cancelled).toBe(0);
      expect(j.skipped).toBe(0);
    }
    // Every behaviour the demo promises shows up.
    const byName = new Map(result.analysis.jobs.map((j) => [j.job, j]));
    expect(byName.get('healthy-report')?.success_rate).toBe(1);
    expect(byName.get('broken-export')?.success_rate).toBe(0);
    expect(byName.get('flaky-sync')?.retries_per_run).toBeGreaterThan(0);
    expect(byName.get('slow-etl')?.latency_ms.p50).toBeGreaterThan(200);
    // The demo SLOs: the always-failing job pages; the healthy one holds with its whole budget.
    const slo = new Map(result.slos.map((e) => [e.slo.name, e]));
    expect(slo.get('export-success')?.tiers.some((t) => t.firing && t.tier.severity === 'page')).toBe(true);
    expect(slo.get('report-success')?.tiers.every((t) => !t.firing)).toBe(true);
    expect(slo.get('report-success')?.budgetRemaining).toBe(1);
    // Every run was queued when the demo started and cost its job's price.
    for (const j of result.analysis.jobs) {
      expect(j.queue_depth.max).toBe(j.runs);
      expect(j.cost_total).toBeGreaterThan(0);
    }
    const html = readFileSync(result.reportPath, 'utf8');
    for (const j of result.analysis.jobs) expect(html).toContain(j.job);
  }, 120_000);

  it('plans the same runs for the same seed and different runs for another', () => {
    expect(expectedOutcomes(planDemo(42))).toEqual(expectedOutcomes(planDemo(42)));
    expect(expectedOutcomes(planDemo(42))).not.toEqual(expectedOutcomes(planDemo(43)));
    expect(planDemo(42).length).toBeGreaterThanOrEqual(200);
  });
});
