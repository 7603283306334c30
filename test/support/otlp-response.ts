/** OTLP exports in tests: one protobuf export over HTTP or gRPC, and the `partial_success` of its answer. */
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { TRACE_EXPORT_PATH } from '../../collector/index.js';
import { encodeTraceRequestProto } from '../../collector/otlp/index.js';
import { ProtoReader } from '../../collector/otlp/internal/proto-reader.js';
import type { SpanRecord } from '../../contracts/index.js';

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

/** One OTLP/gRPC `Export` of a protobuf body: the status code and, when OK, the response bytes. */
export function grpcExport(address: string, body: Uint8Array): Promise<{ code: number; response?: Buffer }> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      TRACE_EXPORT_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      new Metadata(),
      {},
      (err: ServiceError | null, response?: Buffer) => {
        client.close();
        resolve(err ? { code: err.code } : { code: status.OK, ...(response ? { response } : {}) });
      },
    );
  });
}

/** One OTLP/HTTP protobuf export of `spans` to a collector's base URL: the status and the partial success. */
export async function postProto(url: string, spans: readonly SpanRecord[]): Promise<{ status: number; partial: PartialSuccess }> {
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(encodeTraceRequestProto(spans)) });
  return { status: res.status, partial: partialSuccess(new Uint8Array(await res.arrayBuffer())) };
}
