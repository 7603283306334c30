import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../contracts/errors.js';
import { ProtoReader, varintSize } from '../../collector/otlp/internal/proto-reader.js';
import { bytesToHex, hexToBytesInto, isAllZeroHex, isHex } from '../../collector/otlp/internal/hex.js';
import { concat, tag, varint } from './_proto.js';

const reader = (bytes: number[] | Uint8Array): ProtoReader => new ProtoReader(Uint8Array.from(bytes));

describe('ProtoReader.varint64', () => {
  const cases: { value: bigint; bytes: number[] }[] = [
    { value: 0n, bytes: [0x00] },
    { value: 1n, bytes: [0x01] },
    { value: 127n, bytes: [0x7f] },
    { value: 128n, bytes: [0x80, 0x01] },
    { value: 300n, bytes: [0xac, 0x02] },
    { value: 16383n, bytes: [0xff, 0x7f] },
    { value: 16384n, bytes: [0x80, 0x80, 0x01] },
    { value: 2n ** 28n - 1n, bytes: [0xff, 0xff, 0xff, 0x7f] },
    { value: 2n ** 28n, bytes: [0x80, 0x80, 0x80, 0x80, 0x01] },
    { value: 2n ** 32n - 1n, bytes: [0xff, 0xff, 0xff, 0xff, 0x0f] },
    { value: 2n ** 32n, bytes: [0x80, 0x80, 0x80, 0x80, 0x10] },
    { value: 2n ** 35n, bytes: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01] },
    { value: 2n ** 53n - 1n, bytes: Array.from(varint(2n ** 53n - 1n)) },
    { value: 2n ** 63n, bytes: [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01] },
    { value: 2n ** 64n - 1n, bytes: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01] },
  ];

  it.each(cases)('reads $value from its encoding and consumes exactly its bytes', ({ value, bytes }) => {
    expect(Array.from(varint(value))).toEqual(bytes); // the test builder agrees with the table
    const r = reader([...bytes, 0x55]);
    r.varint64();
    expect((BigInt(r.hi) << 32n) | BigInt(r.lo)).toBe(value);
    expect(r.pos).toBe(bytes.length);
  });

  it('rejects a varint longer than 10 bytes', () => {
    const r = reader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(() => r.varint64()).toThrow(/varint longer than 10 bytes at byte offset 0/);
  });

  it.each([[[0x80]], [[0xff, 0xff]], [[0x80, 0x80, 0x80, 0x80, 0x80, 0x80]], [[]]])(
    'reports truncation of %j as a DecodeError',
    (bytes) => {
      const r = reader(bytes);
      expect(() => r.varint64()).toThrow(DecodeError);
      expect(() => reader(bytes).varint64()).toThrow(/truncated varint .* at byte offset 0/);
    },
  );
});

describe('ProtoReader.int64', () => {
  const cases: { value: bigint; expected: number | string }[] = [
    { value: 0n, expected: 0 },
    { value: 42n, expected: 42 },
    { value: -1n, expected: -1 },
    { value: -7n, expected: -7 },
    { value: 2n ** 31n, expected: 2 ** 31 },
    { value: -(2n ** 31n), expected: -(2 ** 31) },
    { value: 2n ** 32n + 5n, expected: 2 ** 32 + 5 },
    { value: 2n ** 53n - 1n, expected: Number.MAX_SAFE_INTEGER },
    { value: -(2n ** 53n - 1n), expected: Number.MIN_SAFE_INTEGER },
    { value: 2n ** 53n, expected: '9007199254740992' },
    { value: -(2n ** 53n), expected: '-9007199254740992' },
    { value: 2n ** 63n - 1n, expected: '9223372036854775807' },
    { value: -(2n ** 63n), expected: '-9223372036854775808' },
  ];
  it.each(cases)('decodes $value as $expected', ({ value, expected }) => {
    expect(reader(varint(value)).int64()).toBe(expected);
  });
});

describe('ProtoReader other reads', () => {
  it('int32 keeps the low 32 bits of a sign-extended negative enum', () => {
    expect(reader(varint(-2)).int32()).toBe(-2);
    expect(reader(varint(5)).int32()).toBe(5);
  });

  it('bool is true for any non-zero varint, including one with only high bits set', () => {
    expect(reader([0x00]).bool()).toBe(false);
    expect(reader([0x01]).bool()).toBe(true);
    expect(reader(varint(2n ** 40n)).bool()).toBe(true);
  });

  it('fixed64 reads little-endian unsigned 64-bit', () => {
    const r = reader([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xf8]);
    expect(r.fixed64()).toBe(0xf807060504030201n);
    expect(r.pos).toBe(8);
    expect(() => reader([1, 2, 3, 4, 5, 6, 7]).fixed64()).toThrow(/truncated fixed64 .* at byte offset 0/);
  });

  it('double reads little-endian IEEE 754', () => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, -1.5e-7, true);
    expect(reader(b).double()).toBe(-1.5e-7);
  });

  it('string decodes UTF-8 and replaces invalid sequences instead of throwing', () => {
    const utf8 = new TextEncoder().encode('héllo ✓');
    expect(reader([utf8.length, ...utf8]).string()).toBe('héllo ✓');
    expect(reader([2, 0xff, 0x41]).string()).toBe('\ufffdA');
    expect(reader([0]).string()).toBe('');
  });

  it('cachedString returns the right string across slot collisions, lengths and invalid UTF-8', () => {
    const enc = new TextEncoder();
    const samples = [
      ...Array.from({ length: 5000 }, (_, i) => `key.${i}`),
      'x'.repeat(64),
      'x'.repeat(65),
      'y'.repeat(300),
      'Grüße ✓',
      '',
    ];
    // Twice, so the second pass is served from the cache where the slot still holds the string.
    for (let pass = 0; pass < 2; pass++) {
      for (const s of samples) {
        const b = enc.encode(s);
        expect(reader([...varint(b.length), ...b]).cachedString()).toBe(s);
      }
    }
    for (let pass = 0; pass < 2; pass++) expect(reader([2, 0xff, 0x41]).cachedString()).toBe('\ufffdA');
    // Same length, same slot candidates: differing bytes must not be confused.
    expect(reader([3, 0x61, 0x62, 0x63]).cachedString()).toBe('abc');
    expect(reader([3, 0x61, 0x62, 0x64]).cachedString()).toBe('abd');
    expect(reader([3, 0x61, 0x62, 0x63]).cachedString()).toBe('abc');
  });

  it('reads from a subarray view at the right offsets', () => {
    const backing = Uint8Array.from([0xee, 0xee, 3, 0x61, 0x62, 0x63, 0xee]);
    const r = new ProtoReader(backing.subarray(2, 6));
    expect(r.string()).toBe('abc');
    expect(r.pos).toBe(4);
  });

  it('lengthEnd rejects a length running past the input, naming the offset', () => {
    expect(() => reader([0x05, 1, 2]).lengthEnd()).toThrow(/length 5 exceeds the 2 bytes left .* at byte offset 0/);
    expect(() => reader([0xff, 0xff, 0xff, 0xff, 0x7f]).lengthEnd()).toThrow(/length varint exceeds 32 bits/);
  });

  it('enter narrows the limit so a field cannot run past its enclosing message', () => {
    // Outer message of 2 bytes containing a string field claiming 3 bytes.
    const r = reader([0x02, 0x0a, 0x03, 0x61, 0x62, 0x63]);
    const outer = r.enter();
    expect(r.limit).toBe(3);
    expect(r.tag()).toBe(0x0a);
    expect(() => r.string()).toThrow(/length 3 exceeds the 0 bytes left in the enclosing message at byte offset 2/);
    r.leave(outer);
    expect(r.limit).toBe(6);
  });

  it('tag rejects field number 0', () => {
    expect(() => reader([0x02, 0x00]).tag()).toThrow(/field number 0 in tag at byte offset 0/);
  });

  it('tag reads multi-byte tags', () => {
    const r = reader(tag(16, 5));
    expect(r.tag()).toBe((16 << 3) | 5);
    expect(r.pos).toBe(2);
  });
});

describe('ProtoReader.skip', () => {
  const cases: { name: string; bytes: Uint8Array; consumed: number }[] = [
    { name: 'varint', bytes: concat(tag(99, 0), varint(2n ** 63n)), consumed: 10 },
    { name: 'fixed64', bytes: concat(tag(99, 1), new Uint8Array(8)), consumed: 8 },
    { name: 'length-delimited', bytes: concat(tag(99, 2), varint(3), Uint8Array.from([1, 2, 3])), consumed: 4 },
    { name: 'fixed32', bytes: concat(tag(99, 5), new Uint8Array(4)), consumed: 4 },
  ];
  it.each(cases)('skips a $name field exactly', ({ bytes, consumed }) => {
    const r = new ProtoReader(concat(bytes, Uint8Array.from([0x77])));
    const t = r.tag();
    const after = r.pos;
    r.skip(t);
    expect(r.pos - after).toBe(consumed);
  });

  it.each([3, 4])('rejects group wire type %i with the offset of its tag', (wireType) => {
    const r = new ProtoReader(concat(Uint8Array.from([0x08, 0x01]), tag(7, wireType), Uint8Array.from([0, 0])));
    r.skip(r.tag());
    const t = r.tag();
    expect(() => r.skip(t)).toThrow(new RegExp(`unsupported group wire type ${wireType} for field 7 at byte offset 2`));
  });

  it.each([6, 7])('rejects invalid wire type %i', (wireType) => {
    const r = new ProtoReader(tag(1, wireType));
    const t = r.tag();
    expect(() => r.skip(t)).toThrow(DecodeError);
  });

  it('rejects truncated fixed32 and fixed64 values', () => {
    for (const [wireType, n] of [
      [5, 3],
      [1, 7],
    ] as const) {
      const r = new ProtoReader(concat(tag(2, wireType), new Uint8Array(n)));
      const t = r.tag();
      expect(() => r.skip(t)).toThrow(/truncated fixed/);
    }
  });
});

describe('varintSize', () => {
  it.each([
    [0, 1],
    [127, 1],
    [128, 2],
    [16383, 2],
    [16384, 3],
    [2 ** 21, 4],
    [2 ** 28, 5],
    [2 ** 32 - 1, 5],
  ])('%i takes %i bytes', (v, n) => {
    expect(varintSize(v)).toBe(n);
    expect(varint(v).length).toBe(n);
  });
});

describe('hex', () => {
  it('bytesToHex renders lowercase hex of a range', () => {
    const buf = Buffer.from([0x00, 0xab, 0xcd, 0xef, 0x10]);
    expect(bytesToHex(buf, 1, 3)).toBe('abcdef');
    expect(bytesToHex(buf, 0, 0)).toBe('');
  });

  const valid: [string, number[]][] = [
    ['', []],
    ['00', [0]],
    ['ff', [255]],
    ['FF', [255]],
    ['aBcD', [0xab, 0xcd]],
    ['0123456789abcdef', [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]],
  ];
  it.each(valid)('hexToBytesInto decodes %j', (hex, expected) => {
    const out = new Uint8Array(10);
    expect(hexToBytesInto(hex, out, 1)).toBe(expected.length);
    expect(Array.from(out.subarray(1, 1 + expected.length))).toEqual(expected);
    expect(isHex(hex)).toBe(true);
  });

  it.each(['0', 'abc', 'zz', '0g', ' 00', '٠٠', 'a\u0100'])('rejects %j', (hex) => {
    expect(hexToBytesInto(hex, new Uint8Array(10), 0)).toBe(-1);
    expect(isHex(hex)).toBe(false);
  });

  it('hexToBytesInto refuses to write past the output', () => {
    expect(hexToBytesInto('0011', new Uint8Array(1), 0)).toBe(-1);
  });

  it('isAllZeroHex', () => {
    expect(isAllZeroHex('0000')).toBe(true);
    expect(isAllZeroHex('0001')).toBe(false);
  });
});
