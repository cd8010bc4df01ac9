#!/usr/bin/env bash
# README command 2: install what the tests need, then run the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/cluster -x
# A tool that cannot be installed is reported on stderr; under TASKRAFT_REQUIRE_TOOLS=1 (.ci/run) it
# stops the run, otherwise the tests that need it are skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
export PATH="$PWD/.venv/bin:$PWD/.tools/bin:$PATH"
failed=()
for installer in scripts/install-helm.sh scripts/install-chart-tools.sh scripts/install-browser-tools.sh; do
  if ! bash "$installer" "$PWD/.tools/bin"; then
    failed+=("$installer")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test.sh: FAILED to install test tools: ${failed[*]} (messages above)" >&2
  if [ "${TASKRAFT_REQUIRE_TOOLS:-}" = 1 ]; then
    exit 1
  fi
  echo "test.sh: the tests that need them will be skipped (TASKRAFT_REQUIRE_TOOLS=1 makes that a failure)" >&2
fi
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -p no:cacheprovider -ra --durations=15 "$@"
