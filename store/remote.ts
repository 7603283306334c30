import { StoreError, errorMessage } from '../contracts/index.js';
import type {
  JobAggregate,
  JobAggregatesQuery,
  JobSeries,
  ListRunsByJobQuery,
  RunDistribution,
  RunDistributionQuery,
  JobSelector,
  ListRunsQuery,
  QueueDepth,
  OpenRun,
  RunStartsOptions,
  RunStartsQuery,
  RunSummary,
  SeriesPoint,
  RunReaderHandle,
  TimeRange,
  TimeSeriesQuery,
  UnformedSpans,
  WindowCount,
  WindowCountsQuery,
} from './types.js';

/** Store methods a collector answers over `POST /api/v1/store` for readers of its DuckDB file. */
export const REMOTE_READ_METHODS = ['jobAggregates', 'windowCounts', 'windowCountsMany', 'timeSeries', 'listRuns', 'runStarts', 'runStartsMany', 'jobNames', 'queueDepths', 'timeSeriesByJob', 'listRunsByJob', 'runDistributions', 'openRuns', 'unformedSpans'] as const;
export type RemoteReadMethod = (typeof REMOTE_READ_METHODS)[number];

/**
 * Reads through a running collector that holds the store (DuckDB allows one
 * process per file): every read query is sent to the collector, which runs it
 * on its own connection. It has the read role only ({@link RunReader}): spans
 * go to the collector over OTLP, and migrations and retention run in the
 * collector's process.
 */
export class RemoteStore implements RunReaderHandle {
  readonly kind = 'remote';
  readonly location: string;

  /**
   * @param baseUrl the collector's base URL, e.g. `http://127.0.0.1:4318`
   * @param timeoutMillis bound on each request @default 30_000
   * @param token bearer token (scope read) sent with each request @default none
   */
  constructor(
    private readonly baseUrl: string,
    readonly via: string,
    private readonly timeoutMillis = 30_000,
    private readonly token?: string,
  ) {
    this.location = `${via} (through the collector at ${baseUrl})`;
  }

  private async call<T>(method: RemoteReadMethod, args: unknown[]): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v1/store`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}) },
        body: JSON.stringify({ method, args }),
        signal: AbortSignal.timeout(this.timeoutMillis),
      });
    } catch (cause) {
      throw new StoreError('JOBSLO_ERR_STORE_UNREACHABLE', `cannot reach the collector at ${this.baseUrl} that holds ${this.via}: ${errorMessage(cause)}`, { cause });
    }
    const body = (await res.json().catch(() => ({}))) as { result?: T; message?: string };
    if (!res.ok) throw new StoreError('JOBSLO_ERR_STORE_QUERY', `the collector at ${this.baseUrl} answered ${res.status}: ${body.message ?? ''}`);
    return body.result as T;
  }

  queueDepths(range: TimeRange): Promise<QueueDepth[]> {
    return this.call('queueDepths', [range]);
  }

  jobAggregates(query: JobAggregatesQuery): Promise<JobAggregate[]> {
    return this.call('jobAggregates', [query]);
  }

  windowCounts(query: WindowCountsQuery): Promise<WindowCount[]> {
    return this.call('windowCounts', [query]);
  }

  timeSeriesByJob(query: TimeSeriesQuery): Promise<JobSeries[]> {
    return this.call('timeSeriesByJob', [query]);
  }

  listRunsByJob(query: ListRunsByJobQuery): Promise<RunSummary[]> {
    return this.call('listRunsByJob', [query]);
  }

  runDistributions(query: RunDistributionQuery): Promise<RunDistribution[]> {
    return this.call('runDistributions', [query]);
  }

  windowCountsMany(queries: readonly WindowCountsQuery[]): Promise<WindowCount[][]> {
    return this.call('windowCountsMany', [queries]);
  }

  timeSeries(query: TimeSeriesQuery): Promise<SeriesPoint[]> {
    return this.call('timeSeries', [query]);
  }

  listRuns(query: ListRunsQuery): Promise<RunSummary[]> {
    return this.call('listRuns', [query]);
  }

  openRuns(jobs: JobSelector, range: TimeRange): Promise<OpenRun[]> {
    return this.call('openRuns', [jobs, range]);
  }

  runStarts(jobs: JobSelector, range: TimeRange, which: 'succeeded' | 'any', options: RunStartsOptions = {}): Promise<number[]> {
    // Options go only when given, so a collector of an earlier release still answers the plain call.
    const given = options.coalesceMillis !== undefined || options.earliestOnly !== undefined || (options.where !== undefined && Object.keys(options.where).length > 0);
    return this.call('runStarts', given ? [jobs, range, which, options] : [jobs, range, which]);
  }

  runStartsMany(queries: readonly RunStartsQuery[]): Promise<number[][]> {
    return this.call('runStartsMany', [queries]);
  }

  jobNames(range: TimeRange): Promise<string[]> {
    return this.call('jobNames', [range]);
  }

  unformedSpans(range: TimeRange): Promise<UnformedSpans[]> {
    return this.call('unformedSpans', [range]);
  }

  async close(): Promise<void> {}
}
