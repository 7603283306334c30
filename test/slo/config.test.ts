import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/index.js';
import { loadConfig, parseConfig } from '../../analyzer/slo/index.js';
import { DAY, HOUR, MINUTE } from './helpers.js';

function configError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(text, { env, readFile: () => '' });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no error');
}

const slo = (fields: string): string => `slos:\n  - name: s\n    job: j\n    objective: 0.99\n${fields}`;

describe('jobslo.yaml validation', () => {
  it.each([
    ['objective out of range', 'slos:\n  - {name: s, job: j, objective: 1.5}\n', 'slos[0].objective', 'must be between 0 and 1 (exclusive), got 1.5'],
    ['objective of 1', 'slos:\n  - {name: s, job: j, objective: 1}\n', 'slos[0].objective', 'got 1'],
    ['objective not a number', 'slos:\n  - {name: s, job: j, objective: high}\n', 'slos[0].objective', 'must be a number, got "high"'],
    ['missing job', 'slos:\n  - {name: s, objective: 0.9}\n', 'slos[0].job', 'must be a non-empty string'],
    ['unknown sli', slo('    sli: uptime\n'), 'slos[0].sli', 'must be one of success, latency, freshness, got "uptime"'],
    ['bad window', slo('    window: 30 days\n'), 'slos[0].window', 'is not a duration'],
    ['typo in a field', slo('    windw: 30d\n'), 'slos[0].windw', 'unknown field'],
    ['latency without threshold', slo('    sli: latency\n'), 'slos[0].latency', 'is required for sli: latency'],
    ['latency on a success SLI', slo('    latency: {threshold: 1m}\n'), 'slos[0].latency', 'only applies to sli: latency'],
    ['bad cron', slo('    sli: freshness\n    freshness: {cron: "61 2 * * *"}\n'), 'slos[0].freshness.cron', 'is not a cron expression'],
    ['bad time zone', slo('    sli: freshness\n    freshness: {cron: "0 2 * * *", timezone: Mars/Olympus}\n'), 'slos[0].freshness.timezone', 'is not an IANA time zone'],
    ['tier without factor or budget', slo('    alerting:\n      tiers:\n        - {severity: page, long: 1h, short: 5m}\n'), 'slos[0].alerting.tiers[0]', 'needs exactly one of factor'],
    ['tier short >= long', slo('    alerting:\n      tiers:\n        - {severity: page, long: 1h, short: 2h, factor: 2}\n'), 'slos[0].alerting.tiers[0].short', 'must be shorter than long (1h)'],
    ['tiers a word', slo('    alerting: {tiers: fast}\n'), 'slos[0].alerting.tiers', 'must be "default" or a list'],
    ['negative min_events', slo('    alerting: {min_events: -1}\n'), 'slos[0].alerting.min_events', 'whole number >= 0'],
    ['duplicate names', 'slos:\n  - {name: s, job: a, objective: 0.9}\n  - {name: s, job: b, objective: 0.9}\n', 'slos[1].name', 'defined twice'],
    ['bad store', 'store: postgres://x\n', 'store', 'is not a store'],
    ['webhook format', 'alerts:\n  webhooks:\n    - {name: a, url: "http://127.0.0.1/x", format: teams}\n', 'alerts.webhooks[0].format', 'must be one of alertmanager, slack, json'],
    ['webhook url', 'alerts:\n  webhooks:\n    - {name: a, url: "ftp://x"}\n', 'alerts.webhooks[0].url', 'must be an http(s) URL'],
    ['missing secret env', 'alerts:\n  webhooks:\n    - {name: a, url: "http://127.0.0.1/x", secret: "env:NOPE_SECRET"}\n', 'alerts.webhooks[0].secret', 'environment variable NOPE_SECRET is not set'],
    ['literal secret', 'alerts:\n  webhooks:\n    - {name: a, url: "http://127.0.0.1/x", secret: hunter2}\n', 'alerts.webhooks[0].secret', 'must be env:VARIABLE or file:PATH'],
    ['repeat interval', 'alerts: {repeat_interval: soon}\n', 'alerts.repeat_interval', 'is not a duration'],
    ['root a list', '- a\n- b\n', '(root)', 'must be a mapping'],
  ])('%s names %s', (_name, text, path, message) => {
    const err = configError(text);
    expect(err.path).toBe(path);
    expect(err.message).toContain(`${path}: `);
    expect(err.message).toContain(message);
    expect(err.code).toBe('JOBSLO_ERR_CONFIG');
  });

  it('points at the line and column of the bad field', () => {
    const err = configError('slos:\n  - name: s\n    job: j\n    objective: 1.5\n');
    expect(err.message).toBe('slos[0].objective: must be between 0 and 1 (exclusive), got 1.5 (jobslo.yaml:4:16)');
  });

  it('reports YAML syntax errors with line and column', () => {
    const err = configError('slos:\n  - name: s\n    job: [unclosed\n');
    expect(err.path).toBe('jobslo.yaml');
    expect(err.message).toMatch(/YAML syntax error at line \d+, column \d+/);
  });

  it('loads examples/jobslo.yaml', () => {
    const cfg = loadConfig('examples/jobslo.yaml', { env: { JOBSLO_WEBHOOK_SECRET: 'x' } });
    expect(cfg.slos.map((s) => [s.name, s.sli, s.source])).toEqual([
      ['etl-success', 'success', 'jobslo'],
      ['etl-success-prod', 'success', 'jobslo'],
      ['etl-latency', 'latency', 'jobslo'],
      ['etl-freshness', 'freshness', 'jobslo'],
      ['report-success', 'success', 'openslo'],
    ]);
    expect(cfg.slos[1]?.where).toEqual({ 'deployment.environment.name': 'prod' });
    expect(cfg.slos[3]?.alerting.tiers.map((t) => [t.severity, t.enabled])).toEqual([['page', true], ['ticket', true], ['page', false]]);
  });

  it('reads file: secrets, and only checks secret references when asked not to resolve them', () => {
    const text = 'alerts:\n  webhooks:\n    - {name: a, url: "http://127.0.0.1/x", secret: "file:/run/secret"}\n    - {name: b, url: "http://127.0.0.1/y", secret: "env:UNSET_VAR"}\n';
    expect(() => parseConfig(text, { env: {}, readFile: () => ' s3cret\n' })).toThrow(/alerts.webhooks\[1\].secret: environment variable UNSET_VAR/);
    const unresolved = parseConfig(text, { env: {}, resolveSecrets: false });
    expect(unresolved.alerts.webhooks.map((w) => w.secret)).toEqual([undefined, undefined]);
    const resolved = parseConfig(text, { env: { UNSET_VAR: 'v' }, readFile: () => ' s3cret\n' });
    expect(resolved.alerts.webhooks.map((w) => w.secret)).toEqual(['s3cret', 'v']);
    expect(() => parseConfig(text.replace('file:/run/secret', 'plain'), { resolveSecrets: false })).toThrow(/must be env:VARIABLE or file:PATH/);
  });

  it('names --config when the file cannot be read', () => {
    expect(() => loadConfig('/nonexistent/jobslo.yaml')).toThrow(/^--config: cannot read/);
  });

  it('never echoes a literal secret', () => {
    expect(configError('alerts:\n  webhooks:\n    - {name: a, url: "http://127.0.0.1/x", secret: hunter2}\n').message).not.toContain('hunter2');
  });

  it('reads the example config with defaults filled in', () => {
    const cfg = parseConfig(
      `store: duckdb:.jobslo/jobslo.duckdb
slos:
  - name: etl-success
    job: nightly-etl
    sli: success
    objective: 0.99
    window: 30d
    alerting:
      min_events: 10
      tiers: default
  - name: etl-latency
    job: "etl-*"
    sli: latency
    objective: 0.95
    window: 28d
    latency: { threshold: 10m }
  - name: etl-fresh
    job: nightly-etl
    sli: freshness
    objective: 0.99
    freshness: { cron: "0 2 * * *", timezone: Europe/Berlin, grace: 45m }
alerts:
  webhooks:
    - name: oncall
      url: https://example.invalid/hook
      format: alertmanager
      secret: env:JOBSLO_WEBHOOK_SECRET
  repeat_interval: 4h
`,
      { env: { JOBSLO_WEBHOOK_SECRET: 's3cret' } },
    );
    expect(cfg.store).toBe('duckdb:.jobslo/jobslo.duckdb');
    expect(cfg.slos.map((s) => [s.name, s.sli, s.windowMillis, s.alerting.minEvents])).toEqual([
      ['etl-success', 'success', 30 * DAY, 10],
      ['etl-latency', 'latency', 28 * DAY, 1],
      ['etl-fresh', 'freshness', 30 * DAY, 1],
    ]);
    expect(cfg.slos[1]?.latencyThresholdMillis).toBe(10 * MINUTE);
    expect(cfg.slos[2]?.freshness).toEqual({ cron: '0 2 * * *', timezone: 'Europe/Berlin', graceMillis: 45 * MINUTE });
    expect(cfg.alerts).toEqual({
      webhooks: [{ name: 'oncall', url: 'https://example.invalid/hook', format: 'alertmanager', secret: 's3cret', timeoutMillis: 10_000 }],
      repeatIntervalMillis: 4 * HOUR,
      externalUrl: '',
    });
  });
});

const OPENSLO = `apiVersion: openslo/v1
kind: SLO
metadata:
  name: etl-openslo
spec:
  service: etl
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - targetPercent: 99.5
  indicator:
    metadata: { name: etl-good-runs }
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: jobslo
            spec: { job: nightly-etl, query: 'outcome="succeeded" and latency<=15m' }
        total:
          metricSource:
            type: jobslo
            spec: { job: nightly-etl, query: counted }
`;

describe('OpenSLO v1 documents', () => {
  it('maps a jobslo ratio indicator to an SLO, next to a jobslo document', () => {
    const cfg = parseConfig(`slos:\n  - {name: a, job: a, objective: 0.9}\n---\n${OPENSLO}`);
    expect(cfg.slos.map((s) => s.name)).toEqual(['a', 'etl-openslo']);
    const s = cfg.slos[1];
    expect(s).toMatchObject({ job: 'nightly-etl', sli: 'latency', objective: 0.995, windowMillis: 28 * DAY, latencyThresholdMillis: 15 * MINUTE, source: 'openslo' });
    expect(s?.alerting.tiers[0]?.factor).toBeCloseTo(13.44, 9);
  });

  it('reads a success SLI and target', () => {
    const cfg = parseConfig(OPENSLO.replace(' and latency<=15m', '').replace('targetPercent: 99.5', 'target: 0.99'));
    expect(cfg.slos[0]).toMatchObject({ sli: 'success', objective: 0.99 });
  });

  it.each([
    ['Timeslices budgeting', (t: string) => t.replace('Occurrences', 'Timeslices'), 'spec.budgetingMethod', 'only Occurrences'],
    ['another kind', (t: string) => t.replace('kind: SLO', 'kind: Service'), 'kind', 'only kind: SLO'],
    ['another version', (t: string) => t.replace('openslo/v1', 'openslo/v1alpha'), 'apiVersion', 'only openslo/v1'],
    ['calendar window', (t: string) => t.replace('isRolling: true', 'isRolling: false'), 'spec.timeWindow[0]', 'calendar windows are not supported'],
    ['prometheus source', (t: string) => t.replace('type: jobslo', 'type: Prometheus'), 'spec.indicator.spec.ratioMetric.good.metricSource.type', 'only type: jobslo'],
    ['unknown good query', (t: string) => t.replace('outcome="succeeded" and latency<=15m', 'outcome="failed"'), 'spec.indicator.spec.ratioMetric.good.metricSource.spec.query', 'is not supported'],
    ['total query', (t: string) => t.replace('query: counted', 'query: all'), 'spec.indicator.spec.ratioMetric.total.metricSource.spec.query', 'must be "counted"'],
    ['thresholdMetric', (t: string) => t.replace('ratioMetric:', 'thresholdMetric: {}\n      ratioMetric:'), 'spec.indicator.spec.thresholdMetric', 'is not supported'],
    ['alertPolicies', (t: string) => t.replace('  service: etl', '  service: etl\n  alertPolicies: [x]'), 'spec.alertPolicies', 'is not supported'],
  ])('rejects %s naming %s', (_name, edit, path, message) => {
    const err = configError(edit(OPENSLO));
    expect(err.path).toBe(path);
    expect(err.message).toContain(message);
  });

  it('prefixes OpenSLO paths with the document index in multi-document files, not jobslo paths', () => {
    const err = configError(`slos: []\n---\n${OPENSLO.replace('Occurrences', 'Timeslices')}`);
    expect(err.path).toBe('documents[1].spec.budgetingMethod');
    expect(configError(`slos:\n  - {name: x, job: x, objective: 2}\n---\n${OPENSLO}`).path).toBe('slos[0].objective');
  });
});

describe('routing fields of an SLO: labels, annotations, runbook_url, default tier settings', () => {
  it.each([
    ['label name', slo('    labels: {"team-name": data}\n'), 'slos[0].labels.team-name', 'is not a label name'],
    ['reserved label', slo('    labels: {severity: critical}\n'), 'slos[0].labels.severity', 'is set by jobslo on every alert'],
    ['label of __', slo('    labels: {__name__: x}\n'), 'slos[0].labels.__name__', 'not starting with __'],
    ['label not text', slo('    labels: {team: [a, b]}\n'), 'slos[0].labels.team', 'must be a string, got a list'],
    ['unknown placeholder', slo('    annotations: {summary: "{{ slo }} burns {{ colour }}"}\n'), 'slos[0].annotations.summary', 'unknown placeholder {{ colour }}'],
    ['unmatched braces', slo('    annotations: {summary: "{{ slo burns"}\n'), 'slos[0].annotations.summary', 'unmatched {{ or }}'],
    ['computed annotation', slo('    annotations: {factor: "2"}\n'), 'slos[0].annotations.factor', 'is computed by jobslo'],
    ['runbook in annotations', slo('    annotations: {runbook_url: "http://x"}\n'), 'slos[0].annotations.runbook_url', "use the SLO's runbook_url field"],
    ['runbook not a URL', slo('    runbook_url: wiki/etl\n'), 'slos[0].runbook_url', 'must be an http(s) URL'],
    ['default tier unknown', slo('    alerting:\n      default_tiers: {2d: {enabled: false}}\n'), 'slos[0].alerting.default_tiers.2d', 'unknown field; expected one of 1h, 6h, 1d, 3d'],
    ['default tier field', slo('    alerting:\n      default_tiers: {1h: {factor: 3}}\n'), 'slos[0].alerting.default_tiers.1h.factor', 'unknown field; expected one of enabled, severity'],
    [
      'default_tiers with a list',
      slo('    alerting:\n      tiers: [{severity: page, long: 1h, short: 5m, factor: 14}]\n      default_tiers: {1h: {enabled: false}}\n'),
      'slos[0].alerting.default_tiers',
      'only applies with tiers: default',
    ],
    ['alertmanager url with path', 'alerts:\n  alertmanagers:\n    - {name: am, url: "http://127.0.0.1:9093/api/v2/alerts"}\n', 'alerts.alertmanagers[0].url', 'is the base URL only'],
  ])('%s', (_what, text, path, message) => {
    const err = configError(text);
    expect(err.path).toBe(path);
    expect(err.message).toContain(message);
    expect(err.message).toMatch(/\(jobslo\.yaml:\d+:\d+\)/);
  });

  it('reads labels, annotation templates, the runbook, per-tier severity and switches, and Alertmanagers', () => {
    const cfg = parseConfig(
      slo(
        [
          '    labels: {team: data, tier: 1}',
          '    annotations: {summary: "{{ slo }} at {{ burn_rate_long }}", dashboard: "https://grafana.example/d/etl"}',
          '    runbook_url: https://wiki.example/etl',
          '    alerting:',
          '      default_tiers:',
          '        1h: {severity: critical}',
          '        1d: {enabled: false}',
          'alerts:',
          '  alertmanagers:',
          '    - {name: am, url: "http://127.0.0.1:9093/"}',
          '',
        ].join('\n'),
      ),
    );
    const s = cfg.slos[0];
    expect(s?.labels).toEqual({ team: 'data', tier: '1' });
    expect(s?.annotations).toEqual({ summary: '{{ slo }} at {{ burn_rate_long }}', dashboard: 'https://grafana.example/d/etl' });
    expect(s?.runbookUrl).toBe('https://wiki.example/etl');
    expect(s?.alerting.tiers.map((t) => [t.severity, t.longWindowMillis, t.enabled])).toEqual([
      ['critical', HOUR, true],
      ['page', 6 * HOUR, true],
      ['ticket', DAY, false],
      ['ticket', 3 * DAY, true],
    ]);
    expect(cfg.alerts.alertmanagers).toEqual([{ name: 'am', url: 'http://127.0.0.1:9093', timeoutMillis: 10_000 }]);
  });
});
