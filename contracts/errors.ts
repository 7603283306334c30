/**
 * Error classes with stable codes. Callers branch on `instanceof` or `code`,
 * never on message text.
 */

export type JobsloErrorCode =
  | 'JOBSLO_ERR_CONFIG'
  | 'JOBSLO_ERR_USAGE'
  | 'JOBSLO_ERR_STORE_URL'
  | 'JOBSLO_ERR_STORE_LOCKED'
  | 'JOBSLO_ERR_STORE_MISSING'
  | 'JOBSLO_ERR_STORE_UNREACHABLE'
  | 'JOBSLO_ERR_STORE_QUERY'
  | 'JOBSLO_ERR_DECODE'
  | 'JOBSLO_ERR_BUS_UNAVAILABLE'
  | 'JOBSLO_ERR_WEBHOOK'
  | 'JOBSLO_ERR_JOB';

/** Base class of every error jobslo throws on purpose. */
export class JobsloError extends Error {
  override readonly name: string = 'JobsloError';
  readonly code: JobsloErrorCode;

  constructor(code: JobsloErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A configuration value (flag, env var, config file field) is invalid. */
export class ConfigError extends JobsloError {
  override readonly name = 'ConfigError';
  /** Path of the bad field, e.g. `slos[0].objective` or `--timeout`. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('JOBSLO_ERR_CONFIG', `${path}: ${message}`, options);
    this.path = path;
  }
}

/** Bytes received could not be decoded as the format they claim to be. */
export class DecodeError extends JobsloError {
  override readonly name = 'DecodeError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('JOBSLO_ERR_DECODE', message, options);
  }
}

/** A store could not be opened, reached or queried. */
export class StoreError extends JobsloError {
  override readonly name = 'StoreError';
}

/**
 * Thrown from a job function to fail the run at once, without further retries
 * (the same signal as bullmq's `UnrecoverableError`).
 */
export class UnrecoverableError extends JobsloError {
  override readonly name = 'UnrecoverableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('JOBSLO_ERR_JOB', message, options);
  }
}

/** Message of an unknown thrown value, for logs and error attributes. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
