"""Shared helpers for the offline chart checks: tool discovery and cached `helm template` renders."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import missing_tool

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "taskraft"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "t"
NAMESPACE = "demo"
# Pretend the cluster serves the prometheus-operator CRDs so the ServiceMonitor and PrometheusRule render.
MONITORING_APIS = [
    "--api-versions",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "--api-versions",
    "monitoring.coreos.com/v1/PrometheusRule",
]
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("cert-manager.io/v1", "Certificate"),  # checked against schemas/certificate-v1.json (test_chart_tls.py)
}


def find_tool(name: str, env: str | None = None) -> str | None:
    """$ENV, then PATH, then the running venv's bin dir, then the repo's .tools/bin."""
    if env and os.environ.get(env):
        return os.environ[env]
    found = shutil.which(name)
    if found:
        return found
    for d in (Path(sys.executable).parent, REPO / ".tools" / "bin"):
        if (d / name).exists():
            return str(d / name)
    return None


def require_tool(name: str, env: str | None = None, install: str = "") -> str:
    """The tool's path; without it the test skips, or fails under TASKRAFT_REQUIRE_TOOLS=1 (.ci/run)."""
    path = find_tool(name, env)
    if not path:
        missing_tool(
            f"{name} not found{f' ({env} unset, not on PATH)' if env else ' on PATH'}; install it with {install}"
        )
    return path


@pytest.fixture(scope="session")
def helm() -> str:
    return require_tool("helm", "HELM", "scripts/install-helm.sh .tools/bin")


def run(cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@functools.cache
def _render(helm_path: str, values_file: str | None, extra: tuple[str, ...]) -> str:
    cmd = [helm_path, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *MONITORING_APIS, *extra]
    if values_file:
        cmd += ["-f", values_file]
    return run(cmd).stdout


def render(helm_path: str, values_file: str | Path | None = None, *extra: str) -> list[dict]:
    text = _render(helm_path, str(values_file) if values_file else None, tuple(extra))
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict], kind: str) -> dict:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


VARIANTS = [None, *CI_VALUES]
VARIANT_IDS = ["defaults", *(p.stem for p in CI_VALUES)]
