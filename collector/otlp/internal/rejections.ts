/** Span validation shared by the protobuf and JSON decoders, and the tally of rejected spans. */

export const TRACE_ID_BYTES = 16;
export const SPAN_ID_BYTES = 8;

export const REASON_TRACE_ID_LENGTH = 'invalid trace id length';
export const REASON_SPAN_ID_LENGTH = 'invalid span id length';
export const REASON_PARENT_SPAN_ID_LENGTH = 'invalid parent span id length';
export const REASON_TRACE_ID_ZERO = 'all-zero trace id';
export const REASON_SPAN_ID_ZERO = 'all-zero span id';

/**
 * The reason a span with ids of these byte lengths is rejected, or `''` when the
 * lengths are acceptable. All-zero checks are left to the caller, which knows
 * whether it holds bytes or hex.
 */
export function idLengthProblem(traceIdBytes: number, spanIdBytes: number, parentSpanIdBytes: number): string {
  if (traceIdBytes !== TRACE_ID_BYTES) return REASON_TRACE_ID_LENGTH;
  if (spanIdBytes !== SPAN_ID_BYTES) return REASON_SPAN_ID_LENGTH;
  if (parentSpanIdBytes !== 0 && parentSpanIdBytes !== SPAN_ID_BYTES) return REASON_PARENT_SPAN_ID_LENGTH;
  return '';
}

/** Counts rejected spans by reason and renders the one-line summary returned to the client. */
export class RejectionTally {
  count = 0;
  private readonly byReason = new Map<string, number>();

  add(reason: string): void {
    this.count++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
  }

  /** e.g. `2 spans rejected: invalid span id length`, or with several reasons `3 spans rejected: all-zero trace id (2), invalid span id length (1)`; `''` when none. */
  summary(): string {
    if (this.count === 0) return '';
    const head = `${this.count} ${this.count === 1 ? 'span' : 'spans'} rejected: `;
    if (this.byReason.size === 1) {
      const [reason] = this.byReason.keys();
      return head + (reason ?? '');
    }
    const parts: string[] = [];
    for (const [reason, n] of this.byReason) parts.push(`${reason} (${n})`);
    return head + parts.join(', ');
  }
}
