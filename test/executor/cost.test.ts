import { describe, expect, it } from 'vitest';
import { computeRunCost, parseRate, parseReportedCost } from '../../executor/index.js';

describe('parseReportedCost: the last jobslo:cost=<n> line wins', () => {
  const cases: { text: string; want: number | undefined }[] = [
    { text: '', want: undefined },
    { text: 'jobslo:cost=1.25\n', want: 1.25 },
    { text: 'jobslo:cost=1\nnoise\njobslo:cost=2.5e-3\n', want: 0.0025 },
    { text: 'jobslo:cost=abc\n', want: undefined },
    { text: 'jobslo:cost=-3\n', want: undefined },
    { text: 'prefix jobslo:cost=3\n', want: undefined },
    { text: 'jobslo:cost=.5', want: 0.5 },
  ];
  for (const c of cases) it(JSON.stringify(c.text), () => expect(parseReportedCost(c.text)).toBe(c.want));
});

describe('computeRunCost', () => {
  it('is undefined when no rate is set and nothing reported', () => {
    expect(computeRunCost({ cpuSeconds: 10, busyMillis: 1000 }, { cpuHour: 0, gbHour: 0, perRun: 0 })).toBeUndefined();
  });
  it('a reported cost wins over rates', () => {
    expect(computeRunCost({ reportedCost: 0.42, cpuSeconds: 3600, busyMillis: 1 }, { cpuHour: 10, gbHour: 0, perRun: 1 })).toBe(0.42);
  });
  it('prices CPU hours, GiB-hours of peak RSS over attempt time, and a flat per-run price', () => {
    const cost = computeRunCost({ cpuSeconds: 1800, maxRssBytes: 2 * 2 ** 30, busyMillis: 3_600_000 }, { cpuHour: 0.1, gbHour: 0.01, perRun: 0.5 });
    expect(cost).toBeCloseTo(0.5 + 0.05 + 0.02, 10);
  });
  it('rates reject negatives with the name', () => {
    expect(() => parseRate('-1', 'JOBSLO_COST_CPU_HOUR')).toThrow(/JOBSLO_COST_CPU_HOUR/);
  });
});
