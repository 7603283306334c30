#!/usr/bin/env bash
# scripts/install-browser.sh
#
# Installs Debian's `chromium` package when /usr/bin/chromium is missing, for
# the report tests that load every page in a headless browser
# (test/reports/browser.test.ts, driven by playwright-core). Idempotent: does
# nothing when the browser is already there. Needs root (CI runs as root) and
# uses apt only; playwright's own browser download is never used.
set -euo pipefail

CHROMIUM="${JOBSLO_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
  echo "install-browser: $CHROMIUM already present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser: $CHROMIUM is missing and this is not root; run: sudo apt-get update && sudo apt-get install -y chromium" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A stale or empty package list makes the install fail: refresh it first.
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  echo "install-browser: apt-get installed chromium but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
