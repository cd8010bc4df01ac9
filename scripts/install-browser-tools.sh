#!/usr/bin/env bash
# Browser for the web page tests: Debian's Chromium at /usr/bin/chromium, driven by Playwright.
# Usage: scripts/install-browser-tools.sh [BIN_DIR]   (BIN_DIR is accepted for symmetry and unused)
# Idempotent: does nothing when /usr/bin/chromium exists. The Python package `playwright` comes
# from the project's `test` extra; its bundled driver works with this Chromium, so
# `playwright install` (a browser download) is never needed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser-tools: /usr/bin/chromium is missing and apt-get is not available; the web tests will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-browser-tools: need root (or sudo) to apt-get install chromium; the web tests will be skipped" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }; then
  echo "install-browser-tools: apt-get install chromium failed; the web tests will be skipped" >&2
  exit 0
fi
/usr/bin/chromium --version 2>/dev/null || true
