/** Reading OTLP answers in tests: the `partial_success` of an ExportTraceServiceResponse (protobuf). */
import { ProtoReader } from '../../collector/otlp/internal/proto-reader.js';

export interface PartialSuccess {
  rejected: number;
  message: string;
}

/** `partial_success` of an ExportTraceServiceResponse: rejected count and message (0 and `''` when absent). */
export function partialSuccess(response: Uint8Array | undefined): PartialSuccess {
  const out = { rejected: 0, message: '' };
  if (!response) return out;
  const r = new ProtoReader(response);
  while (r.pos < r.limit) {
    const tag = r.tag();
    if (tag !== 0x0a) {
      r.skip(tag);
      continue;
    }
    const outer = r.enter();
    while (r.pos < r.limit) {
      const t = r.tag();
      if (t === 0x08) out.rejected = Number(r.int64());
      else if (t === 0x12) out.message = r.string();
      else r.skip(t);
    }
    r.leave(outer);
  }
  return out;
}
