import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../server/index.js';
import { parsePromText, promValue } from '../support/prom-text.js';

describe('metrics registry', () => {
  it('renders counters, gauges and histograms as valid Prometheus text whose values move', () => {
    const r = new MetricsRegistry();
    const c = r.counter('t_requests_total', 'Requests.\nTwo lines.', ['route', 'code']);
    const g = r.gauge('t_in_flight', 'In flight.');
    const h = r.histogram('t_duration_seconds', 'Durations.', ['route'], [0.1, 1]);
    let live = 0;
    r.onCollect(() => g.set(undefined, live));
    expect(parsePromText(r.render()).map((s) => [s.name, s.value])).toEqual([['t_in_flight', 0]]);

    c.inc({ route: '/v1/traces', code: '200' });
    c.inc({ route: '/v1/traces', code: '200' }, 4);
    c.inc({ route: 'we"ird\\path\n', code: '401' });
    live = 3;
    for (const v of [0.05, 0.1, 0.5, 7]) h.observe({ route: '/v1/traces' }, v);
    const samples = parsePromText(r.render());
    expect(promValue(samples, 't_requests_total', { route: '/v1/traces', code: '200' })).toBe(5);
    expect(promValue(samples, 't_requests_total', { route: 'we"ird\\path\n' })).toBe(1);
    expect(promValue(samples, 't_in_flight')).toBe(3);
    expect(samples.filter((s) => s.name === 't_duration_seconds_bucket').map((s) => [s.labels['le'], s.value])).toEqual([
      ['0.1', 2],
      ['1', 3],
      ['+Inf', 4],
    ]);
    expect(promValue(samples, 't_duration_seconds_count')).toBe(4);
    expect(promValue(samples, 't_duration_seconds_sum')).toBeCloseTo(7.65);
  });

  it('adds snapshots of other processes into one exposition', () => {
    const make = (): { r: MetricsRegistry; c: ReturnType<MetricsRegistry['counter']>; h: ReturnType<MetricsRegistry['histogram']> } => {
      const r = new MetricsRegistry();
      return { r, c: r.counter('t_spans_total', 'Spans.', []), h: r.histogram('t_lat_seconds', 'Latency.', [], [1]) };
    };
    const a = make();
    const b = make();
    a.c.inc(undefined, 2);
    b.c.inc(undefined, 5);
    a.h.observe(undefined, 0.5);
    b.h.observe(undefined, 3);
    const samples = parsePromText(a.r.render([JSON.parse(JSON.stringify(b.r.snapshot()))]));
    expect(promValue(samples, 't_spans_total')).toBe(7);
    expect(promValue(samples, 't_lat_seconds_bucket', { le: '1' })).toBe(1);
    expect(promValue(samples, 't_lat_seconds_bucket', { le: '+Inf' })).toBe(2);
    expect(promValue(samples, 't_spans_total')).toBe(7);
  });

  it('refuses the label names Prometheus sets itself, and a metric registered twice', () => {
    const r = new MetricsRegistry();
    expect(() => r.counter('t_a_total', 'x', ['job'])).toThrow(/bad label name job/);
    expect(() => r.gauge('t_b', 'x', ['instance'])).toThrow(/bad label name instance/);
    r.counter('t_c_total', 'x');
    expect(() => r.counter('t_c_total', 'x')).toThrow(/twice/);
  });
});
