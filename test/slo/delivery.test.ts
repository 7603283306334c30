/** Webhook delivery to a real HTTP receiver on 127.0.0.1, through the on-disk outbox. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FileOutbox,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  classifyResponse,
  drainOutbox,
  parseRetryAfterMillis,
  retryDelayMillis,
  slackEscape,
  toOutboxEntries,
  verifySignature,
} from '../../analyzer/alerts/index.js';
import type { AlertNotification } from '../../analyzer/alerts/index.js';
import { parseConfig } from '../../analyzer/slo/index.js';
import type { JobsloConfig } from '../../analyzer/slo/index.js';
import { fakeClock, startReceiver, tempDir } from './helpers.js';
import type { Receiver } from './helpers.js';

const T0 = Date.UTC(2026, 6, 1, 12);
const SECRET = 'test-secret-value';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function receiver(port = 0): Promise<Receiver> {
  const r = await startReceiver(port);
  cleanups.push(() => r.close());
  return r;
}

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

function config(baseUrl: string, hooks: { name: string; format: string; path?: string }[], secret = true): JobsloConfig {
  const lines = hooks.map(
    (h) => `    - {name: ${h.name}, url: "${baseUrl}${h.path ?? `/${h.name}`}", format: ${h.format}${secret ? ', secret: "env:HOOK_SECRET"' : ''}, timeout: 2s}`,
  );
  return parseConfig(`alerts:\n  external_url: "http://jobslo.example.invalid:9464"\n  webhooks:\n${lines.join('\n')}\n`, { env: { HOOK_SECRET: SECRET } });
}

function notification(i: number, status: 'firing' | 'resolved' = 'firing'): AlertNotification {
  return {
    id: `idem-${i}`,
    fingerprint: '0123456789abcdef',
    status,
    labels: { alertname: 'JobsloErrorBudgetBurn', slo: 'etl-success', job: 'nightly-etl', sli: 'success', severity: 'page', long_window: '1h', short_window: '5m' },
    annotations: { summary: 'SLO etl-success <burning> & more', error_budget_remaining: '0.5', description: 'runs are failing' },
    startsAtMillis: T0,
    endsAtMillis: status === 'resolved' ? T0 + 600_000 : null,
    createdAtMillis: T0 + i,
  };
}

describe('payloads, signatures and idempotency keys', () => {
  it('delivers well-formed, correctly signed Alertmanager, Slack and JSON payloads', async () => {
    const r = await receiver();
    const cfg = config(r.url, [
      { name: 'am', format: 'alertmanager' },
      { name: 'slack', format: 'slack' },
      { name: 'plain', format: 'json' },
    ]);
    const outbox = new FileOutbox({ dir: dir() });
    const clock = fakeClock(T0 + 1_000);
    await outbox.enqueue(toOutboxEntries([notification(1), notification(2, 'resolved')], cfg));
    const result = await drainOutbox(outbox, cfg.alerts.webhooks, { clock });
    expect(result).toEqual({ delivered: 6, deadLettered: 0, pending: 0 });
    expect(await outbox.size()).toBe(0);
    expect(r.requests).toHaveLength(6);

    for (const req of r.requests) {
      expect(req.headers['content-type']).toBe('application/json');
      const ts = String(req.headers[TIMESTAMP_HEADER.toLowerCase()]);
      const sig = String(req.headers[SIGNATURE_HEADER.toLowerCase()]);
      expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(verifySignature(SECRET, ts, req.body, sig, clock.now())).toBe(true);
      expect(verifySignature(SECRET, ts, req.body.replace('etl', 'xtl'), sig, clock.now())).toBe(false);
      expect(verifySignature('wrong', ts, req.body, sig, clock.now())).toBe(false);
      // Replay protection: the same request ten minutes later is refused.
      expect(verifySignature(SECRET, ts, req.body, sig, clock.now() + 600_000)).toBe(false);
    }
    const byPath = (p: string) => r.requests.filter((q) => q.path === p);
    expect(byPath('/am').map((q) => q.headers['idempotency-key'])).toEqual(['idem-1', 'idem-2']);
    expect(byPath('/slack').map((q) => q.headers['idempotency-key'])).toEqual(['idem-1', 'idem-2']);

    const [amFiring, amResolved] = byPath('/am').map((q) => JSON.parse(q.body) as Record<string, unknown>);
    expect(Object.keys(amFiring ?? {}).sort()).toEqual(
      ['version', 'groupKey', 'truncatedAlerts', 'status', 'receiver', 'groupLabels', 'commonLabels', 'commonAnnotations', 'externalURL', 'alerts'].sort(),
    );
    expect(amFiring).toMatchObject({
      version: '4',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'am',
      groupLabels: { alertname: 'JobsloErrorBudgetBurn', slo: 'etl-success' },
      commonLabels: { severity: 'page', slo: 'etl-success' },
      externalURL: 'http://jobslo.example.invalid:9464',
    });
    expect(typeof amFiring?.['groupKey']).toBe('string');
    const alert = (amFiring?.['alerts'] as Record<string, unknown>[])[0];
    expect(Object.keys(alert ?? {}).sort()).toEqual(['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status']);
    expect(alert).toMatchObject({
      status: 'firing',
      startsAt: new Date(T0).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://jobslo.example.invalid:9464/report/',
      fingerprint: '0123456789abcdef',
    });
    expect(amResolved).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved', endsAt: new Date(T0 + 600_000).toISOString() }] });

    const slack = JSON.parse(byPath('/slack')[0]?.body ?? '{}') as { text: string; blocks: { type: string }[] };
    expect(slack.text).toContain('FIRING');
    expect(slack.text).toContain('&lt;burning&gt; &amp; more');
    expect(slack.blocks.length).toBeGreaterThanOrEqual(2);
    for (const b of slack.blocks) expect(['section', 'context']).toContain(b.type);

    const plain = JSON.parse(byPath('/plain')[1]?.body ?? '{}') as Record<string, unknown>;
    expect(plain).toMatchObject({ version: 'jobslo.alert/v1', id: 'idem-2', status: 'resolved', fingerprint: '0123456789abcdef', endsAt: new Date(T0 + 600_000).toISOString() });
  });

  it('sends no signature headers without a secret', async () => {
    const r = await receiver();
    const cfg = config(r.url, [{ name: 'plain', format: 'json' }], false);
    const outbox = new FileOutbox({ dir: dir() });
    await outbox.enqueue(toOutboxEntries([notification(1)], cfg));
    await drainOutbox(outbox, cfg.alerts.webhooks, { clock: fakeClock(T0) });
    expect(r.requests[0]?.headers[SIGNATURE_HEADER.toLowerCase()]).toBeUndefined();
    expect(r.requests[0]?.headers['idempotency-key']).toBe('idem-1');
  });

  it('escapes Slack mrkdwn control characters', () => {
    expect(slackEscape('a <b> & c')).toBe('a &lt;b&gt; &amp; c');
  });
});

describe('outbox: receiver outages and restarts', () => {
  it('keeps every notification while the receiver is down and delivers each key once when it is back, across a sender restart', async () => {
    // Learn a free port, then close it: connections are refused.
    const probe = await startReceiver();
    const port = probe.port;
    await probe.close();
    const cfg = config(`http://127.0.0.1:${port}`, [{ name: 'hook', format: 'json' }]);
    const outboxDir = dir();
    const clock = fakeClock(T0);

    const first = new FileOutbox({ dir: outboxDir });
    await first.enqueue(toOutboxEntries([1, 2, 3, 4, 5].map((i) => notification(i)), cfg));
    const down = await drainOutbox(first, cfg.alerts.webhooks, { clock, maxAttempts: 3, random: () => 1 });
    expect(down).toEqual({ delivered: 0, deadLettered: 0, pending: 5 });
    // Bounded: 3 attempts of the oldest entry, with exponential backoff between them (500, 1000 ms).
    expect(clock.slept).toEqual([500, 1000]);
    expect(await first.size()).toBe(5);

    // "Restart": a new outbox object over the same folder, the receiver back on the same port.
    const r = await receiver(port);
    const second = new FileOutbox({ dir: outboxDir });
    // Not before the backoff the first sender recorded.
    const early = await drainOutbox(second, cfg.alerts.webhooks, { clock });
    expect(early.pending).toBe(5);
    expect(r.requests).toHaveLength(0);
    clock.set(T0 + 60_000);
    const up = await drainOutbox(second, cfg.alerts.webhooks, { clock });
    expect(up).toEqual({ delivered: 5, deadLettered: 0, pending: 0 });
    const keys = r.requests.map((q) => String(q.headers['idempotency-key']));
    expect(keys).toEqual(['idem-1', 'idem-2', 'idem-3', 'idem-4', 'idem-5']);
    expect(await second.size()).toBe(0);
    // Nothing left to send: a third drain sends nothing.
    await drainOutbox(new FileOutbox({ dir: outboxDir }), cfg.alerts.webhooks, { clock });
    expect(r.requests).toHaveLength(5);
  });

  it('retries 503 responses honoring Retry-After; each key is accepted exactly once', async () => {
    const r = await receiver();
    let refusals = 3;
    r.respond = () => (refusals-- > 0 ? { status: 503, headers: { 'retry-after': '7' } } : { status: 202 });
    const cfg = config(r.url, [{ name: 'hook', format: 'alertmanager' }]);
    const outbox = new FileOutbox({ dir: dir() });
    await outbox.enqueue(toOutboxEntries([notification(1), notification(2)], cfg));
    const clock = fakeClock(T0);
    const result = await drainOutbox(outbox, cfg.alerts.webhooks, { clock, random: () => 0, deadlineMillis: 60_000 });
    expect(result).toEqual({ delivered: 2, deadLettered: 0, pending: 0 });
    expect(clock.slept).toEqual([7_000, 7_000, 7_000]);
    const accepted = r.requests.filter((q) => q.status === 202).map((q) => q.headers['idempotency-key']);
    expect(accepted).toEqual(['idem-1', 'idem-2']);
    expect(r.requests.filter((q) => q.status === 503).map((q) => q.headers['idempotency-key'])).toEqual(['idem-1', 'idem-1', 'idem-1']);
  });

  it('leaves an entry for later when Retry-After is past the drain deadline', async () => {
    const r = await receiver();
    r.respond = () => ({ status: 429, headers: { 'retry-after': '3600' } });
    const cfg = config(r.url, [{ name: 'hook', format: 'json' }]);
    const outbox = new FileOutbox({ dir: dir() });
    await outbox.enqueue(toOutboxEntries([notification(1)], cfg));
    const clock = fakeClock(T0);
    expect(await drainOutbox(outbox, cfg.alerts.webhooks, { clock, deadlineMillis: 30_000 })).toEqual({ delivered: 0, deadLettered: 0, pending: 1 });
    expect(clock.slept).toEqual([]);
    clock.set(T0 + 1_800_000);
    await drainOutbox(outbox, cfg.alerts.webhooks, { clock });
    expect(r.requests).toHaveLength(1);
    r.respond = () => ({ status: 200 });
    clock.set(T0 + 3_600_001);
    expect((await drainOutbox(outbox, cfg.alerts.webhooks, { clock })).delivered).toBe(1);
  });

  it('moves a permanently rejected notification to dead/ without retrying it', async () => {
    const r = await receiver();
    r.respond = () => ({ status: 400 });
    const cfg = config(r.url, [{ name: 'hook', format: 'json' }]);
    const outboxDir = dir();
    const outbox = new FileOutbox({ dir: outboxDir });
    await outbox.enqueue(toOutboxEntries([notification(1)], cfg));
    expect(await drainOutbox(outbox, cfg.alerts.webhooks, { clock: fakeClock(T0) })).toEqual({ delivered: 0, deadLettered: 1, pending: 0 });
    expect(r.requests).toHaveLength(1);
    expect(readdirSync(join(outboxDir, 'dead'))).toHaveLength(1);
  });

  it('dead-letters entries of a webhook that is no longer configured, and expired entries', async () => {
    const r = await receiver();
    const cfg = config(r.url, [{ name: 'hook', format: 'json' }]);
    const outbox = new FileOutbox({ dir: dir() });
    await outbox.enqueue(toOutboxEntries([notification(1)], cfg));
    expect((await drainOutbox(outbox, [], { clock: fakeClock(T0) })).deadLettered).toBe(1);
    await outbox.enqueue(toOutboxEntries([notification(2)], cfg));
    expect((await drainOutbox(outbox, cfg.alerts.webhooks, { clock: fakeClock(T0 + 8 * 86_400_000) })).deadLettered).toBe(1);
    expect(r.requests).toHaveLength(0);
  });

  it('is bounded: past maxEntries new notifications are dropped and counted', async () => {
    const cfg = config('http://127.0.0.1:9', [{ name: 'hook', format: 'json' }]);
    const outbox = new FileOutbox({ dir: dir(), maxEntries: 3 });
    expect(await outbox.enqueue(toOutboxEntries([1, 2, 3, 4, 5].map((i) => notification(i)), cfg))).toBe(2);
    expect(await outbox.size()).toBe(3);
    expect((await outbox.list()).map((e) => e.entry.idempotencyKey)).toEqual(['idem-1', 'idem-2', 'idem-3']);
  });

  it('writes entries atomically: no temporary files remain', async () => {
    const cfg = config('http://127.0.0.1:9', [{ name: 'hook', format: 'json' }]);
    const d = dir();
    await new FileOutbox({ dir: d }).enqueue(toOutboxEntries([notification(1)], cfg));
    expect(readdirSync(d).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(d, 'dead'))).toBe(false);
  });
});

describe('retry classification', () => {
  it.each([
    [200, null, { kind: 'success' }],
    [204, null, { kind: 'success' }],
    [429, '30', { kind: 'retryable', reason: 'HTTP 429', retryInMillis: 30_000 }],
    [502, null, { kind: 'retryable', reason: 'HTTP 502' }],
    [503, 'soon', { kind: 'retryable', reason: 'HTTP 503' }],
    [504, null, { kind: 'retryable', reason: 'HTTP 504' }],
    [500, null, { kind: 'retryable', reason: 'HTTP 500' }],
    [408, null, { kind: 'retryable', reason: 'HTTP 408' }],
    [422, null, { kind: 'failure', reason: 'HTTP 422' }],
    [301, null, { kind: 'failure', reason: 'HTTP 301' }],
    [400, null, { kind: 'failure', reason: 'HTTP 400' }],
    [401, null, { kind: 'failure', reason: 'HTTP 401' }],
    [404, null, { kind: 'failure', reason: 'HTTP 404' }],
  ])('HTTP %i (Retry-After %s) is %j', (status, retryAfter, want) => {
    expect(classifyResponse(status, retryAfter, T0)).toEqual(want);
  });

  it.each([
    ['120', 120_000],
    ['0', 0],
    [new Date(T0 + 90_000).toUTCString(), 90_000],
    [new Date(T0 - 90_000).toUTCString(), 0],
    ['-5', undefined],
    ['1.5', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('Retry-After %s is %s ms', (value, want) => {
    expect(parseRetryAfterMillis(value, T0)).toBe(want);
  });

  it('backs off exponentially with full jitter, capped, and never below Retry-After', () => {
    const opts = { baseDelayMillis: 500, maxDelayMillis: 30_000 };
    expect([1, 2, 3, 4, 10].map((a) => retryDelayMillis(a, opts, () => 1))).toEqual([500, 1000, 2000, 4000, 30_000]);
    expect(retryDelayMillis(3, opts, () => 0)).toBe(0);
    expect(retryDelayMillis(3, opts, () => 0.5)).toBe(1000);
    expect(retryDelayMillis(1, opts, () => 1, 7_000)).toBe(7_000);
  });
});
