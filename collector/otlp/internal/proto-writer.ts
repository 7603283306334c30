import { varintSize } from './proto-reader.js';

const encoder = new TextEncoder();

/**
 * A growable protobuf output buffer.
 *
 * Embedded messages are written with {@link begin}/{@link end}: `begin`
 * reserves one byte for the length, and `end` fills it in, shifting the
 * content right only in the rarer case that the length needs more than one
 * byte (content of 128 bytes or more).
 */
export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Writes an unsigned varint of a value below 2^32. */
  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v = v >>> 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** Writes a 64-bit varint from its unsigned 32-bit halves. */
  varint64(lo: number, hi: number): void {
    if (hi === 0) {
      this.uint32(lo);
      return;
    }
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (hi !== 0 || lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  /** Writes a safe integer as an int64 varint (two's complement, 10 bytes when negative). */
  int64(v: number): void {
    if (v >= 0) {
      this.varint64(v >>> 0, Math.floor(v / 4294967296) >>> 0);
      return;
    }
    const abs = -v;
    let lo = abs >>> 0;
    let hi = Math.floor(abs / 4294967296) >>> 0;
    // Two's complement of the 64-bit magnitude: invert and add one.
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    this.varint64(lo, hi);
  }

  /** Writes a field tag. */
  tag(fieldNumber: number, wireType: number): void {
    this.uint32(((fieldNumber << 3) | wireType) >>> 0);
  }

  /** Writes a little-endian fixed64 from a bigint (taken modulo 2^64). */
  fixed64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, v), true);
    this.pos += 8;
  }

  /** Writes a little-endian IEEE 754 double. */
  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** Writes a length-prefixed UTF-8 string. */
  string(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const max = s.length * 3;
    const prefix = varintSize(max);
    // Room for the largest prefix too, so writing the prefix below never regrows
    // the buffer (which would drop the bytes already encoded past `pos`).
    this.ensure(5 + max);
    const start = this.pos + prefix;
    const { written } = encoder.encodeInto(s, this.buf.subarray(start, start + max));
    const actual = varintSize(written);
    if (actual !== prefix) this.buf.copyWithin(this.pos + actual, start, start + written);
    this.uint32(written);
    this.pos += written;
  }

  /** Writes length-prefixed raw bytes. */
  bytes(b: Uint8Array): void {
    this.uint32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * Reserves room for `len` raw bytes after a length prefix and returns the
   * offset where they go; the caller fills `target()` from there.
   */
  reserveBytes(len: number): number {
    this.uint32(len);
    this.ensure(len);
    const at = this.pos;
    this.pos += len;
    return at;
  }

  /** The current underlying buffer (valid until the next write that grows it). */
  target(): Uint8Array {
    return this.buf;
  }

  /** Starts an embedded message (after its tag); returns the token for {@link end}. */
  begin(): number {
    this.ensure(1);
    this.pos += 1;
    return this.pos;
  }

  /** Ends an embedded message started with {@link begin}, writing its length prefix. */
  end(contentStart: number): void {
    const len = this.pos - contentStart;
    if (len < 0x80) {
      this.buf[contentStart - 1] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    this.buf.copyWithin(contentStart + extra, contentStart, this.pos);
    const endPos = this.pos + extra;
    this.pos = contentStart - 1;
    this.uint32(len);
    this.pos = endPos;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
