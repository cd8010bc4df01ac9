"""A live 3-node cluster against its own OpenAPI document, with schemathesis (`st run`).

Every operation of /api/v1/openapi.json is called with the document's examples, its coverage cases and
generated data (valid and invalid), then stateful sequences follow the document's links (create, then
read, change, delete the created task). Every answer is checked: no 5xx, a status code, headers, media
type and body the document lists. Bounded: MAX_EXAMPLES cases per operation and step, the phases that
repeat stop after MAX_TIME seconds, the run fails past TIME_LIMIT; generation is derandomized, and no
Hypothesis database is kept.

Every request carries the tests' admin token (HEADERS), so the admin routes are fuzzed too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ..conftest import dump_logs, start_cluster
from ..helpers import TEST_ADMIN_TOKEN

pytestmark = pytest.mark.cluster

# Sent on every request: the admin token every test cluster accepts (tests/conftest.py).
HEADERS: list[str] = [f"Authorization: Bearer {TEST_ADMIN_TOKEN}"]
MAX_EXAMPLES = int(os.environ.get("TASKRAFT_CONTRACT_EXAMPLES", "100"))
MAX_TIME = 150  # seconds: the fuzzing and stateful phases go on generating until then
TIME_LIMIT = MAX_TIME + 240  # seconds: past this the run is stopped and fails
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "use_after_free",  # stateful: a deleted task is gone
    "ensure_resource_availability",  # stateful: a created task can be read
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "schemathesis"


def config() -> str:
    """schemathesis.toml: the checks (named here, not with --checks, which would override the per-operation
    setting below), and the stateful phase following the document's links only: a link guessed from names,
    from the members list to DELETE /api/v1/cluster/members/{member}, would remove the cluster's voters."""
    checks = "\n".join(f"{name}.enabled = true" for name in CHECKS)
    return f"""
[checks]
enabled = false
{checks}

[phases.stateful.inference]
algorithms = []

# A task's history outlives the task (the delete is its last entry): a 200 there after the delete is by design.
[[operations]]
include-operation-id = "getTaskHistory"
checks.use_after_free.enabled = false
"""


def st_command() -> list[str]:
    st = Path(sys.executable).with_name("st")
    return [str(st)] if st.exists() else [sys.executable, "-m", "schemathesis.cli"]


def run_schemathesis(base_url: str, workdir: Path, headers: list[str] | None = None) -> tuple[int, str, dict]:
    """`st run` against base_url's document; (exit status, output, the JSON run report)."""
    (workdir / "schemathesis.toml").write_text(config())
    report = workdir / "report.json"
    cmd = [
        *st_command(),
        "run",
        f"{base_url}/api/v1/openapi.json",
        "--url",
        base_url,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_TIME),
        # Hypothesis derandomized (the same cases in the same order each run; no seed is used) and without
        # its example database, so nothing is written to the repository
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "json,junit",
        "--report-dir",
        str(workdir),
        "--report-json-path",
        str(report),
    ]
    for header in headers or []:
        cmd += ["--header", header]
    proc = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, timeout=TIME_LIMIT, env={**os.environ, "NO_COLOR": "1"}
    )
    output = proc.stdout + proc.stderr
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, output, data


@pytest.fixture(scope="module")
def contract_cluster(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract")
    c = start_cluster(path)
    yield c
    c.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_live_cluster_keeps_its_openapi_document(contract_cluster, tmp_path):
    url = contract_cluster.urls[0]
    status, output, report = run_schemathesis(url, tmp_path, HEADERS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "output.txt").write_text(output)
    for name in ("report.json", "junit.xml"):
        if (tmp_path / name).exists():
            shutil.copy(tmp_path / name, ARTIFACTS / name)
    print(output[-6000:])
    if status != 0:
        dump_logs(contract_cluster)
    assert status == 0, f"schemathesis found failures (exit {status}):\n{output[-12000:]}"
    # the run covered every operation of the document, in every phase, and found nothing
    document = requests.get(f"{url}/api/v1/openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in document["paths"].values())
    # (schemathesis leaves out the operation that serves the document it loaded)
    assert report["operations"]["tested"] == report["operations"]["total"] == operations - 1, report["operations"]
    assert {name: phase["status"] for name, phase in report["phases"].items()} == dict.fromkeys(
        ("examples", "coverage", "fuzzing", "stateful"), "success"
    ), report["phases"]
    assert report["test_cases"]["unique_failures"] == 0 and not report["errors"], report["test_cases"]
    print(
        f"schemathesis: {report['operations']['tested']} operations, {report['test_cases']['generated']} cases, "
        f"{report['running_time']:.0f} s"
    )
    # and the cluster still serves after it
    assert requests.get(f"{url}/api/v1/tasks?limit=1", timeout=10).status_code == 200
