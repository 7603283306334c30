import type { Derivation } from './types.js';
import type { SpanRecord } from '../../contracts/index.js';
import type { Dimensions } from './_row.js';

/** The span's dimensions, computed on first use (most spans give no row and never need them). */
export type Dims = () => Dimensions;

/** A profile: the span's rows when it claims the span, `undefined` to let the next profile try. */
export type Profile = (span: SpanRecord, dims: Dims) => Derivation | undefined;
