/**
 * A private, throwaway single-node Kafka broker (KRaft) for tests that stop
 * and restart Kafka: the shared dev broker serves other engineers' tests and
 * must never be stopped. It runs from the jars scripts/services.sh caches
 * (`$JOBSLO_KAFKA_CACHE_DIR`, else `~/.cache/jobslo/kafka-$JOBSLO_KAFKA_VERSION/libs`)
 * with the same server.properties shape, on free loopback ports, with its
 * own temp data dir that {@link PrivateKafkaBroker.destroy} removes.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeKafka } from './services.js';

/** Where services.sh keeps the Kafka jars. */
export function kafkaLibsDir(): string {
  const version = process.env['JOBSLO_KAFKA_VERSION'] ?? '3.9.1';
  const cache =
    process.env['JOBSLO_KAFKA_CACHE_DIR'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(process.env['HOME'] ?? homedir(), '.cache'), 'jobslo', `kafka-${version}`);
  return join(cache, 'libs');
}

/** Rejects unless the cached jars and a `java` are there (a probe for {@link requireService}). */
export async function probeKafkaJars(): Promise<void> {
  const libs = kafkaLibsDir();
  if (!existsSync(libs)) throw new Error(`no Kafka jars in ${libs} (bash scripts/services.sh up fetches them)`);
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (java.status !== 0) throw new Error('java is not installed (bash scripts/services.sh up installs it)');
  return Promise.resolve();
}

/** A free TCP port on loopback (closed again; the broker binds it moments later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const JVM_FAST = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Djava.awt.headless=true'];

/** A running (or stopped) private broker. */
export interface PrivateKafkaBroker {
  /** `['127.0.0.1:PORT']`, stable across restarts. */
  readonly brokers: string[];
  readonly dataDir: string;
  /** True while the broker process runs. */
  readonly running: boolean;
  /** Starts the broker again on the same ports and data; resolves when it answers metadata requests. */
  start(): Promise<void>;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills it and removes its data dir. Idempotent. */
  destroy(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Formats a temp data dir and starts a private broker on two free ports.
 * @param readyTimeoutMillis how long to wait for it to answer @default 90_000
 */
export async function startPrivateKafka(readyTimeoutMillis = 90_000): Promise<PrivateKafkaBroker> {
  const libs = kafkaLibsDir();
  const dataDir = mkdtempSync(join(tmpdir(), 'jobslo-test-kafka-'));
  const port = await freePort();
  const controllerPort = await freePort();
  const props = join(dataDir, 'server.properties');
  writeFileSync(
    props,
    [
      '# private test broker (test/support/kafka-broker.ts), same shape as scripts/services.sh',
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      `log.dirs=${join(dataDir, 'data')}`,
      'num.partitions=2',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=2',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'auto.create.topics.enable=true',
      'group.initial.rebalance.delay.ms=0',
      'broker.heartbeat.interval.ms=1000',
      'broker.session.timeout.ms=4000',
      'num.network.threads=1',
      'num.io.threads=2',
      'log.segment.bytes=16777216',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dataDir, 'log4j.properties'),
    [
      'log4j.rootLogger=INFO, file',
      'log4j.appender.file=org.apache.log4j.FileAppender',
      `log4j.appender.file.File=${join(dataDir, 'server.log')}`,
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.request.logger=WARN',
      '',
    ].join('\n'),
  );
  // A KRaft cluster id is 16 random bytes, base64url without padding.
  const clusterId = randomBytes(16).toString('base64url');
  const format = spawnSync(
    'java',
    [...JVM_FAST, '-Xmx128m', `-Dlog4j.configuration=file:${join(dataDir, 'log4j.properties')}`, '-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (format.status !== 0) {
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`kafka StorageTool format failed: ${format.stderr || format.stdout || String(format.error)}`);
  }

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const brokers = [`127.0.0.1:${port}`];

  const start = async (): Promise<void> => {
    if (child) return;
    const log = openSync(join(dataDir, 'stdout.log'), 'a');
    const proc = spawn(
      'java',
      [...JVM_FAST, '-Xmx384m', '-Xms384m', `-Dlog4j.configuration=file:${join(dataDir, 'log4j.properties')}`, `-Dkafka.logs.dir=${dataDir}`, '-cp', `${libs}/*`, 'kafka.Kafka', props],
      { stdio: ['ignore', log, log] },
    );
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
      if (child !== proc) throw new Error(`private Kafka broker exited during start; see ${join(dataDir, 'stdout.log')}`);
      try {
        await probeKafka(brokers, 3_000);
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`private Kafka broker did not answer within ${readyTimeoutMillis} ms: ${String(last)}`);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (!child) return;
    child.kill(signal);
    await exited;
  };

  await start();
  return {
    brokers,
    dataDir,
    get running() {
      return child !== undefined;
    },
    start,
    kill,
    async destroy() {
      await kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
