#!/usr/bin/env bash
# Browser for the web page tests: Debian's Chromium at /usr/bin/chromium, driven by Playwright.
# Usage: scripts/install-browser-tools.sh [BIN_DIR]   (BIN_DIR is accepted for symmetry and unused)
# Idempotent: does nothing when /usr/bin/chromium runs. The Python package `playwright` comes
# from the project's `test` extra; its bundled driver works with this Chromium, so
# `playwright install` (a browser download) is never needed. Exits non-zero, saying why, when
# Chromium cannot be installed.
set -euo pipefail

fail() {
  echo "install-browser-tools.sh: $*" >&2
  exit 1
}

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --headless=new --no-sandbox --version >/dev/null 2>&1; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || fail "/usr/bin/chromium is missing and apt-get is not available"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "need root (or sudo) to apt-get install chromium"
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } \
    >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get install chromium failed"
fi
/usr/bin/chromium --headless=new --no-sandbox --version >&2 || fail "/usr/bin/chromium was installed but does not run"
