/** Incremental rollups of derived runs: bucket hierarchy, bucket contents, latency sketch, maintenance. */
export { HOUR_NS, MINUTE_NS, ROLLUP_FORMAT, bucketOf, ceilDiv, coverWindow, floorDiv } from './buckets.js';
export type { NsRange, WindowCover } from './buckets.js';
export {
  OTHER_OUTCOME_CODE,
  OUTCOME_CODES,
  countFromParts,
  criterionThresholdNs,
  hourContent,
  isCounted,
  isGood,
  outcomeCode,
  selectorMatcher,
  thresholdsFor,
} from './content.js';
export type { GoodTotal, HourContent, RegisteredThreshold, RunFact } from './content.js';
export { SKETCH_RELATIVE_ACCURACY, SKETCH_ZERO_KEY, sketchAdd, sketchKey, sketchQuantiles, sketchValue } from './sketch.js';
export type { Sketch } from './sketch.js';
export { PREVIOUS_ROW_LOOKBACK_NS, buildRollups, clusterStarts, rebuildHours, recomputeMinutes, refreshRollups } from './maintain.js';
export type { MinuteContent, RefreshResult, RollupBackend, RollupMark } from './maintain.js';
export { coalescedStarts, ensureThresholds, onlyJobsCondition, rollupRunList, rollupCanAnswer, rollupRunStartsMany, rollupSeries, rollupWindowCounts, seriesByJob, seriesRollupQuery } from './read.js';
export type { EdgePart, HourPart, PartCount, RollupReadBackend, SeriesRollupQuery, StartsQuery } from './read.js';
