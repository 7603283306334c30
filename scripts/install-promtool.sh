#!/usr/bin/env bash
# scripts/install-promtool.sh
#
# Installs promtool (Debian's prometheus package, 2.42), which the test suite
# runs as `promtool check metrics` on the /metrics output of "jobslo serve"
# (test/monitors/promtool.test.ts). Idempotent: does nothing when promtool is
# on PATH. Only the package's files are needed; its daemon is not started
# (policy-rc.d refuses service starts during the install).
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  echo "install-promtool: already installed ($(promtool --version 2>&1 | head -1))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null

if ! command -v promtool >/dev/null 2>&1; then
  echo "install-promtool: the prometheus package is installed but promtool is not on PATH" >&2
  exit 1
fi
echo "install-promtool: installed ($(promtool --version 2>&1 | head -1))"
