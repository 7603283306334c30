import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, JOBSLO_VERSION, errorMessage, parseDurationMillis } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import { DEFAULT_STATE_DIR, FileOutbox, runAlertCycle, statePaths } from '../../analyzer/alerts/index.js';
import { PROMETHEUS_CONTENT_TYPE, formatPrometheus } from '../../analyzer/slo/index.js';
import type { JobsloConfig, ServeStats, SloEvaluation } from '../../analyzer/slo/index.js';
import { collectReportData, renderReportSite } from '../../reports/index.js';
import { reportSlos } from '../_report-slos.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/index.js';
import type { Command } from '../command.js';
import { STORE_HELP, parsePort } from '../_options.js';
import { CONFIG_HELP, STATE_DIR_HELP, resolveConfig, storeFor } from './alerts.js';

/** Options of {@link startSloServer}. */
export interface SloServerOptions {
  store: Store;
  config: JobsloConfig;
  stateDir: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Time between evaluation cycles. */
  intervalMillis: number;
  /** Window of the HTML report. @default 86_400_000 (24h) */
  reportWindowMillis?: number;
  logger: Logger;
}

/** A running `jobslo serve`. */
export interface SloServer {
  /** `http://host:port`. */
  url: string;
  /** Runs one evaluation cycle now (also run on the interval). */
  cycle(): Promise<void>;
  /** Stops the interval and the HTTP server; idempotent. */
  close(): Promise<void>;
}

/** `/`, `/report/`, `/report/jobs/x.html`, `/jobs/x.html` → the site page path (`index.html`, `jobs/x.html`). */
function sitePath(urlPath: string): string {
  const rest = urlPath.replace(/^\/report(?=\/|$)/, '').replace(/^\/+/, '');
  return rest === '' ? 'index.html' : rest;
}

/**
 * Evaluates SLOs once, then serves `GET /metrics` (Prometheus text), the HTML
 * report site at `/` and `/report/` (rendered once per evaluation cycle, with
 * the SLO pages of the latest evaluation) and re-evaluates every `intervalMillis`.
 */
export async function startSloServer(o: SloServerOptions): Promise<SloServer> {
  const stats: ServeStats = { evaluations: 0, evaluationErrors: 0, outboxPending: 0, delivered: 0, lastEvaluationMillis: null };
  let evaluations: SloEvaluation[] = [];
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // The report site, rendered at most once per cycle.
  let site: { cycle: number; pages: Promise<Map<string, string>> } | undefined;
  const sitePages = (): Promise<Map<string, string>> => {
    const cycleNo = stats.evaluations + stats.evaluationErrors;
    if (site?.cycle !== cycleNo) {
      const now = Date.now();
      const pages = collectReportData(o.store, {
        range: { fromMillis: now - (o.reportWindowMillis ?? 86_400_000), toMillis: now + 1 },
        version: JOBSLO_VERSION,
        storeLocation: o.store.location,
        slos: reportSlos(evaluations, o.stateDir),
      }).then(renderReportSite);
      site = { cycle: cycleNo, pages };
      // A failed render is retried by the next request.
      pages.catch(() => {
        if (site?.pages === pages) site = undefined;
      });
    }
    return site.pages;
  };

  const runCycle = async (): Promise<void> => {
    try {
      const r = await runAlertCycle({ store: o.store, config: o.config, stateDir: o.stateDir, logger: o.logger, signal: controller.signal });
      evaluations = r.evaluations;
      stats.evaluations++;
      stats.delivered += r.drain.delivered;
      stats.outboxPending = r.drain.pending;
      stats.lastEvaluationMillis = r.evaluations[0]?.atMillis ?? Date.now();
    } catch (err) {
      if (controller.signal.aborted) return;
      stats.evaluationErrors++;
      stats.outboxPending = new FileOutbox({ dir: statePaths(o.stateDir).outboxDir }).size();
      o.logger.error('SLO evaluation failed', { error: errorMessage(err) });
    }
  };
  // One cycle at a time: a slow cycle delays the next instead of overlapping it.
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

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(formatPrometheus(evaluations, stats));
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
      return;
    }
    const page = sitePath(path);
    sitePages()
      .then((pages) => {
        const html = pages.get(page);
        if (html === undefined) res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found; try /metrics or /\n');
        else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      })
      .catch((err: unknown) => {
        o.logger.error('report failed', { error: errorMessage(err) });
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('report failed; see the server log\n');
      });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  schedule();

  return {
    url: `http://${host}:${addr.port}`,
    cycle,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      controller.abort(new Error('server closing'));
      await running?.catch(() => undefined);
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Evaluate SLOs on an interval, deliver alerts, serve /metrics and the HTML report',
  help: `Usage: jobslo serve [--config FILE] [--store URL] [--port 9464] [--host 127.0.0.1]
                    [--interval 1m] [--state-dir DIR]

Evaluates every SLO of the config every --interval, delivers burn-rate alert
notifications to the configured webhooks (through the on-disk outbox), and
serves:
  GET /metrics        Prometheus text: per SLO and job the SLI, error budget
                      remaining, burn rate per window, alert state
  GET /, /report/     the HTML report site (last 24h) with a page per job and
                      per SLO, rendered once per evaluation
  GET /healthz        liveness
Stops on SIGINT/SIGTERM.

Options:
${CONFIG_HELP}
${STORE_HELP}
                      (a store: in the config is used when neither is set)
  --port PORT         TCP port, 0 for any free one (default 9464)
  --host ADDRESS      address to listen on (default 127.0.0.1)
  --interval DURATION time between evaluations (default 1m)
${STATE_DIR_HELP}
  -h, --help          show this help
`,
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        store: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        interval: { type: 'string', default: '1m' },
        'state-dir': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    const port = parsePort(values.port, '--port', 9464);
    const intervalMillis = parseDurationMillis(values.interval, '--interval');
    if (intervalMillis < 1000) throw new ConfigError('--interval', `must be at least 1s, got ${values.interval}`);
    const config = resolveConfig(values.config, ctx, true) as JobsloConfig;
    const store = await openStore(storeFor(values.store, ctx, config));
    let server: SloServer | undefined;
    try {
      server = await startSloServer({
        store,
        config,
        stateDir: resolve(ctx.cwd, values['state-dir'] ?? DEFAULT_STATE_DIR),
        host: values.host,
        port,
        intervalMillis,
        logger: ctx.logger,
      });
      ctx.logger.info('jobslo serve listening', { url: server.url, slos: config.slos.length, interval: values.interval });
      ctx.err(`jobslo serve: listening on ${server.url} (metrics at ${server.url}/metrics)\n`);
      await new Promise<void>((r) => {
        if (ctx.signal.aborted) r();
        else ctx.signal.addEventListener('abort', () => r(), { once: true });
      });
      return 0;
    } finally {
      await server?.close();
      await store.close();
    }
  },
};
