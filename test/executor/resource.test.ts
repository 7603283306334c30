import { describe, expect, it } from 'vitest';
import { parseResourceAttributes, resourceFromEnv } from '../../executor/index.js';

describe('OTEL_RESOURCE_ATTRIBUTES parsing (OpenTelemetry SDK spec)', () => {
  const ok: [string | undefined, Record<string, string>][] = [
    [undefined, {}],
    ['', {}],
    ['  ', {}],
    ['a=1', { a: '1' }],
    ['a=1,b=2', { a: '1', b: '2' }],
    [' a = 1 , b=2 ', { a: '1', b: '2' }],
    ['a=1,,b=2,', { a: '1', b: '2' }],
    ['team=data%20eng', { team: 'data eng' }],
    ['k=a%2Cb%3Dc', { k: 'a,b=c' }],
    ['%6Bey=v', { key: 'v' }],
    ['emoji=%F0%9F%9A%80', { emoji: '🚀' }],
    ['a=', { a: '' }],
    ['a=1,a=2', { a: '2' }],
    ['deployment.environment.name=prod,service.name=billing', { 'deployment.environment.name': 'prod', 'service.name': 'billing' }],
  ];
  it.each(ok)('%j gives %j', (raw, attributes) => {
    expect(parseResourceAttributes(raw)).toEqual({ attributes });
  });

  const bad: [string, RegExp][] = [
    ['a', /"a" is not key=value/],
    ['a=1,b', /"b" is not key=value/],
    ['url=a=b', /"url=a=b" is not key=value .*%3D/],
    ['=v', /"=v" has an empty key/],
    ['a=%E0%A4%A', /"a=%E0%A4%A" has an invalid percent-encoding/],
    ['a=%zz', /invalid percent-encoding/],
  ];
  it.each(bad)('%j is discarded as a whole: %s', (raw, message) => {
    const r = parseResourceAttributes(`ok=1,${raw}`);
    expect(r.attributes).toEqual({});
    expect(r.error).toMatch(message);
  });
});

describe('resource attributes from the environment', () => {
  it('OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES', () => {
    expect(resourceFromEnv({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=a,team=t', OTEL_SERVICE_NAME: 'b' })).toEqual({ attributes: { 'service.name': 'b', team: 't' } });
  });
  it('an empty OTEL_SERVICE_NAME counts as unset', () => {
    expect(resourceFromEnv({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=a', OTEL_SERVICE_NAME: ' ' })).toEqual({ attributes: { 'service.name': 'a' } });
  });
  it('a malformed OTEL_RESOURCE_ATTRIBUTES keeps OTEL_SERVICE_NAME and says why the rest was dropped', () => {
    expect(resourceFromEnv({ OTEL_RESOURCE_ATTRIBUTES: 'team', OTEL_SERVICE_NAME: 'svc' })).toEqual({
      attributes: { 'service.name': 'svc' },
      warning: 'OTEL_RESOURCE_ATTRIBUTES ignored: "team" is not key=value (a "," or "=" inside a key or value must be percent-encoded as %2C or %3D)',
    });
  });
  it('nothing set gives nothing (the caller defaults service.name)', () => {
    expect(resourceFromEnv({})).toEqual({ attributes: {} });
  });
});
