/** Environment variable names whose values are treated as secrets. */
export const SECRET_NAME_PATTERN = /TOKEN|SECRET|PASSWORD|KEY/i;

/**
 * Values shorter than this are not redacted: replacing every `1` or `yes` in
 * the output would destroy it and such values are not secrets worth hiding.
 */
export const MIN_SECRET_LENGTH = 4;

export const REDACTED = '[REDACTED]';

/**
 * Values of `env` entries whose names match {@link SECRET_NAME_PATTERN},
 * longest first (so a secret containing another is replaced whole).
 */
export function secretValues(env: Readonly<Record<string, string | undefined>>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.length >= MIN_SECRET_LENGTH && SECRET_NAME_PATTERN.test(name)) values.add(value);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret in `text` by `[REDACTED]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(REDACTED);
  return out;
}

/** Longest secret in UTF-8 bytes: how much extra a tail window must keep. */
export function longestSecretBytes(secrets: readonly string[]): number {
  return secrets.reduce((m, s) => Math.max(m, Buffer.byteLength(s, 'utf8')), 0);
}

/**
 * Decodes the tail of a stream kept in a bounded window, redacts it and
 * returns at most `limitBytes` bytes of text.
 *
 * The window should hold `limitBytes + longestSecretBytes(secrets)` bytes.
 * When the stream was truncated, a secret cut by the window's start cannot be
 * matched, but it lies within the window's first `longestSecretBytes` bytes;
 * that many characters (each at least one byte) are dropped, and a match that
 * starts inside the dropped part but ends after it still becomes
 * `[REDACTED]`; so does a partial secret at the very end (output cut off
 * mid-secret). No run of {@link MIN_SECRET_LENGTH} or more characters of a
 * secret survives.
 */
export function redactedTail(
  window: Buffer,
  truncated: boolean,
  limitBytes: number,
  secrets: readonly string[],
): string {
  const text = window.toString('utf8');
  const from = truncated ? Math.min(text.length, longestSecretBytes(secrets)) : 0;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const hit = secrets.find((s) => text.startsWith(s, i));
    if (hit !== undefined) {
      if (i + hit.length > from) out += REDACTED;
      i += hit.length;
    } else {
      if (i >= from) out += text[i];
      i += 1;
    }
  }
  // A stream that ended (or was killed) in the middle of printing a secret.
  out = redactTrailingPrefix(out, secrets);
  const bytes = Buffer.from(out, 'utf8');
  if (bytes.length > limitBytes) out = bytes.subarray(bytes.length - limitBytes).toString('utf8');
  // The window (or the cut above) may start inside a multi-byte character.
  return out.replace(/^\uFFFD+/, '');
}

/** Replaces a trailing partial secret (a prefix of at least {@link MIN_SECRET_LENGTH} characters). */
function redactTrailingPrefix(text: string, secrets: readonly string[]): string {
  for (const s of secrets) {
    for (let k = s.length - 1; k >= MIN_SECRET_LENGTH; k--) {
      if (text.endsWith(s.slice(0, k))) return text.slice(0, text.length - k) + REDACTED;
    }
  }
  return text;
}
