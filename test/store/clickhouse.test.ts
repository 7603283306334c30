import { describe, expect, it } from 'vitest';
import { StoreError } from '../../contracts/index.js';
import { ClickHouseStore } from '../../store/clickhouse.js';
import { interpolatedQuantileSql, quoteString } from '../../store/_clickhouse.js';
import { defineClickHouseServerSuite } from '../support/clickhouse-suite.js';
import { clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';

const URL_ = clickhouseUrl();
const up = await requireService('ClickHouse', () => probeClickHouse(URL_), 'ClickHouse store (test/store/clickhouse.test.ts)');

describe('quoteString: ClickHouse literals (no server)', () => {
  const cases: [string, string][] = [
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["x'); DROP TABLE spans; --", "'x\\'); DROP TABLE spans; --'"],
    ['tab\there', "'tab\\there'"],
    ['nl\ncr\r', "'nl\\ncr\\r'"],
    ['nul\0bs\bff\f', "'nul\\0bs\\bff\\f'"],
    ['\x01\x1f\x7f', "'\\x01\\x1F\\x7F'"],
    ['émoji 🚀', "'émoji 🚀'"],
    ['lone \ud800 surrogate \udc00', "'lone \uFFFD surrogate \uFFFD'"],
    ['pair \ud83d\ude80 kept', "'pair 🚀 kept'"],
    ['', "''"],
  ];
  for (const [input, want] of cases) {
    it(`quotes ${JSON.stringify(input)}`, () => {
      expect(quoteString(input)).toBe(want);
    });
  }

  it('builds the interpolated quantile only for q in [0, 1]', () => {
    expect(interpolatedQuantileSql('a', 0.5)).toContain('arrayElement(a');
    expect(() => interpolatedQuantileSql('a', 1.5)).toThrow(RangeError);
    expect(() => interpolatedQuantileSql('a', Number.NaN)).toThrow(RangeError);
  });
});

describe('ClickHouse store: unreachable server (no server needed)', () => {
  it('fails with JOBSLO_ERR_STORE_UNREACHABLE naming the URL without the password and how to fix it', async () => {
    // Port 1 on loopback: nothing listens there.
    const store = await ClickHouseStore.open({ url: 'http://alice:s3cret@127.0.0.1:1', database: 'jobslo', requestTimeoutMillis: 2_000 });
    try {
      const err = await store.migrate().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('JOBSLO_ERR_STORE_UNREACHABLE');
      expect((err as StoreError).message).toContain('http://127.0.0.1:1/jobslo');
      expect((err as StoreError).message).not.toContain('s3cret');
      expect((err as StoreError).message).toMatch(/HTTP interface.*8123/);
      expect(store.location).not.toContain('s3cret');
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!up)('ClickHouse store against the real server', () => {
  // Shared with test/store/clickhouse-current.test.ts (current releases via chDB).
  defineClickHouseServerSuite({ name: 'ClickHouse', url: () => URL_ });
});
