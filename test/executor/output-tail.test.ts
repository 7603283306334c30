import { describe, expect, it } from 'vitest';
import { longestSecretBytes, redactedTail, secretValues } from '../../executor/internal/redact.js';
import { TailBuffer } from '../../executor/internal/tail-buffer.js';

function feed(tail: TailBuffer, text: string, chunk: number): void {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += chunk) tail.push(bytes.subarray(i, i + chunk));
}

describe('TailBuffer keeps only the last N bytes', () => {
  const cases = [
    { name: 'less than capacity', text: 'hello', cap: 8, chunk: 2, want: 'hello' },
    { name: 'exactly capacity', text: '12345678', cap: 8, chunk: 3, want: '12345678' },
    { name: 'wraps around', text: 'abcdefghijklmnop', cap: 5, chunk: 3, want: 'lmnop' },
    { name: 'one chunk larger than capacity', text: 'abcdefghij', cap: 4, chunk: 100, want: 'ghij' },
    { name: 'byte by byte', text: 'the quick brown fox', cap: 7, chunk: 1, want: 'own fox' },
    { name: 'zero capacity keeps nothing', text: 'abc', cap: 0, chunk: 1, want: '' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const t = new TailBuffer(c.cap);
      feed(t, c.text, c.chunk);
      expect(t.bytes().toString()).toBe(c.want);
      expect(t.totalBytes).toBe(c.text.length);
      expect(t.truncated).toBe(c.text.length > c.cap);
    });
  }
  it('memory stays bounded for a large stream', () => {
    const t = new TailBuffer(1024);
    for (let i = 0; i < 10_000; i++) t.push(Buffer.alloc(1000, i % 256));
    expect(t.bytes().length).toBe(1024);
    expect(t.totalBytes).toBe(10_000_000);
  });
});

describe('secret redaction of output tails', () => {
  const env = { API_TOKEN: 'tok-123456', DB_PASSWORD: 'hunter22', aws_secret_access_key: 'AKIAxyzw', PATH: '/usr/bin', SHORT_KEY: 'ab' };

  it('takes values of TOKEN/SECRET/PASSWORD/KEY variables (case-insensitive), longest first, not other vars or very short values', () => {
    expect(secretValues(env)).toEqual(['tok-123456', 'hunter22', 'AKIAxyzw']);
  });

  it('replaces every occurrence', () => {
    const s = secretValues(env);
    const out = redactedTail(Buffer.from('login hunter22 with tok-123456 and hunter22\n'), false, 4096, s);
    expect(out).toBe('login [REDACTED] with [REDACTED] and [REDACTED]\n');
  });

  it('never leaks the visible part of a secret cut by the window start', () => {
    const secrets = ['SUPERSECRETVALUE'];
    const limit = 20;
    const text = `${'x'.repeat(100)}SUPERSECRETVALUE${'y'.repeat(10)}`;
    // Try every cut point of the stream: the window ends at the stream's end.
    for (let extra = 0; extra < 40; extra++) {
      const t = new TailBuffer(limit + longestSecretBytes(secrets));
      feed(t, text.slice(0, text.length - extra), 7);
      const out = redactedTail(t.bytes(), t.truncated, limit, secrets);
      for (let k = 4; k <= secrets[0]!.length; k++) {
        for (let i = 0; i + k <= secrets[0]!.length; i++) expect(out).not.toContain(secrets[0]!.slice(i, i + k));
      }
      expect(Buffer.byteLength(out)).toBeLessThanOrEqual(limit);
    }
  });

  it('a secret straddling the dropped prefix still shows as [REDACTED]', () => {
    const secrets = ['0123456789'];
    const t = new TailBuffer(15 + 10);
    feed(t, `${'a'.repeat(50)}bbbbb0123456789cccccccccc`, 4);
    expect(redactedTail(t.bytes(), t.truncated, 15, secrets)).toBe('[REDACTED]cccccccccc'.slice(-15));
  });

  it('drops a multi-byte character split by the window start', () => {
    const t = new TailBuffer(5);
    feed(t, 'ééééé', 1); // 10 bytes
    expect(redactedTail(t.bytes(), t.truncated, 5, [])).toBe('éé');
  });
});
