import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../cli/commands/collector.js';

describe('collector read API', () => {
  it('is offered only on loopback addresses', () => {
    const cases: [string, boolean][] = [
      ['127.0.0.1', true],
      ['127.1.2.3', true],
      ['localhost', true],
      ['::1', true],
      ['0.0.0.0', false],
      ['::', false],
      ['10.0.0.5', false],
      ['127.0.0.1.evil', false],
    ];
    for (const [host, want] of cases) expect(isLoopback(host), host).toBe(want);
  });
});
