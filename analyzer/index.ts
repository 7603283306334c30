/** Per-job SLIs computed from a store. */
export { analyze, toJobSlis } from './slis.js';
export type { Analysis, JobSlis } from './slis.js';
export { formatTable } from './table.js';
