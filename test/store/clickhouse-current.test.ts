/**
 * The ClickHouse store on a current ClickHouse release: the same server
 * tests as test/store/clickhouse.test.ts (ClickHouse 18.16), run against
 * chDB's embedded engine behind scripts/chdb_http.py, which speaks enough of
 * the HTTP interface for @clickhouse/client. chDB's version names the engine
 * (chDB 4.4.0 = ClickHouse 26.9). `bash scripts/install-chdb.sh` installs it;
 * without it this file skips, or fails when JOBSLO_REQUIRE_SERVICES=1.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { chdbVersions, defineClickHouseServerSuite, startChdbShim } from '../support/clickhouse-suite.js';
import type { ChdbShim } from '../support/clickhouse-suite.js';
import { requireService } from '../support/services.js';

const versions = chdbVersions();
const up = await requireService(
  'chDB',
  () => ('error' in versions ? Promise.reject(new Error(versions.error)) : Promise.resolve()),
  'ClickHouse store on a current release via chDB (test/store/clickhouse-current.test.ts)',
  'install it with "bash scripts/install-chdb.sh"',
);
const label = 'error' in versions ? 'not installed' : `chDB ${versions.chdb}, engine ${versions.engine}`;

describe.skipIf(!up)(`ClickHouse store against a current release (${label})`, () => {
  let shim: ChdbShim | undefined;

  beforeAll(async () => {
    shim = await startChdbShim();
  });

  afterAll(async () => {
    await shim?.stop();
  });

  defineClickHouseServerSuite({
    name: `ClickHouse (current, ${label})`,
    url: () => {
      if (!shim) throw new Error('the chDB shim did not start (see beforeAll)');
      return shim.url;
    },
  });
});
