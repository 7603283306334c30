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

/** See the public `encodeRetryInfo`. */
export function encodeRetryInfo(retryAfterMillis: number): Uint8Array {
  if (!Number.isSafeInteger(retryAfterMillis) || retryAfterMillis < 0) {
    throw new RangeError(`retryAfterMillis must be a non-negative safe integer, got ${retryAfterMillis}`);
  }
  const seconds = Math.floor(retryAfterMillis / 1000);
  const nanos = (retryAfterMillis % 1000) * 1_000_000;
  const w = new ProtoWriter(32);
  w.tag(1, 2); // RetryInfo.retry_delay
  const d = w.begin();
  if (seconds !== 0) {
    w.tag(1, 0); // Duration.seconds
    w.int64(seconds);
  }
  if (nanos !== 0) {
    w.tag(2, 0); // Duration.nanos
    w.int64(nanos);
  }
  w.end(d);
  return w.finish();
}

/** Type URL of `google.rpc.RetryInfo` inside a `google.protobuf.Any`. */
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** See the public `encodeRpcStatusDetails`. */
export function encodeRpcStatusDetails(code: number, message: string, retryAfterMillis: number | undefined): Uint8Array {
  const head = encodeRpcStatus('proto', code, message) as Uint8Array;
  if (retryAfterMillis === undefined) return head;
  // Protobuf messages concatenate: the Status fields, then the details field.
  const w = new ProtoWriter(96);
  w.tag(3, 2); // Status.details (google.protobuf.Any)
  const any = w.begin();
  w.tag(1, 2); // Any.type_url
  w.string(RETRY_INFO_TYPE_URL);
  w.tag(2, 2); // Any.value
  w.bytes(encodeRetryInfo(retryAfterMillis));
  w.end(any);
  const tail = w.finish();
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}
