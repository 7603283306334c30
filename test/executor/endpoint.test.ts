import { describe, expect, it } from 'vitest';
import { resolveTracesEndpoint } from '../../executor/index.js';

describe('resolveTracesEndpoint: --endpoint, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT, then localhost', () => {
  const cases: { name: string; flag?: string; env: Record<string, string>; url: string; base: string | undefined; source: string }[] = [
    { name: 'nothing set', env: {}, url: 'http://localhost:4318/v1/traces', base: 'http://localhost:4318', source: 'default' },
    { name: 'flag appends /v1/traces', flag: 'http://c:4318', env: {}, url: 'http://c:4318/v1/traces', base: 'http://c:4318', source: 'flag' },
    { name: 'flag with trailing slash', flag: 'http://c:4318/', env: {}, url: 'http://c:4318/v1/traces', base: 'http://c:4318', source: 'flag' },
    { name: 'flag with a path prefix', flag: 'https://gw/otlp', env: {}, url: 'https://gw/otlp/v1/traces', base: 'https://gw/otlp', source: 'flag' },
    {
      name: 'flag beats both env vars',
      flag: 'http://flag',
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b' },
      url: 'http://flag/v1/traces',
      base: 'http://flag',
      source: 'flag',
    },
    {
      name: 'traces endpoint is used as-is',
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1234/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b' },
      url: 'http://t:1234/custom',
      base: undefined,
      source: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    },
    { name: 'base endpoint gets /v1/traces', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, url: 'http://b:4318/v1/traces', base: 'http://b:4318', source: 'OTEL_EXPORTER_OTLP_ENDPOINT' },
    { name: 'base endpoint with trailing slash', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318/' }, url: 'http://b:4318/v1/traces', base: 'http://b:4318', source: 'OTEL_EXPORTER_OTLP_ENDPOINT' },
    { name: 'empty values count as unset', flag: '', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ' ', OTEL_EXPORTER_OTLP_ENDPOINT: '' }, url: 'http://localhost:4318/v1/traces', base: 'http://localhost:4318', source: 'default' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = resolveTracesEndpoint({ flag: c.flag, env: c.env });
      expect(r).toEqual({ tracesUrl: c.url, baseUrl: c.base, source: c.source });
    });
  }
});
