/**
 * Where the real services of integration tests are, and the gate that skips
 * or fails a suite when one is unreachable.
 *
 * - `JOBSLO_TEST_CLICKHOUSE_URL` (default `http://127.0.0.1:8123`)
 * - `JOBSLO_TEST_KAFKA_BROKERS` (default `127.0.0.1:9092`, comma-separated)
 * - `JOBSLO_REQUIRE_SERVICES=1` (CI): an unreachable service fails the suite
 *   instead of skipping it.
 *
 * Use with a top-level await so `describe.skipIf` gets a boolean:
 *
 * ```ts
 * const up = await requireService('ClickHouse', () => probeClickHouse(clickhouseUrl()), 'ClickHouse store conformance');
 * describe.skipIf(!up)('...', () => { ... });
 * ```
 */
import { Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';

/** HTTP URL of the ClickHouse server the tests use. */
export function clickhouseUrl(): string {
  return (process.env['JOBSLO_TEST_CLICKHOUSE_URL'] ?? 'http://127.0.0.1:8123').replace(/\/$/, '');
}

/** `host:port` of each Kafka broker the tests use. */
export function kafkaBrokers(): string[] {
  return (process.env['JOBSLO_TEST_KAFKA_BROKERS'] ?? '127.0.0.1:9092')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

/** True when `JOBSLO_REQUIRE_SERVICES=1`: unreachable services fail suites. */
export function servicesRequired(): boolean {
  return process.env['JOBSLO_REQUIRE_SERVICES'] === '1';
}

/**
 * Probes a service. Resolves true when `probe` resolves. When it rejects:
 * throws (failing the test file, with the service, the reason and how to
 * start it) if {@link servicesRequired}, else prints one line naming the
 * skipped suite and the reason, and resolves false.
 *
 * @param name the service, e.g. `ClickHouse`
 * @param probe rejects when the service is unreachable
 * @param suite what is skipped, for the message
 * @param hint how to make the service available, for the message (default: the dev services)
 */
export async function requireService(
  name: string,
  probe: () => Promise<unknown>,
  suite = 'integration suite',
  hint = 'start the dev services with "bash scripts/services.sh up", or point JOBSLO_TEST_CLICKHOUSE_URL / JOBSLO_TEST_KAFKA_BROKERS at running ones',
): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (servicesRequired()) {
      throw new Error(`${suite}: ${name} is unreachable (${reason}) and JOBSLO_REQUIRE_SERVICES=1, so this suite fails instead of skipping; ${hint}`, { cause: err });
    }
    console.warn(`[jobslo tests] SKIPPED "${suite}": ${name} is unreachable (${reason}); ${hint}`);
    return false;
  }
}

/** Rejects unless ClickHouse answers `GET /ping` with `Ok.` within `timeoutMillis`. */
export async function probeClickHouse(url = clickhouseUrl(), timeoutMillis = 2_000): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMillis) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
    const code = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message;
    throw new Error(`no answer from ${url}/ping: ${code ?? (err instanceof Error ? err.message : String(err))}`, { cause: err });
  }
  const body = (await res.text()).trim();
  if (!res.ok || body !== 'Ok.') throw new Error(`${url}/ping answered ${res.status} "${body.slice(0, 80)}", not "Ok."`);
}

function tcpConnect(host: string, port: number, timeoutMillis: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    const done = (err?: Error): void => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMillis, () => done(new Error(`connect to ${host}:${port} timed out`)));
    socket.once('error', (err) => done(err));
    socket.connect(port, host, () => done());
  });
}

/** Rejects unless a Kafka broker accepts TCP and answers a metadata request within `timeoutMillis`. */
export async function probeKafka(brokers = kafkaBrokers(), timeoutMillis = 5_000): Promise<void> {
  const first = brokers[0];
  if (first === undefined) throw new Error('no Kafka brokers configured');
  const [host, port] = [first.slice(0, first.lastIndexOf(':')), Number(first.slice(first.lastIndexOf(':') + 1))];
  try {
    await tcpConnect(host, port, Math.min(timeoutMillis, 2_000));
  } catch (err) {
    throw new Error(`cannot connect to ${first}: ${(err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err))}`, { cause: err });
  }
  const admin = new Kafka({
    clientId: 'jobslo-test-probe',
    brokers,
    connectionTimeout: 2_000,
    requestTimeout: timeoutMillis,
    retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (err) {
    throw new Error(`Kafka at ${brokers.join(',')} did not answer a metadata request: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Runs one statement on ClickHouse over HTTP (test setup and cleanup); rejects with the server's message. */
export async function clickhouseExec(sql: string, url = clickhouseUrl()): Promise<string> {
  const res = await fetch(`${url}/`, { method: 'POST', body: sql, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${text.trim()}`);
  return text;
}
