import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the Unix time (seconds) the signature was made at. */
export const TIMESTAMP_HEADER = 'X-Jobslo-Timestamp';
/** Header carrying `sha256=<hex HMAC-SHA256 of "${timestamp}.${body}">`. */
export const SIGNATURE_HEADER = 'X-Jobslo-Signature';

/** `sha256=<hex>`: HMAC-SHA256 with `secret` over `${timestampSeconds}.${body}`. */
export function signPayload(secret: string, timestampSeconds: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: true when `signature` is the HMAC of
 * `${timestamp}.${body}` and the timestamp is within `toleranceSeconds` of now
 * (replay protection). Constant-time comparison.
 */
export function verifySignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
  nowMillis: number,
  toleranceSeconds = 300,
): boolean {
  if (!/^\d+$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (Math.abs(nowMillis / 1000 - ts) > toleranceSeconds) return false;
  const want = Buffer.from(signPayload(secret, ts, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}
