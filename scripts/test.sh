#!/usr/bin/env bash
# README command 2: install what the tests need, then run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/cluster -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
export PATH="$PWD/.venv/bin:$PWD/.tools/bin:$PATH"
for extra in scripts/install-helm.sh scripts/install-chart-tools.sh scripts/install-browser-tools.sh; do
  if [ -x "$extra" ]; then "$extra" "$PWD/.tools/bin"; fi
done
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -p no:cacheprovider -ra --durations=15 "$@"
