/** Attribute value helpers shared by the profiles and the span row encoder. */
import type { AttributeValue, SpanRecord } from '../../contracts/index.js';

/** A span attribute, else the resource attribute of the same key. */
export function pick(span: SpanRecord, key: string): AttributeValue | undefined {
  const v = span.attributes[key];
  return v !== undefined ? v : span.resourceAttributes[key];
}

/** A value as text: `''` for absent/null, JSON for arrays and maps. */
export function str(v: AttributeValue | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A finite number from a number or numeric string, else null. */
export function num(v: AttributeValue | undefined): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** Unix nanoseconds from an int or a decimal string, else null. */
export function nanos(v: AttributeValue | undefined): bigint | null {
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  return null;
}

/** An integer attribute truncated toward zero, else null. */
export function int(v: AttributeValue | undefined): number | null {
  const n = num(v);
  return n === null ? null : Math.trunc(n);
}
