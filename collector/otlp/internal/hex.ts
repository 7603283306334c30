/**
 * Hex conversion for trace and span ids.
 *
 * Bytes to hex goes through `Buffer#toString('hex')`, which measured faster
 * than any JS lookup-table loop on Node 20 and yields a flat string (cheap to
 * hash later as a map key). Hex to bytes uses a 256-entry lookup table.
 */

/** Nibble value of each char code, or -1 when the char is not a hex digit (either case). */
const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[0x41 + i] = 10 + i;
  NIBBLE[0x61 + i] = 10 + i;
}

/** Lowercase hex of `len` bytes of `buf` starting at `start`. */
export function bytesToHex(buf: Buffer, start: number, len: number): string {
  return len === 0 ? '' : buf.toString('hex', start, start + len);
}

/**
 * Decodes a hex string (case-insensitive) into `out` at `offset`.
 * Returns the number of bytes written, or -1 when the string has an odd length,
 * a non-hex character, or does not fit in `out`.
 */
export function hexToBytesInto(hex: string, out: Uint8Array, offset: number): number {
  const len = hex.length;
  if ((len & 1) !== 0) return -1;
  const n = len >>> 1;
  if (offset + n > out.length) return -1;
  for (let i = 0; i < n; i++) {
    const c1 = hex.charCodeAt(2 * i);
    const c2 = hex.charCodeAt(2 * i + 1);
    // Char codes above 255 index past the table and yield undefined, hence the `?? -1`.
    const hi = c1 < 256 ? (NIBBLE[c1] ?? -1) : -1;
    const lo = c2 < 256 ? (NIBBLE[c2] ?? -1) : -1;
    if (hi < 0 || lo < 0) return -1;
    out[offset + i] = (hi << 4) | lo;
  }
  return n;
}

/** Whether `hex` is an even-length string of hex digits (either case). */
export function isHex(hex: string): boolean {
  const len = hex.length;
  if ((len & 1) !== 0) return false;
  for (let i = 0; i < len; i++) {
    const c = hex.charCodeAt(i);
    if (c >= 256 || (NIBBLE[c] ?? -1) < 0) return false;
  }
  return true;
}

/** Whether every char of an already-validated hex string is `0`. */
export function isAllZeroHex(hex: string): boolean {
  for (let i = 0; i < hex.length; i++) {
    if (hex.charCodeAt(i) !== 0x30) return false;
  }
  return true;
}
