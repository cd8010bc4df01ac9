"""Smoke test of the benchmark's load generator: 2 seconds of writes against a local cluster. No speed asserts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.cluster


def _loadgen(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.loadgen", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_loadgen_reports_writes_against_a_local_cluster(cluster):
    leader = cluster.wait_leader(30)
    report = _loadgen("--kind", "taskraft", "--urls", cluster.urls[leader], "--op", "write", "--clients", "4",
                      "--duration", "2", "--warmup", "0.2")
    assert report["event"] == "report"
    assert report["ops_per_s"] > 0
    assert report["p50_ms"] is not None and report["p50_ms"] > 0
    assert report["p99_ms"] >= report["p50_ms"]
    assert report["cpu_s"] >= 0


def test_loadgen_open_loop_and_reads(cluster):
    report = _loadgen("--kind", "taskraft", "--urls", ",".join(cluster.urls), "--op", "read", "--consistency",
                      "local", "--read-ids", "1-5", "--rate", "50", "--clients", "4", "--duration", "1",
                      "--warmup", "0")
    assert report["mode"] == "open"
    assert report["ops_total"] + report["errors"] > 0
