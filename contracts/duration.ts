import { ConfigError } from './errors.js';

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `250ms`, `30s`, `5m`, `1h30m`, `30d` into
 * milliseconds. A bare number is taken as seconds.
 *
 * @param name the flag or field the value came from, named in the error
 * @throws {ConfigError} when the value is not a positive duration
 */
export function parseDurationMillis(value: string, name: string): number {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = re.exec(text)) !== null) {
    total += Number(match[1]) * (UNITS[match[2] ?? ''] ?? 0);
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new ConfigError(name, `"${value}" is not a duration; use forms like 500ms, 30s, 5m, 1h30m, 7d`);
  }
  return Math.round(total);
}

/** Formats milliseconds as the shortest exact duration string (`90000` -> `1m30s`). */
export function formatDurationMillis(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000], ['ms', 1]] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
