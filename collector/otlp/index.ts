/**
 * OTLP/HTTP trace codec: hand-written, dependency-free decoding of
 * `ExportTraceServiceRequest` (protobuf and JSON) into {@link SpanRecord}s,
 * encoding of spans back to protobuf, and the response bodies.
 *
 * Messages follow opentelemetry-proto v1 (`collector/trace/v1/trace_service.proto`,
 * `trace/v1/trace.proto`, `common/v1/common.proto`, `resource/v1/resource.proto`)
 * and `google/rpc/status.proto`.
 */
import type { SpanRecord } from '../../contracts/model.js';
import { decodeTraceRequest as decodeProto } from './internal/decode-proto.js';
import { decodeTraceRequest as decodeJson, quoteLongIntegers as quoteLong } from './internal/decode-json.js';
import { encodeTraceRequest } from './internal/encode-proto.js';
import {
  RETRY_INFO_TYPE_URL,
  encodeRetryInfo as encodeRetry,
  encodeRpcStatus as encodeStatus,
  encodeRpcStatusDetails as encodeStatusDetails,
  encodeTraceResponse as encodeResponse,
} from './internal/responses.js';
import type { DecodedTraces } from './internal/types.js';

export type { DecodedTraces } from './internal/types.js';
export { MAX_ANY_VALUE_DEPTH } from './internal/types.js';

/**
 * Decodes an OTLP/HTTP protobuf body (`application/x-protobuf`, already
 * decompressed) into spans.
 *
 * Ids become lowercase hex; times bigint nanoseconds; attribute values plain
 * JS values (int64 beyond the safe range as decimal strings, bytes as base64).
 * Each span carries its resource's attributes (one object shared by the
 * spans of a resource) and its scope's name and version. Spans whose trace id
 * is not 16 bytes, span id not 8 bytes, parent span id neither empty nor 8
 * bytes, or whose trace or span id is all zeros are counted in
 * `rejectedSpans` and left out. An all-zero parent span id is read as no
 * parent. Unknown fields are skipped; links and dropped counts are skipped.
 *
 * @throws {DecodeError} when the bytes are not a well-formed message
 *   (truncation, bad varint or length, group or invalid wire type, AnyValue
 *   nested deeper than {@link MAX_ANY_VALUE_DEPTH}); the message names the byte offset.
 */
export function decodeTraceRequestProto(bytes: Uint8Array): DecodedTraces {
  return decodeProto(bytes);
}

/**
 * Decodes an OTLP/HTTP JSON body (`application/json`) into spans, with the
 * same output and rejection rules as {@link decodeTraceRequestProto}.
 *
 * Accepts the OTLP JSON encoding: lowerCamelCase keys, hex ids (any case),
 * enums as integers or their names, 64-bit integers as strings or numbers
 * (numbers read exactly, never through a double), `null` for absent.
 * Unknown keys are ignored.
 *
 * @throws {DecodeError} on invalid JSON or a value of the wrong shape; the
 *   message names the path, e.g. `resourceSpans[0].scopeSpans[1].spans[3].traceId`.
 */
export function decodeTraceRequestJson(text: string): DecodedTraces {
  return decodeJson(text);
}

/**
 * Rewrites JSON number tokens that are integers of 16 or more digits into
 * strings of the same digits, so `JSON.parse` keeps 64-bit integers exact
 * (a double holds 53 bits). Text inside strings is untouched.
 */
export function quoteLongIntegers(text: string): string {
  return quoteLong(text);
}

/**
 * Encodes spans as an `ExportTraceServiceRequest` protobuf, one ResourceSpans
 * per distinct resource attribute set and one ScopeSpans per (scope name,
 * version) within it, in first-seen order. Decoding the result with
 * {@link decodeTraceRequestProto} gives back equal SpanRecords.
 *
 * @throws {TypeError} when a span's ids are not hex of the lengths SpanRecord documents.
 */
export function encodeTraceRequestProto(spans: readonly SpanRecord[]): Uint8Array {
  return encodeTraceRequest(spans);
}

/**
 * Encodes an `ExportTraceServiceResponse`. With `rejectedSpans` 0 and an
 * empty `errorMessage` it is the empty message (`{}` in JSON); otherwise it
 * carries `partial_success` (`partialSuccess.rejectedSpans` as a decimal
 * string and `partialSuccess.errorMessage` in JSON). A non-empty message with
 * 0 rejected spans is the spec's way to send a warning.
 *
 * @returns bytes for `'proto'`, text for `'json'`.
 * @throws {RangeError} when `rejectedSpans` is not a non-negative safe integer.
 */
export function encodeTraceResponse(format: 'proto', rejectedSpans: number, errorMessage: string): Uint8Array;
export function encodeTraceResponse(format: 'json', rejectedSpans: number, errorMessage: string): string;
export function encodeTraceResponse(format: 'proto' | 'json', rejectedSpans: number, errorMessage: string): Uint8Array | string;
export function encodeTraceResponse(format: 'proto' | 'json', rejectedSpans: number, errorMessage: string): Uint8Array | string {
  return encodeResponse(format, rejectedSpans, errorMessage);
}

/**
 * Encodes a `google.rpc.Status` (`code` field 1, `message` field 2; no
 * details), the OTLP/HTTP body for failed requests. JSON always has both
 * `code` and `message`.
 *
 * @param code a gRPC status code (e.g. 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE).
 * @returns bytes for `'proto'`, text for `'json'`.
 * @throws {RangeError} when `code` is not an int32.
 */
export function encodeRpcStatus(format: 'proto', code: number, message: string): Uint8Array;
export function encodeRpcStatus(format: 'json', code: number, message: string): string;
export function encodeRpcStatus(format: 'proto' | 'json', code: number, message: string): Uint8Array | string;
export function encodeRpcStatus(format: 'proto' | 'json', code: number, message: string): Uint8Array | string {
  return encodeStatus(format, code, message);
}

export { RETRY_INFO_TYPE_URL };

/**
 * Encodes a `google.rpc.RetryInfo` (`retry_delay`, a `google.protobuf.Duration`),
 * the OTLP/gRPC throttling signal. gRPC servers send it in the
 * `google.rpc.retryinfo-bin` trailer and inside `grpc-status-details-bin`.
 *
 * @throws {RangeError} when `retryAfterMillis` is not a non-negative safe integer.
 */
export function encodeRetryInfo(retryAfterMillis: number): Uint8Array {
  return encodeRetry(retryAfterMillis);
}

/**
 * Encodes a `google.rpc.Status` protobuf with, when `retryAfterMillis` is
 * given, a `RetryInfo` in `details` (the `grpc-status-details-bin` trailer).
 *
 * @throws {RangeError} when `code` is not an int32 or the delay not a non-negative safe integer.
 */
export function encodeRpcStatusDetails(code: number, message: string, retryAfterMillis?: number): Uint8Array {
  return encodeStatusDetails(code, message, retryAfterMillis);
}
