/**
 * Field access with the path and position of every value, for config files
 * (`jobslo.yaml`, schedule files): every error is a {@link ConfigError}
 * naming the field (`slos[0].objective`), the file, line and column, and what
 * is allowed.
 */
import type { Document, LineCounter } from 'yaml';
import { parseDurationMillis } from './duration.js';
import { ConfigError } from './errors.js';

/** One step of a field path: a key or a list index. */
export type YamlPathSegment = string | number;
type Segment = YamlPathSegment;

/** `slos[0].objective`; `(root)` for the empty path. */
export function formatYamlPath(path: readonly Segment[]): string {
  let out = '';
  for (const s of path) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out === '' ? '(root)' : out;
}

/** A value as messages show it: strings quoted, `a list`, `a mapping`. */
export const describeYamlValue = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : String(v));

/** Field access with the path of every value, for error messages. */
export class YamlFieldReader {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
    /** Path of the document inside the file (for multi-document files). */
    private readonly prefix: readonly Segment[],
  ) {}

  fail(path: readonly Segment[], message: string): never {
    let where = '';
    const node = this.doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    if (node && Array.isArray(node.range)) {
      const pos = this.lines.linePos(node.range[0]);
      where = ` (${this.file}:${pos.line}:${pos.col})`;
    }
    throw new ConfigError(formatYamlPath([...this.prefix, ...path]), `${message}${where}`);
  }

  mapping(value: unknown, path: readonly Segment[], allowed: readonly string[]): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(path, `must be a mapping, got ${describeYamlValue(value)}`);
    const rec = value as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      if (!allowed.includes(key)) this.fail([...path, key], `unknown field; expected one of ${allowed.join(', ')}`);
    }
    return rec;
  }

  list(value: unknown, path: readonly Segment[]): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `must be a list, got ${describeYamlValue(value)}`);
    return value;
  }

  string(value: unknown, path: readonly Segment[]): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(path, `must be a non-empty string, got ${describeYamlValue(value)}`);
    return value;
  }

  number(value: unknown, path: readonly Segment[]): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(path, `must be a number, got ${describeYamlValue(value)}`);
    return value;
  }

  boolean(value: unknown, path: readonly Segment[]): boolean {
    if (typeof value !== 'boolean') this.fail(path, `must be true or false, got ${describeYamlValue(value)}`);
    return value;
  }

  duration(value: unknown, path: readonly Segment[]): number {
    if (typeof value !== 'string' && typeof value !== 'number') this.fail(path, `must be a duration such as 5m, 6h, 30d, got ${describeYamlValue(value)}`);
    let ms: number;
    try {
      ms = parseDurationMillis(String(value), formatYamlPath(path));
    } catch {
      this.fail(path, `"${String(value)}" is not a duration; use forms like 30s, 5m, 1h30m, 30d`);
    }
    if (ms <= 0) this.fail(path, `must be a positive duration, got ${String(value)}`);
    return ms;
  }

  objective(value: unknown, path: readonly Segment[]): number {
    const n = this.number(value, path);
    if (!(n > 0 && n < 1)) this.fail(path, `must be between 0 and 1 (exclusive), got ${n}`);
    return n;
  }

  oneOf<T extends string>(value: unknown, path: readonly Segment[], choices: readonly T[]): T {
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(path, `must be one of ${choices.join(', ')}, got ${describeYamlValue(value)}`);
    }
    return value as T;
  }
}
