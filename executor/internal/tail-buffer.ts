/**
 * A fixed-size byte ring buffer keeping the last `capacityBytes` bytes
 * written. Memory is bounded at `capacityBytes` whatever the stream's size;
 * older bytes are overwritten (and counted in `totalBytes`).
 */
export class TailBuffer {
  private readonly buf: Buffer;
  private start = 0;
  private length = 0;
  /** Bytes written since creation, including overwritten ones. */
  totalBytes = 0;

  constructor(readonly capacityBytes: number) {
    this.buf = Buffer.alloc(Math.max(0, Math.floor(capacityBytes)));
  }

  push(chunk: Uint8Array): void {
    this.totalBytes += chunk.length;
    const cap = this.buf.length;
    if (cap === 0) return;
    if (chunk.length >= cap) {
      this.buf.set(chunk.subarray(chunk.length - cap));
      this.start = 0;
      this.length = cap;
      return;
    }
    let end = (this.start + this.length) % cap;
    const firstPart = Math.min(chunk.length, cap - end);
    this.buf.set(chunk.subarray(0, firstPart), end);
    this.buf.set(chunk.subarray(firstPart), 0);
    end = (end + chunk.length) % cap;
    const newLength = this.length + chunk.length;
    if (newLength > cap) {
      this.start = end;
      this.length = cap;
    } else {
      this.length = newLength;
    }
  }

  /** `true` when bytes were dropped off the front. */
  get truncated(): boolean {
    return this.totalBytes > this.length;
  }

  /** The kept bytes, oldest first. */
  bytes(): Buffer {
    const cap = this.buf.length;
    if (this.start + this.length <= cap) return Buffer.from(this.buf.subarray(this.start, this.start + this.length));
    return Buffer.concat([this.buf.subarray(this.start), this.buf.subarray(0, (this.start + this.length) % cap)]);
  }
}
