/** HTML SLO reports rendered with handlebars. */
export { renderIndex, writeReport } from './render.js';
export type { ReportContext } from './render.js';
