import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, JOBSLO_VERSION, errorMessage, parseDurationMillis } from '../../contracts/index.js';
import type { Logger } from '../../contracts/index.js';
import { openAlertBackend, startAlertLoop } from '../../analyzer/alerts/index.js';
import type { AlertBackend } from '../../analyzer/alerts/index.js';
import { PROMETHEUS_CONTENT_TYPE, formatPrometheus } from '../../analyzer/slo/index.js';
import type { JobsloConfig } from '../../analyzer/slo/index.js';
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
  const loop = await startAlertLoop({ store: o.store, config: o.config, backend: o.backend, intervalMillis: o.intervalMillis, logger: o.logger });
  // The report site, rendered at most once per cycle.
  let site: { cycle: number; pages: Promise<Map<string, string>> } | undefined;
  const sitePages = (): Promise<Map<string, string>> => {
    const cycleNo = loop.cycles;
    if (site?.cycle !== cycleNo) {
      const now = Date.now();
      const pages = collectReportData(o.store, {
        range: { fromMillis: now - (o.reportWindowMillis ?? 86_400_000), toMillis: now + 1 },
        version: JOBSLO_VERSION,
        storeLocation: o.store.location,
        slos: reportSlos(loop.evaluations, loop.state),
      }).then(renderReportSite);
      site = { cycle: cycleNo, pages };
      // A failed render is retried by the next request.
      pages.catch(() => {
        if (site?.pages === pages) site = undefined;
      });
    }
    return site.pages;
  };

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(formatPrometheus(loop.evaluations, loop.stats));
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
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    await loop.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed = false;

  return {
    url: `http://${host}:${addr.port}`,
    cycle: () => loop.cycle(),
    async close() {
      if (closed) return;
      closed = true;
      await loop.close();
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
notifications to the configured webhooks (through the outbox), and serves:
  GET /metrics        Prometheus text: per SLO and job the SLI, error budget
                      remaining, burn rate per window, alert state
  GET /, /report/     the HTML report site (last 24h) with a page per job and
                      per SLO, rendered once per evaluation
  GET /healthz        liveness
Stops on SIGINT/SIGTERM. With a ClickHouse store, alert state and the outbox
live in the store and any number of replicas may run: each notification is
sent once (see docs/slos.md, High availability).

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
    const storeValue = storeFor(values.store, ctx, config);
    const backend = openAlertBackend({
      store: storeValue,
      ...(values['state-dir'] !== undefined ? { stateDir: resolve(ctx.cwd, values['state-dir']) } : {}),
      logger: ctx.logger,
    });
    const store = await openStore(storeValue).catch(async (err: unknown) => {
      await backend.close();
      throw err;
    });
    let server: SloServer | undefined;
    try {
      server = await startSloServer({
        store,
        config,
        backend,
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
      await backend.close();
    }
  },
};
