import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, JOBSLO_VERSION, errorMessage, parseDurationMillis } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import { openAlertBackend, startAlertLoop } from '../../analyzer/alerts/index.js';
import type { AlertBackend } from '../../analyzer/alerts/index.js';
import { MetricsWriter, PROMETHEUS_CONTENT_TYPE, formatPrometheus } from '../../analyzer/slo/index.js';
import type { JobsloConfig } from '../../analyzer/slo/index.js';
import { JobRunMetrics, describeUnmatched, evaluateMonitors, findUnmatchedSelectors, runMonitorCycle } from '../../analyzer/monitors/index.js';
import type { MonitorEvaluation, UnmatchedSelector } from '../../analyzer/monitors/index.js';
import { collectReportData, renderReportSite } from '../../reports/index.js';
import { reportChecks, reportSlos, withSloWarnings } from '../_report-slos.js';
import { withScheduleMonitors } from '../_monitors.js';
import { openExistingStore } from '../_store.js';
import type { RunReaderHandle } from '../../store/index.js';
import type { Command } from '../command.js';
import { STORE_HELP, parsePort } from '../_options.js';
import { BearerAuth, authorizeRequest, listen } from '../../server/index.js';
import type { Listener, TlsMaterial } from '../../server/index.js';
import { READ_SECURITY_HELP, SECURITY_OPTIONS, securityFrom } from '../_security.js';
import { CONFIG_HELP, EXTERNAL_URL_HELP, STATE_DIR_HELP, TRACE_URL_HELP, checkTraceUrl, resolveConfig, storeFor, withExternalUrl } from './alerts.js';

/** Options of {@link startSloServer}. */
export interface SloServerOptions {
  store: RunReaderHandle;
  config: JobsloConfig;
  /** Alert state and outbox. */
  backend: AlertBackend;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Time between evaluation cycles. */
  intervalMillis: number;
  /** Window of the HTML report. @default 86_400_000 (24h) */
  reportWindowMillis?: number;
  /** Trace link template of the report (`--trace-url`). */
  traceUrlTemplate?: string;
  /**
   * Send monitor notifications (monitor state and outbox in `backend`). When
   * false, monitors are evaluated and shown but send nothing and keep no state.
   * @default true
   */
  notifyMonitors?: boolean;
  /** Tokens of scope `read` required for everything but `/healthz`. @default none (open) */
  auth?: BearerAuth;
  /** Serve HTTPS. @default plain HTTP */
  tls?: TlsMaterial | undefined;
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
  // Monitors run after every alert cycle, one monitor cycle at a time.
  let monitorEvaluations: MonitorEvaluation[] = [];
  let unmatched: UnmatchedSelector[] = [];
  let warned = '';
  let monitorCycles = 0;
  let monitorRun: Promise<void> | undefined;
  const jobMetrics = new JobRunMetrics(Date.now());
  const runMonitors = async (at: number): Promise<void> => {
    try {
      if (o.notifyMonitors !== false) {
        monitorEvaluations = (await runMonitorCycle({ store: o.store, config: o.config, backend: o.backend, atMillis: at, logger: o.logger, evaluationIntervalMillis: o.intervalMillis })).evaluations;
      } else {
        monitorEvaluations = await evaluateMonitors(o.store, o.config.monitors, at);
      }
      unmatched = await findUnmatchedSelectors(o.store, o.config, at);
      // Said once per change, not every cycle.
      const text = unmatched.map(describeUnmatched).join('\n');
      if (text !== warned) for (const u of unmatched) o.logger.warn(describeUnmatched(u));
      warned = text;
      await jobMetrics.refresh(o.store, at);
    } catch (err) {
      o.logger.error('monitor evaluation failed', { error: errorMessage(err) });
    } finally {
      monitorCycles++;
    }
  };
  const monitorCycle = (at: number): Promise<void> => {
    monitorRun ??= runMonitors(at).finally(() => {
      monitorRun = undefined;
    });
    return monitorRun;
  };
  const loop = await startAlertLoop({
    store: o.store,
    config: o.config,
    backend: o.backend,
    intervalMillis: o.intervalMillis,
    logger: o.logger,
    onCycle: (r) => {
      void monitorCycle(r.evaluations[0]?.atMillis ?? Date.now());
    },
  });
  await monitorRun;
  // The report site, rendered at most once per cycle.
  let site: { cycle: string; pages: Promise<Map<string, string>> } | undefined;
  const sitePages = (): Promise<Map<string, string>> => {
    const cycleNo = `${loop.cycles}:${monitorCycles}`;
    if (site?.cycle !== cycleNo) {
      const now = Date.now();
      const pages = collectReportData(o.store, {
        range: { fromMillis: now - (o.reportWindowMillis ?? 86_400_000), toMillis: now + 1 },
        version: JOBSLO_VERSION,
        storeLocation: o.store.location,
        ...(o.traceUrlTemplate !== undefined ? { traceUrlTemplate: o.traceUrlTemplate } : {}),
        slos: withSloWarnings(reportSlos(loop.evaluations, loop.state), unmatched),
        ...(o.config.monitors.length > 0 ? { checks: reportChecks(monitorEvaluations, unmatched) } : {}),
      }).then(renderReportSite);
      site = { cycle: cycleNo, pages };
      // A failed render is retried by the next request.
      pages.catch(() => {
        if (site?.pages === pages) site = undefined;
      });
    }
    return site.pages;
  };

  const auth = o.auth ?? BearerAuth.none;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
      return;
    }
    // Reports and metrics describe every job: scope "read".
    if (!authorizeRequest(auth, 'read', req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      const w = new MetricsWriter();
      jobMetrics.write(w, monitorEvaluations, unmatched);
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(formatPrometheus(loop.evaluations, loop.stats, w));
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
  };
  let listener: Listener;
  try {
    listener = await listen(handler, { host: o.host ?? '127.0.0.1', port: o.port, tls: o.tls });
  } catch (err) {
    await loop.close();
    throw err;
  }
  const server: Server = listener.server;
  let closed = false;

  return {
    url: listener.url,
    async cycle() {
      await loop.cycle();
      await monitorRun;
    },
    async close() {
      if (closed) return;
      closed = true;
      await loop.close();
      await monitorRun;
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Evaluate SLOs and job monitors on an interval, deliver alerts, serve /metrics and the HTML report',
  help: `Usage: jobslo serve [--config FILE] [--store URL] [--port 9464] [--host 127.0.0.1]
                    [--interval 1m] [--state-dir DIR] [--external-url URL]
                    [--trace-url TEMPLATE]

Evaluates every SLO and every monitor (check state of a scheduled job) of the
config every --interval, delivers burn-rate alert and monitor notifications
(down, running too long, recovered) to the configured webhooks (through the
outbox), warns once about SLOs and monitors whose job matches no job seen, and
serves:
  GET /metrics        Prometheus text: per SLO the SLI, error budget remaining,
                      burn rate per window, alert state; per job (label
                      jobslo_job) the last success and last run time, runs by
                      outcome, a run duration histogram; per monitor its state
                      (docs/monitors.md lists the series and a scrape config)
  GET /, /report/     the HTML report site (last 24h) with a page per job and
                      per SLO, the on-call page and the check list, rendered
                      once per evaluation
  GET /healthz        liveness (never needs a token)
With --read-token, every path but /healthz needs "Authorization: Bearer
TOKEN". Stops on SIGINT/SIGTERM. With a ClickHouse store, alert state, monitor
state and the outbox live in the store and any number of replicas may run:
each SLO alert and monitor notification is sent once (see docs/slos.md, High
availability).

Options:
${CONFIG_HELP}
${STORE_HELP}
                      (a store: in the config is used when neither is set)
  --port PORT         TCP port, 0 for any free one (default 9464)
  --host ADDRESS      address to listen on (default 127.0.0.1)
  --interval DURATION time between evaluations (default 1m)
${STATE_DIR_HELP}
${EXTERNAL_URL_HELP}
${TRACE_URL_HELP}
${READ_SECURITY_HELP}
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
        'external-url': { type: 'string' },
        'trace-url': { type: 'string' },
        'read-token': SECURITY_OPTIONS['read-token'],
        'tls-cert': SECURITY_OPTIONS['tls-cert'],
        'tls-key': SECURITY_OPTIONS['tls-key'],
      },
      strict: true,
      allowPositionals: false,
    });
    const port = parsePort(values.port, '--port', 9464);
    const intervalMillis = parseDurationMillis(values.interval, '--interval');
    if (intervalMillis < 1000) throw new ConfigError('--interval', `must be at least 1s, got ${values.interval}`);
    const security = securityFrom(values, ctx, ['read']);
    const config = withExternalUrl(await withScheduleMonitors(resolveConfig(values.config, ctx, true) as JobsloConfig, ctx), values['external-url']);
    const traceUrl = checkTraceUrl(values['trace-url']);
    const storeValue = storeFor(values.store, ctx, config);
    // The store first: a store that does not exist is an error before any state folder is made.
    const store = await openExistingStore(storeValue, ctx);
    let backend: AlertBackend;
    try {
      backend = openAlertBackend({
        store: storeValue,
        ...(values['state-dir'] !== undefined ? { stateDir: resolve(ctx.cwd, values['state-dir']) } : {}),
        logger: ctx.logger,
      });
    } catch (err) {
      await store.close();
      throw err;
    }
    let server: SloServer | undefined;
    try {
      server = await startSloServer({
        store,
        config,
        backend,
        host: values.host,
        port,
        intervalMillis,
        ...(traceUrl !== undefined ? { traceUrlTemplate: traceUrl } : {}),
        auth: security.auth,
        tls: security.tls,
        logger: ctx.logger,
      });
      ctx.logger.info('jobslo serve listening', { url: server.url, slos: config.slos.length, monitors: config.monitors.length, interval: values.interval });
      if (config.alerts.webhooks.length === 0) ctx.err(`jobslo serve: warning: no webhook is configured (alerts.webhooks in ${config.file}); alerts and monitor transitions are shown but not sent\n`);
      ctx.err(`jobslo serve: listening on ${server.url} (metrics at ${server.url}/metrics)\n`);
      await new Promise<void>((r) => {
        if (ctx.signal.aborted) r();
        else ctx.signal.addEventListener('abort', () => r(), { once: true });
      });
      return 0;
    } finally {
      await server?.close();
      await store.close();
      await backend.close();
    }
  },
};
