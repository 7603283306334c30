#!/usr/bin/env bash
# scripts/install-native.sh [--print-python]
#
# Installs the Python packages of the real-framework tests (test/native/:
# Celery 5 with opentelemetry-instrumentation-celery and the OTLP exporters),
# pinned in test/native/requirements.txt, into a venv of their own under the
# cache dir, named after the requirements file's hash so a change of pins
# makes a new venv. Idempotent: does nothing when that venv already imports
# exactly the pinned versions. Prints the venv's python on the last line.
#
# The tests find the same venv (test/support/native.ts), or use
# JOBSLO_NATIVE_PYTHON when it is set.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$REPO_ROOT/test/native/requirements.txt"
[ -f "$REQ" ] || { echo "install-native: missing $REQ" >&2; exit 1; }

hash="$(sha256sum "$REQ" | cut -c1-12)"
CACHE="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/jobslo"
VENV="$CACHE/native-venv-$hash"
PY="$VENV/bin/python"

# every pinned distribution at its pinned version
check='import importlib.metadata as m, re, sys
bad = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = re.split(r"==", line, maxsplit=1)
    try:
        have = m.version(name)
    except m.PackageNotFoundError:
        have = None
    if have != want:
        bad.append(f"{name} {have} != {want}")
if bad:
    sys.exit("; ".join(bad))
import celery, redis, opentelemetry.sdk, opentelemetry.instrumentation.celery, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.proto.grpc
print("celery", celery.__version__)'

if [ -x "$PY" ] && have="$("$PY" -c "$check" "$REQ" 2>/dev/null)"; then
  echo "install-native: already installed ($have) in $VENV" >&2
  echo "$PY"
  exit 0
fi

mkdir -p "$CACHE"
# built beside its final place and renamed into it, so a broken install never
# looks complete; the tests run `python -m celery`, which a renamed venv keeps
tmp="$(mktemp -d "$CACHE/.native-venv.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv" >&2
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
"$tmp/venv/bin/python" -m pip install --no-input --quiet -r "$REQ" >&2
rm -rf "$VENV"
mv "$tmp/venv" "$VENV"
if ! have="$("$PY" -c "$check" "$REQ")"; then
  echo "install-native: installed $REQ into $VENV but it does not import the pinned versions" >&2
  exit 1
fi
echo "install-native: installed ($have) in $VENV" >&2
echo "$PY"
