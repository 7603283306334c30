/**
 * A private, throwaway `clickhouse-server` for tests that stop and restart
 * ClickHouse: the shared dev server must never be stopped. Same binary and
 * config shape as scripts/services.sh (ClickHouse 18.16 `<yandex>` format,
 * which current releases still read), on free loopback ports, with its own
 * temp dir that {@link PrivateClickHouse.destroy} removes.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './kafka-broker.js';
import { probeClickHouse } from './services.js';

/** The server command: `clickhouse-server`, or `clickhouse server`. */
function serverCommand(): string[] | undefined {
  for (const c of ['clickhouse-server', '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server']) {
    if (c.startsWith('/') ? existsSync(c) : spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0) return [c];
  }
  if (spawnSync('sh', ['-c', 'command -v clickhouse'], { stdio: 'ignore' }).status === 0) return ['clickhouse', 'server'];
  return undefined;
}

/** Rejects unless a clickhouse-server binary is installed (a probe for {@link requireService}). */
export async function probeClickHouseBinary(): Promise<void> {
  if (!serverCommand()) throw new Error('no clickhouse-server binary (bash scripts/services.sh up installs it)');
  return Promise.resolve();
}

/** A running (or stopped) private ClickHouse server. */
export interface PrivateClickHouse {
  /** `http://127.0.0.1:PORT`, stable across restarts. */
  readonly url: string;
  readonly dir: string;
  readonly running: boolean;
  /** Starts it again with the same ports and data; resolves when `/ping` answers. */
  start(): Promise<void>;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills it and removes its dir. Idempotent. */
  destroy(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Writes a config like services.sh's into a temp dir and starts the server on free ports. */
export async function startPrivateClickHouse(readyTimeoutMillis = 60_000): Promise<PrivateClickHouse> {
  const cmd = serverCommand();
  if (!cmd) throw new Error('no clickhouse-server binary (bash scripts/services.sh up installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'jobslo-test-clickhouse-'));
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub));
  const httpPort = await freePort();
  const tcpPort = await freePort();
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<!-- private test server (test/support/clickhouse-server.ts), same shape as scripts/services.sh -->
<yandex>
    <logger>
        <level>warning</level>
        <log>${dir}/log/clickhouse-server.log</log>
        <errorlog>${dir}/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>${httpPort}</http_port>
    <tcp_port>${tcpPort}</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>50</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>${dir}/data/</path>
    <tmp_path>${dir}/tmp/</tmp_path>
    <user_files_path>${dir}/user_files/</user_files_path>
    <format_schema_path>${dir}/format_schemas/</format_schema_path>
    <users_config>${dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) return;
    const log = openSync(join(dir, 'log', 'stdout.log'), 'a');
    const [bin, ...pre] = cmd as [string, ...string[]];
    const proc = spawn(bin, [...pre, `--config-file=${join(dir, 'config.xml')}`], { cwd: dir, stdio: ['ignore', log, log] });
    closeSync(log);
    child = proc;
    live.add(proc);
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        live.delete(proc);
        if (child === proc) child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + readyTimeoutMillis;
    let last: unknown;
    while (Date.now() < deadline) {
      if (child !== proc) throw new Error(`private clickhouse-server exited during start; see ${join(dir, 'log')}`);
      try {
        await probeClickHouse(url, 1_000);
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`private clickhouse-server did not answer within ${readyTimeoutMillis} ms: ${String(last)}`);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (!child) return;
    child.kill(signal);
    await exited;
  };

  await start();
  return {
    url,
    dir,
    get running() {
      return child !== undefined;
    },
    start,
    kill,
    async destroy() {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
