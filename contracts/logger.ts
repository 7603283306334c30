/**
 * A small structured logger interface. Library code takes a `Logger`; only the
 * CLI decides where it writes (stderr). Payloads and secrets are never logged.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A logger that drops everything: the default for library code. */
export const noopLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Parses a `--log-level` / `JOBSLO_LOG_LEVEL` value; `undefined` when unknown. */
export function parseLogLevel(value: string): LogLevel | undefined {
  return value in ORDER ? (value as LogLevel) : undefined;
}

/**
 * A level-filtered logger that writes one line per message through `write`
 * (`level message key=value ...`).
 */
export function createLineLogger(write: (line: string) => void, level: LogLevel = 'info'): Logger {
  const min = ORDER[level];
  const emit = (lvl: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields): void => {
    if (ORDER[lvl] < min) return;
    let line = `jobslo ${lvl}: ${message}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        const s = String(v);
        line += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
      }
    }
    write(line);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
