#!/usr/bin/env bash
# bench/peer-duckdb.sh DURATION_S [WORKERS] [CHILD_SPANS]   (run from the project root, after the peers' build.sh)
# The load of /work/shared/peers/peer-bench.sh (PROCS x telemetrygen traces --otlp-http --rate 0) against the embedded
# path, `jobslo collector --store duckdb:FILE` (answers after the spans are in DuckDB); then counts the stored spans.
# spans/s = spans in the file / DURATION. Env: PEERS (~/.cache/jobslo-peers), PORT (43400), PROCS (2), BATCH (512).
set -euo pipefail
D=${1:?duration seconds}; W=${2:-4}; C=${3:-4}
P=${PEERS:-$HOME/.cache/jobslo-peers}; PORT=${PORT:-43400}; ROOT=$PWD
WD=$(mktemp -d /tmp/peer-duckdb.XXXXXX)
node "$ROOT/bin/jobslo.js" collector --port "$PORT" --no-grpc --store "duckdb:$WD/bench.duckdb" > "$WD/jobslo.log" 2>&1 & JC=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
pids=(); for k in $(seq "${PROCS:-2}"); do "$P/telemetrygen" traces --otlp-http --otlp-insecure --otlp-endpoint "127.0.0.1:$PORT" \
  --duration "${D}s" --rate 0 --workers "$W" --child-spans "$C" --batch-size "${BATCH:-512}" --allow-export-failures > "$WD/tg-$k.log" 2>&1 & pids+=($!); done
wait "${pids[@]}" || true
kill "$JC"; wait "$JC" || true
N=$(node --input-type=module -e "
import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create('$WD/bench.duckdb'); const c = await db.connect();
const r = await c.runAndReadAll('SELECT count(*) FROM spans'); console.log(String(r.getRows()[0][0]));")
echo "load: ${PROCS:-2} x telemetrygen traces --otlp-http --rate 0 --workers $W --child-spans $C --batch-size ${BATCH:-512} --duration ${D}s; dir $WD"
echo "embedded DuckDB: $N spans stored = $((N / D)) spans/s"
