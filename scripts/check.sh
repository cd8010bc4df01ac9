#!/usr/bin/env bash
# Static checks of service/: ruff lint, ruff format check, mypy. .ci/run runs them before the tests.
# Installs the venv with the test extras first (scripts/bootstrap.sh --test), as scripts/test.sh does.
# Runs all three and fails if any failed. `.venv/bin/ruff format service` applies the formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
failed=()
.venv/bin/ruff check service || failed+=("ruff check")
.venv/bin/ruff format --check service || failed+=("ruff format --check")
# service/ is installed as the package taskraft through setuptools' editable import hook, which mypy does not
# follow: give mypy a link named taskraft (in .cache/, ignored by git), and print the paths as service/.
mkdir -p .cache/typecheck
ln -sfn ../../service .cache/typecheck/taskraft
MYPYPATH=.cache/typecheck .venv/bin/mypy -p taskraft 2>&1 | sed 's#^\.cache/typecheck/taskraft/#service/#' \
  || failed+=("mypy")
if [ "${#failed[@]}" -gt 0 ]; then
  (IFS=,; echo "check.sh: FAILED: ${failed[*]}" >&2)
  exit 1
fi
echo "check.sh: ruff check, ruff format --check and mypy passed"
