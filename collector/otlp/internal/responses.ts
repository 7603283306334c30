/** Encoders of the OTLP/HTTP response bodies: ExportTraceServiceResponse and google.rpc.Status. */
import { ProtoWriter } from './proto-writer.js';

/** See the public `encodeTraceResponse`. */
export function encodeTraceResponse(format: 'proto' | 'json', rejectedSpans: number, errorMessage: string): Uint8Array | string {
  if (!Number.isSafeInteger(rejectedSpans) || rejectedSpans < 0) {
    throw new RangeError(`rejectedSpans must be a non-negative safe integer, got ${rejectedSpans}`);
  }
  const empty = rejectedSpans === 0 && errorMessage === '';
  if (format === 'json') {
    if (empty) return '{}';
    // int64 is a decimal string in the protobuf JSON mapping.
    return JSON.stringify({ partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } });
  }
  const w = new ProtoWriter(64 + errorMessage.length * 3);
  if (!empty) {
    w.tag(1, 2); // ExportTraceServiceResponse.partial_success
    const ps = w.begin();
    if (rejectedSpans !== 0) {
      w.tag(1, 0); // ExportTracePartialSuccess.rejected_spans
      w.int64(rejectedSpans);
    }
    if (errorMessage !== '') {
      w.tag(2, 2); // ExportTracePartialSuccess.error_message
      w.string(errorMessage);
    }
    w.end(ps);
  }
  return w.finish();
}

/** See the public `encodeRpcStatus`. */
export function encodeRpcStatus(format: 'proto' | 'json', code: number, message: string): Uint8Array | string {
  if (!Number.isInteger(code) || code < -2147483648 || code > 2147483647) {
    throw new RangeError(`code must be an int32, got ${code}`);
  }
  if (format === 'json') {
    // Defaults are written out too, so clients need not know proto3's omission rule.
    return JSON.stringify({ code, message });
  }
  const w = new ProtoWriter(16 + message.length * 3);
  if (code !== 0) {
    w.tag(1, 0); // Status.code (int32: negative values sign-extend to 10 bytes)
    w.int64(code);
  }
  if (message !== '') {
    w.tag(2, 2); // Status.message
    w.string(message);
  }
  return w.finish();
}
