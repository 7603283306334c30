/**
 * Linux `/proc` readers. Every function returns `undefined` (or an empty
 * result) where `/proc` is missing or unreadable, so callers degrade to "not
 * measured" on other platforms instead of failing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`). It is 100
 * on every mainstream Linux architecture; Node cannot call `sysconf`, so
 * `JOBSLO_CLK_TCK` may override it on an exotic kernel.
 */
export function clockTicksPerSecond(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env['JOBSLO_CLK_TCK']);
  return Number.isInteger(v) && v > 0 ? v : 100;
}

/** Fields of `/proc/<pid>/stat` after the `(comm)`; index 0 is field 3 (`state`). */
function statFields(pid: number | 'self'): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses; it ends at the last ')'.
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  return text.slice(close + 2).trim().split(' ');
}

/** proc(5) field number (1-based) to index into {@link statFields}. */
const F = (n: number): number => n - 3;

/**
 * CPU ticks (user + system) of all children this process has waited for,
 * and of their waited-for descendants (`cutime + cstime` of
 * `/proc/self/stat`), or `undefined` off Linux.
 */
export function reapedChildrenCpuTicks(): number | undefined {
  const f = statFields('self');
  if (!f) return undefined;
  const cutime = Number(f[F(16)]);
  const cstime = Number(f[F(17)]);
  return Number.isFinite(cutime) && Number.isFinite(cstime) ? cutime + cstime : undefined;
}

/** Start time of a process in clock ticks since boot (field 22), to detect pid reuse. */
export function processStartTicks(pid: number): string | undefined {
  return statFields(pid)?.[F(22)];
}

/** Live (non-zombie) members of a process group, or `undefined` when `/proc` is unavailable. */
export function processGroupMembers(pgid: number): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: number[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const f = statFields(Number(name));
    if (!f) continue; // exited while we scanned
    if (f[F(5)] === String(pgid) && f[0] !== 'Z' && f[0] !== 'X') members.push(Number(name));
  }
  return members;
}

/** Current and peak resident set size of a process in bytes (`VmRSS`, `VmHWM`). */
export function processRss(pid: number): { rssBytes: number; peakBytes: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
  if (!rss) return undefined;
  const rssBytes = Number(rss[1]) * 1024;
  return { rssBytes, peakBytes: hwm ? Number(hwm[1]) * 1024 : rssBytes };
}

/** `true` when a process with this pid exists (zombies count; EPERM means it exists). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
