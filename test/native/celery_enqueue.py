"""Enqueues the known mix on the Celery app (instrumented producer side),
waits until every task reached its final state (through the Redis result
backend), and prints one JSON line:
{"ids": {kind: [task id...]}, "states": {task id: "SUCCESS" | "FAILURE"}}.
Arguments: OK FLAKY DOOMED counts (default 5 3 2)."""

import json
import sys

from celery_app import doomed, flaky, ok, setup_tracing

provider = setup_tracing()
counts = [int(a) for a in sys.argv[1:4]] if len(sys.argv) >= 4 else [5, 3, 2]
ids = {"ok": [], "flaky": [], "doomed": []}
results = []
for kind, task, count in (("ok", ok, counts[0]), ("flaky", flaky, counts[1]), ("doomed", doomed, counts[2])):
    for i in range(count):
        r = task.apply_async(args=(i,))
        ids[kind].append(r.id)
        results.append(r)
provider.force_flush()
states = {}
for r in results:
    r.get(timeout=120, propagate=False)
    states[r.id] = r.state
provider.shutdown()
print(json.dumps({"ids": ids, "states": states}), flush=True)
