import { DecodeError } from '../../../contracts/errors.js';

/** Wire types of the protobuf encoding. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

const TWO_POW_32 = 4294967296;

/** Slots of the string cache (a power of two) and the longest string, in bytes, it holds: 64 KiB of bytes in all. */
const CACHE_SLOTS = 1024;
const CACHE_MAX_BYTES = 64;
const cacheBytes = new Uint8Array(CACHE_SLOTS * CACHE_MAX_BYTES);
const cacheLengths = new Uint8Array(CACHE_SLOTS);
const cacheStrings: (string | undefined)[] = new Array<string | undefined>(CACHE_SLOTS).fill(undefined);

/** Encoded size in bytes of an unsigned 32-bit varint. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/**
 * A bounds-checked cursor over protobuf bytes.
 *
 * Every read checks against `limit`, the end of the innermost message being
 * decoded, so a field can never run past its enclosing message. Reads throw
 * {@link DecodeError} naming the byte offset of the problem. The reader never
 * allocates per byte: varints are assembled in numbers, and the 64-bit ones
 * are split into `lo`/`hi` 32-bit halves.
 */
export class ProtoReader {
  readonly buf: Uint8Array;
  /** A Buffer view of the same memory (no copy), for fast UTF-8, hex and base64 slicing. */
  readonly nodeBuf: Buffer;
  private readonly view: DataView;
  /** Offset of the next byte to read. */
  pos = 0;
  /** Offset one past the last byte of the message being decoded. */
  limit: number;
  /** Low 32 bits (unsigned) of the last {@link varint64} read. */
  lo = 0;
  /** High 32 bits (unsigned) of the last {@link varint64} read. */
  hi = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.nodeBuf = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.limit = buf.length;
  }

  /** Throws a {@link DecodeError} for a problem found at byte `offset`. */
  fail(problem: string, offset: number): never {
    throw new DecodeError(`invalid OTLP protobuf: ${problem} at byte offset ${offset}`);
  }

  private truncated(what: string, offset: number): never {
    const where = this.limit === this.buf.length ? 'the input ends' : 'its enclosing message ends';
    this.fail(`truncated ${what} (${where} at byte ${this.limit})`, offset);
  }

  /**
   * Reads a field tag and returns it whole, `(fieldNumber << 3) | wireType`, so
   * callers can switch on exact tags (a known field number with an unexpected
   * wire type then falls through to {@link skip}, like an unknown field).
   */
  tag(): number {
    const start = this.pos;
    // Fast path: field numbers 1..15 fit in one byte.
    if (start < this.limit) {
      const b = this.buf[start]!;
      if (b < 0x80 && b >= 0x08) {
        this.pos = start + 1;
        return b;
      }
    }
    const t = this.varint32('tag');
    if (t < 8) this.fail('field number 0 in tag', start);
    return t;
  }

  /** A varint of at most 5 bytes whose value fits in 32 bits (tags and lengths). */
  private varint32(what: string): number {
    const buf = this.buf;
    const limit = this.limit;
    const start = this.pos;
    let pos = start;
    if (pos >= limit) this.truncated(what, start);
    let b = buf[pos++]!;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let v = b & 0x7f;
    for (let shift = 7; ; shift += 7) {
      if (pos >= limit) this.truncated(what, start);
      b = buf[pos++]!;
      if (shift === 28) {
        // Fifth byte: only its low 4 bits fit in 32 bits, and it must end the varint.
        if (b > 0x0f) this.fail(`${what} varint exceeds 32 bits`, start);
        this.pos = pos;
        return v + b * 0x10000000;
      }
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
    }
  }

  /**
   * Reads a length prefix, checks that many bytes remain in the enclosing
   * message, and returns the offset one past them. `pos` is left at the first
   * byte of the payload.
   */
  lengthEnd(): number {
    const start = this.pos;
    const len = this.varint32('length');
    const end = this.pos + len;
    if (end > this.limit) {
      this.fail(`length ${len} exceeds the ${this.limit - this.pos} bytes left in the enclosing message`, start);
    }
    return end;
  }

  /**
   * Enters an embedded message: reads its length and narrows `limit` to it.
   * Returns the outer limit, to hand back to {@link leave} once `pos === limit`.
   */
  enter(): number {
    const end = this.lengthEnd();
    const outer = this.limit;
    this.limit = end;
    return outer;
  }

  /** Leaves an embedded message entered with {@link enter}. */
  leave(outerLimit: number): void {
    this.limit = outerLimit;
  }

  /**
   * Reads a varint of up to 10 bytes into {@link lo} and {@link hi}
   * (unsigned halves). Bits past 64 are ignored, as protobuf does.
   */
  varint64(): void {
    const buf = this.buf;
    const limit = this.limit;
    const start = this.pos;
    let pos = start;
    let lo = 0;
    let hi: number;
    let b: number;
    // Bytes 0..3 carry bits 0..27.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= limit) this.truncated('varint', start);
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        this.pos = pos;
        return;
      }
    }
    // Byte 4 straddles the halves: bits 28..31 and 32..34.
    if (pos >= limit) this.truncated('varint', start);
    b = buf[pos++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) {
      this.lo = lo >>> 0;
      this.hi = hi;
      this.pos = pos;
      return;
    }
    // Bytes 5..9 carry bits 35..63.
    for (let shift = 3; shift < 32; shift += 7) {
      if (pos >= limit) this.truncated('varint', start);
      b = buf[pos++]!;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        this.pos = pos;
        return;
      }
    }
    this.fail('varint longer than 10 bytes', start);
  }

  /** Reads any varint and returns its low 32 bits as a signed int32 (enums, int32 fields). */
  int32(): number {
    const pos = this.pos;
    if (pos < this.limit) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varint64();
    return this.lo | 0;
  }

  /** Reads a varint as a bool (any non-zero value is true). */
  bool(): boolean {
    this.varint64();
    return (this.lo | this.hi) !== 0;
  }

  /**
   * Reads an int64 varint (two's complement). Returns a number when it is a
   * safe integer, else its exact decimal string.
   */
  int64(): number | string {
    this.varint64();
    const lo = this.lo;
    const hi = this.hi;
    // Exact whenever the result is a safe integer; once rounding could occur
    // the magnitude is at least 2^53 and isSafeInteger rejects it.
    const n = (hi | 0) * TWO_POW_32 + lo;
    if (Number.isSafeInteger(n)) return n;
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
  }

  /** Reads a little-endian fixed64 as an unsigned bigint. */
  fixed64(): bigint {
    const pos = this.pos;
    if (pos + 8 > this.limit) this.truncated('fixed64', pos);
    this.pos = pos + 8;
    return this.view.getBigUint64(pos, true);
  }

  /** Reads a little-endian IEEE 754 double. */
  double(): number {
    const pos = this.pos;
    if (pos + 8 > this.limit) this.truncated('double', pos);
    this.pos = pos + 8;
    return this.view.getFloat64(pos, true);
  }

  /** Reads a length-delimited UTF-8 string; invalid sequences become U+FFFD. */
  string(): string {
    const end = this.lengthEnd();
    const start = this.pos;
    this.pos = end;
    return end === start ? '' : this.nodeBuf.toString('utf8', start, end);
  }

  /**
   * Like {@link string}, for strings that repeat across spans and requests
   * (attribute keys, span and scope names, short enum-like values): a short
   * string is looked up by its bytes in a small bounded cache first, which
   * skips both the UTF-8 decoding and V8's interning of a fresh key string.
   */
  cachedString(): string {
    const end = this.lengthEnd();
    const start = this.pos;
    this.pos = end;
    const len = end - start;
    if (len === 0) return '';
    if (len > CACHE_MAX_BYTES) return this.nodeBuf.toString('utf8', start, end);
    const buf = this.buf;
    // FNV-1a over the bytes picks the slot; the bytes are then compared in full.
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h >>> 0) & (CACHE_SLOTS - 1);
    const cached = cacheStrings[slot];
    const at = slot * CACHE_MAX_BYTES;
    if (cached !== undefined && cacheLengths[slot] === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (cacheBytes[at + i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    const s = this.nodeBuf.toString('utf8', start, end);
    cacheBytes.set(buf.subarray(start, end), at);
    cacheLengths[slot] = len;
    cacheStrings[slot] = s;
    return s;
  }

  /** Reads a length-delimited bytes field and returns it base64-encoded. */
  bytesBase64(): string {
    const end = this.lengthEnd();
    const start = this.pos;
    this.pos = end;
    return end === start ? '' : this.nodeBuf.toString('base64', start, end);
  }

  /** Skips the value of a field with the given tag, by its wire type. */
  skip(tag: number): void {
    const wireType = tag & 7;
    const start = this.pos;
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        if (start + 8 > this.limit) this.truncated('fixed64', start);
        this.pos = start + 8;
        return;
      case WIRE_LEN:
        this.pos = this.lengthEnd();
        return;
      case WIRE_FIXED32:
        if (start + 4 > this.limit) this.truncated('fixed32', start);
        this.pos = start + 4;
        return;
      default: {
        // Report the offset of the tag itself, which is what is wrong here.
        const tagOffset = start - varintSize(tag);
        if (wireType === WIRE_START_GROUP || wireType === WIRE_END_GROUP) {
          this.fail(`unsupported group wire type ${wireType} for field ${tag >>> 3}`, tagOffset);
        }
        this.fail(`invalid wire type ${wireType} for field ${tag >>> 3}`, tagOffset);
      }
    }
  }
}
