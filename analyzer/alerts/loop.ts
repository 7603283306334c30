/**
 * The evaluation and delivery loop of `jobslo serve`: one alert cycle now and
 * then every interval, one at a time (a slow cycle delays the next instead
 * of overlapping it). The CLI wires it to a store, a backend and an HTTP
 * server; the loop itself knows nothing of HTTP.
 */
import { errorMessage, noopLogger } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import type { RunReader } from '../../store/index.js';
import type { JobsloConfig, ServeStats, SloEvaluation } from '../slo/index.js';
import type { AlertBackend } from './backend.js';
import { runAlertCycle } from './cycle.js';
import type { AlertCycleOptions, AlertCycleResult } from './cycle.js';
import { emptyAlertState } from './state.js';
import type { AlertState } from './state.js';

/** Options of {@link startAlertLoop}. */
export interface AlertLoopOptions {
  store: RunReader;
  config: JobsloConfig;
  backend: AlertBackend;
  /** Time between the starts of two cycles, ms. */
  intervalMillis: number;
  logger?: Logger;
  /** Passed to every cycle (delivery bounds, clock, ids). */
  cycle?: Pick<AlertCycleOptions, 'clock' | 'delivery' | 'newId'>;
  /** Called after every cycle that completed. */
  onCycle?: (result: AlertCycleResult) => void;
}

/** A running loop. */
export interface AlertLoop {
  /** Counters for `/metrics`. */
  readonly stats: ServeStats;
  /** Evaluations of the latest completed cycle. */
  readonly evaluations: SloEvaluation[];
  /** Alert state after the latest completed cycle. */
  readonly state: AlertState;
  /** Completed or failed cycles so far (changes once per cycle). */
  readonly cycles: number;
  /** Runs a cycle now, or waits for the running one. */
  cycle(): Promise<void>;
  /** Stops the interval and waits for a running cycle; idempotent. */
  close(): Promise<void>;
}

/** Runs the first cycle, then schedules the next every `intervalMillis`. Resolves after the first cycle. */
export async function startAlertLoop(o: AlertLoopOptions): Promise<AlertLoop> {
  const logger = o.logger ?? noopLogger;
  const stats: ServeStats = { evaluations: 0, evaluationErrors: 0, outboxPending: 0, delivered: 0, lastEvaluationMillis: null };
  let evaluations: SloEvaluation[] = [];
  let state: AlertState = emptyAlertState();
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const runCycle = async (): Promise<void> => {
    try {
      const r = await runAlertCycle({ ...o.cycle, store: o.store, config: o.config, backend: o.backend, logger, signal: controller.signal, evaluationIntervalMillis: o.intervalMillis });
      evaluations = r.evaluations;
      state = r.state;
      stats.evaluations++;
      stats.delivered += r.drain.delivered;
      stats.outboxPending = await o.backend.outbox.size();
      stats.lastEvaluationMillis = r.evaluations[0]?.atMillis ?? Date.now();
      o.onCycle?.(r);
    } catch (err) {
      if (controller.signal.aborted) return;
      stats.evaluationErrors++;
      stats.outboxPending = await o.backend.outbox.size().catch(() => stats.outboxPending);
      logger.error('SLO evaluation failed', { error: errorMessage(err) });
    }
  };
  const cycle = (): Promise<void> => {
    running ??= runCycle().finally(() => {
      running = undefined;
    });
    return running;
  };
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      void cycle().finally(schedule);
    }, o.intervalMillis);
  };

  await cycle();
  schedule();
  return {
    stats,
    get evaluations() {
      return evaluations;
    },
    get state() {
      return state;
    },
    get cycles() {
      return stats.evaluations + stats.evaluationErrors;
    },
    cycle,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      controller.abort(new Error('alert loop closing'));
      await running?.catch(() => undefined);
    },
  };
}
