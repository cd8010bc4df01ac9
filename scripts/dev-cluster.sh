#!/usr/bin/env bash
# README command 1: start the local 3-node cluster in the foreground (Ctrl-C stops it, data is kept).
# Extra arguments go to `taskraft cluster up`, e.g. --port-base 9080 or --nodes 5.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/taskraft cluster up --data-dir "${TASKRAFT_CLUSTER_DIR:-.cluster}" "$@"
