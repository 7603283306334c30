#!/usr/bin/env bash
# scripts/install-chdb.sh
#
# Installs chDB, ClickHouse's current engine in-process for Python, at pinned
# versions, for test/store/clickhouse-current.test.ts (the ClickHouse store on
# a current release, through scripts/chdb_http.py). Idempotent: does nothing
# when python3 already imports exactly these versions. Uses python3's own pip
# (`python3 -m pip`), so the tests' `python3` sees what it installed.
#
# chdb 4.4.0 needs chdb-core (the engine: ClickHouse 26.9, reported by
# chdb.engine_version / SELECT version() as 26.9.2.1), pandas, pyarrow and
# numpy: about 260 MB of wheels, of which chdb-core is 180 MB.
set -euo pipefail

CHDB_VERSION=4.4.0
CHDB_CORE_VERSION=26.9.0

check="import importlib.metadata as m, chdb
assert (m.version('chdb'), m.version('chdb-core')) == ('$CHDB_VERSION', '$CHDB_CORE_VERSION'), (m.version('chdb'), m.version('chdb-core'))
print('chdb', m.version('chdb'), 'chdb-core', m.version('chdb-core'), 'engine', getattr(chdb, 'engine_version', '?'))"

if have=$(python3 -c "$check" 2>/dev/null); then
  echo "install-chdb: already installed ($have)"
  exit 0
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python3 -m pip install --no-input --quiet "chdb==$CHDB_VERSION" "chdb-core==$CHDB_CORE_VERSION"

if ! have=$(python3 -c "$check"); then
  echo "install-chdb: pip installed chdb==$CHDB_VERSION chdb-core==$CHDB_CORE_VERSION but python3 does not import them" >&2
  exit 1
fi
echo "install-chdb: installed ($have)"
