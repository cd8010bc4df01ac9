#!/usr/bin/env bash
# Deletes the kind cluster made by up.sh (and with it every volume).
set -euo pipefail
CLUSTER="${CLUSTER:-taskraft}"
command -v kind >/dev/null || { echo "down.sh: kind is required" >&2; exit 1; }
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "no kind cluster named $CLUSTER"
fi
