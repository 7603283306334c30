/**
 * ClickHouse credentials from the environment reach the real server: a
 * wrong password from JOBSLO_CLICKHOUSE_PASSWORD is refused by ClickHouse
 * (and not echoed), the right user from JOBSLO_CLICKHOUSE_USER works, and a
 * password file is read.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../store/index.js';
import { clickhouseExec, clickhouseUrl, probeClickHouse, requireService } from '../support/services.js';
import { uniqueDatabase } from './_util.js';

const up = await requireService('ClickHouse', () => probeClickHouse(), 'ClickHouse credentials (test/integration/clickhouse-credentials.test.ts)');

describe.skipIf(!up)('ClickHouse credentials from the environment', () => {
  const db = uniqueDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'jobslo-ch-cred-'));
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (up) await clickhouseExec(`DROP DATABASE IF EXISTS ${db}`);
  });

  it('are sent to the server: a wrong password is refused without being echoed, the default user works', async () => {
    const value = `clickhouse:${clickhouseUrl()}/${db}`;
    const wrong = 'wrong-password-5c1d9e';
    const err = await openStore(value, { JOBSLO_CLICKHOUSE_USER: 'default', JOBSLO_CLICKHOUSE_PASSWORD: wrong }).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toMatch(/password|Authentication|auth/i);
    expect(err?.message).not.toContain(wrong);

    writeFileSync(join(dir, 'pw'), `${wrong}\n`);
    await expect(openStore(value, { JOBSLO_CLICKHOUSE_PASSWORD_FILE: join(dir, 'pw') })).rejects.toThrow(/password|Authentication|auth/i);

    const store = await openStore(value, { JOBSLO_CLICKHOUSE_USER: 'default' });
    try {
      expect(await store.jobNames({ fromMillis: 0, toMillis: Date.now() })).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);
});
