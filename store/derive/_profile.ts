import type { Derivation, JobRow } from './types.js';
import type { SpanRecord } from '../../contracts/index.js';
import type { Dimensions, RowFields } from './_row.js';

/** The span's dimensions, computed on first use (most spans give no row and never need them). */
export type Dims = () => Dimensions;

/**
 * Builds one row (see `makeRow`); {@link deriveSpan} passes the real one, the
 * warnings check one that builds nothing.
 */
export type MakeRow = (span: SpanRecord, fields: RowFields, dims: Dims) => JobRow;

/** A profile: the span's rows when it claims the span, `undefined` to let the next profile try. */
export type Profile = (span: SpanRecord, dims: Dims, make: MakeRow) => Derivation | undefined;
