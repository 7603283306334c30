import type { Analysis } from './slis.js';

const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
const ms = (v: number | null): string => {
  if (v === null) return '-';
  if (v >= 60_000) return `${(v / 60_000).toFixed(1)}m`;
  if (v >= 1_000) return `${(v / 1_000).toFixed(2)}s`;
  return `${v.toFixed(v < 10 ? 1 : 0)}ms`;
};

/** Renders an analysis as an aligned text table for terminals. Pure. */
export function formatTable(analysis: Analysis): string {
  const grouped = analysis.group_by !== undefined;
  const header = ['JOB', ...(grouped ? [String(analysis.group_by).toUpperCase()] : []), 'RUNS', 'OK', 'FAILED', 'SUCCESS', 'P50', 'P95', 'P99', 'RETRIES/RUN'];
  const rows = analysis.jobs.map((j) => [
    j.job,
    ...(grouped ? [j.group === '' || j.group === undefined ? '-' : j.group] : []),
    String(j.runs),
    String(j.succeeded),
    String(j.failed),
    pct(j.success_rate),
    ms(j.latency_ms.p50),
    ms(j.latency_ms.p95),
    ms(j.latency_ms.p99),
    j.retries_per_run.toFixed(2),
  ]);
  const filter = analysis.where === undefined ? '' : ` where ${Object.entries(analysis.where).map(([k, v]) => `${k}=${v}`).join(', ')}`;
  const title = `Job SLIs from ${analysis.from} to ${analysis.to}${printable(filter)}\n`;
  if (rows.length === 0) {
    return `${title}No finished job runs in this window. Send spans to the collector (jobslo collector) or run jobs with "jobslo run".\n`;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => printable(r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || (grouped && i === 1) ? printable(c).padEnd(widths[i] ?? 0) : printable(c).padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return `${title}${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** Job names are untrusted: control characters must not reach a terminal. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
