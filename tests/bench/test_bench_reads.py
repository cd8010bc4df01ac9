"""The benchmark's read baselines and its CPU per acknowledged operation.

Fast tests on given rows: the CPU-per-op figure and column, the read rows' ratios. The load generator's
errors on bad read options. And the Galera task API's read path against a real MariaDB (the tests' server,
not a Galera cluster): every connection runs with wsrep_sync_wait=1, a task written is read back, the load
generator reads the ids it is given with no error. No speed is asserted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bench import report as bench_report
from bench import suite
from bench.baselines.galera_api import SCHEMA
from bench.procstat import cpu_ms_per_op

from ..helpers import free_port

REPO = Path(__file__).resolve().parents[2]


def _rows() -> list[dict]:
    """Writes and linearizable reads of the three systems at 16 clients, taskraft's local reads too."""
    cpu = {"nodes": 1.5, "databases": 0.5, "loadgen": 0.7}
    return [
        suite.row("writes", "taskraft", clients=16, value=800.0, unit="ops/s", cpu=cpu, acked=2000),
        suite.row("reads (linearizable)", "taskraft", clients=16, value=1000.0, unit="ops/s", cpu=cpu, acked=2500),
        suite.row("reads (local)", "taskraft", clients=16, value=2400.0, unit="ops/s", cpu=cpu, acked=4000),
        suite.row("writes", "etcd", clients=16, value=3200.0, unit="ops/s", cpu={"nodes": 2.0}, acked=8000),
        suite.row("reads (linearizable)", "etcd", clients=16, value=4000.0, unit="ops/s", cpu={"nodes": 3.0}, acked=10),
        suite.row("writes", "galera", clients=16, value=1250.0, unit="ops/s", cpu=cpu, acked=0),
        suite.row("reads (linearizable)", "galera", clients=16, value=2000.0, unit="ops/s", cpu=cpu, acked=4000),
        suite.row("failover, SIGKILL", "taskraft", clients=16, value=0.7, unit="s (median)", cpu=cpu),
    ]


def test_cpu_ms_per_op_counts_the_system_not_the_load_generator():
    assert cpu_ms_per_op({"nodes": 1.5, "databases": 0.5, "loadgen": 9.0}, 2000) == pytest.approx(1.0)
    assert cpu_ms_per_op({"nodes": 3.0}, 1500) == pytest.approx(2.0)  # etcd: no database group
    assert cpu_ms_per_op({"nodes": 1.0, "databases": 1.0, "client": 5.0}, 4) == pytest.approx(500.0)
    assert cpu_ms_per_op({"nodes": 1.0}, 0) is None  # nothing acknowledged: no figure, not infinity
    assert cpu_ms_per_op({"nodes": 1.0}, None) is None
    assert cpu_ms_per_op({}, 100) is None
    assert cpu_ms_per_op({"loadgen": 1.0}, 100) is None
    with pytest.raises(ValueError, match="must not be negative"):
        cpu_ms_per_op({"nodes": 1.0}, -1)


def test_rows_carry_acked_and_cpu_ms_per_op():
    rows = {(r["figure"], r["system"]): r for r in _rows()}
    assert rows[("writes", "taskraft")]["acked"] == 2000
    assert rows[("writes", "taskraft")]["cpu_ms_per_op"] == pytest.approx(1.0)  # (1.5 + 0.5) s / 2000
    assert rows[("reads (linearizable)", "etcd")]["cpu_ms_per_op"] == pytest.approx(300.0)  # 3 s / 10
    assert rows[("writes", "galera")]["cpu_ms_per_op"] is None  # 0 acknowledged
    assert rows[("failover, SIGKILL", "taskraft")]["cpu_ms_per_op"] is None  # not a throughput row
    json.dumps(list(rows.values()))  # the JSON rows hold the new fields as plain values


def test_read_rows_ratios_compare_with_both_baselines():
    rows = _rows()
    suite.compute_ratios(rows)
    ratio = {(r["figure"], r["system"]): r["ratio"] for r in rows}
    assert ratio[("reads (linearizable)", "taskraft")] == "1.25x own writes, 0.50x galera, 0.25x etcd"
    assert ratio[("reads (local)", "taskraft")] == "3.00x own writes"  # the baselines' local reads are not run
    assert ratio[("reads (linearizable)", "etcd")] == "1.25x own writes"
    assert ratio[("reads (linearizable)", "galera")] == "1.60x own writes"
    assert ratio[("writes", "taskraft")] == "0.64x galera, 0.25x etcd"
    # a baseline that did not run: the ratio names only the ones that did
    only_etcd = [r for r in _rows() if r["system"] != "galera"]
    suite.compute_ratios(only_etcd)
    assert only_etcd[1]["ratio"] == "1.25x own writes, 0.25x etcd"


def _result(rows: list[dict]) -> dict:
    return {
        "started": "2000-01-01 00:00:00",
        "wall_s": 1.0,
        "mode": "quick",
        "params": {},
        "machine": {**suite.machine(), "loadavg_end": (0.0, 0.0, 0.0)},
        "systems": {},
        "rows": rows,
        "targets": suite.targets(rows),
        "profiles": [],
    }


def test_tables_print_the_cpu_ms_per_op_column(tmp_path):
    rows = _rows()
    suite.compute_ratios(rows)
    expected = ["1.00", "0.80", "0.50", "0.25", "300.00", "-", "0.50", "-"]

    lines = suite.table(_result(rows)).splitlines()
    assert re.split(r"\s{2,}", lines[0].strip())[-2:] == ["CPU s nodes/db/loadgen", "CPU ms/op"]
    assert [re.split(r"\s{2,}", ln.strip())[-1] for ln in lines[2 : 2 + len(rows)]] == expected
    assert suite.CPU_PER_OP_NOTE in lines

    path = tmp_path / "result.json"
    path.write_text(json.dumps(_result(rows)))
    markdown = bench_report.markdown(bench_report.merge([str(path)])).splitlines()
    header = [c.strip() for c in markdown[0].strip("|").split("|")]
    assert header[-3:] == ["CPU s: nodes / db / loadgen", "CPU ms/op", "run"]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in markdown[2 : 2 + len(rows)]]
    assert [c[-2] for c in cells] == expected
    assert cells[1][7] == "1.25x own writes, 0.50x galera, 0.25x etcd"


def test_report_of_rows_without_the_field_prints_a_dash(tmp_path):
    """A JSON file written before the column existed still renders."""
    old = [{k: v for k, v in r.items() if k not in ("acked", "cpu_ms_per_op")} for r in _rows()]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_result(old)))
    markdown = bench_report.markdown(bench_report.merge([str(path)])).splitlines()
    assert all(ln.strip("|").split("|")[-2].strip() == "-" for ln in markdown[2 : 2 + len(old)])


def _loadgen(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.loadgen", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("args", "file_text", "message"),
    [
        (["--kind", "etcd", "--op", "read"], None, "etcd reads need --read-keys FILE"),
        (["--kind", "galera", "--op", "read"], "12\nabc\n", "'abc' is not a task id"),
        (["--kind", "etcd", "--op", "read"], "\n\n", "no keys in the file"),
        (["--kind", "taskraft", "--op", "read", "--read-ids", "9-3"], None, "expected LO-HI"),
        (["--kind", "taskraft", "--op", "read", "--read-ids", "1-5"], "3\n", "not both"),
    ],
)
def test_loadgen_rejects_bad_read_options(tmp_path, args, file_text, message):
    extra = []
    if file_text is not None:
        (tmp_path / "keys").write_text(file_text)
        extra = ["--read-keys", str(tmp_path / "keys")]
    proc = _loadgen(*args, *extra, "--urls", f"http://127.0.0.1:{free_port()}", "--duration", "0.2")
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert proc.stdout == ""  # no report: nothing was run


@pytest.fixture
def galera_api(mysql_server, tmp_path):
    """The Galera baseline's task API (gunicorn, as bench/systems.py runs it) on the tests' MariaDB."""
    mysql_server.bootstrap("bench_reads", "bench_reads", "bench-password")
    conn = mysql_server.root_connection("bench_reads")
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS tasks")
        cur.execute(SCHEMA)
    conn.close()
    port = free_port()
    env = {
        **os.environ,
        "GALERA_API_HOSTS": f"127.0.0.1:{mysql_server.port}",
        "GALERA_API_USER": "bench_reads",
        "GALERA_API_PASSWORD": "bench-password",
        "GALERA_API_DATABASE": "bench_reads",
        "PYTHONPATH": str(REPO),
    }
    log = open(tmp_path / "api.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:bench.baselines.gunicorn_galera",
            "-b",
            f"127.0.0.1:{port}",
            "bench.baselines.galera_api:app",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "api.log").read_text()
            try:
                if requests.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the Galera API did not get ready"
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        log.close()


@pytest.mark.cluster
def test_galera_api_reads_with_wsrep_sync_wait_and_the_loadgen_reads_given_ids(galera_api, tmp_path):
    url = galera_api
    for _ in range(4):  # several threads, several connections: each is set up the same way
        assert requests.get(url + "/bench/sync-wait", timeout=5).json() == {"wsrep_sync_wait": 1}
    ids = []
    for i in range(5):
        r = requests.post(url + "/api/v1/tasks", json={"title": f"read me {i}"}, timeout=5)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for consistency in ("", "?consistency=linearizable", "?consistency=local"):
        r = requests.get(f"{url}/api/v1/tasks/{ids[2]}{consistency}", timeout=5)
        assert r.status_code == 200 and r.json()["title"] == "read me 2", r.text
    r = requests.get(f"{url}/api/v1/tasks/{ids[2]}?consistency=eventual", timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request", r.text
    assert r.json()["error"]["details"][0]["field"] == "consistency"
    assert requests.get(f"{url}/api/v1/tasks/{ids[-1] + 1000}", timeout=5).status_code == 404

    keys = tmp_path / "ids"
    keys.write_text("\n".join(map(str, ids)) + "\n")
    proc = _loadgen(
        "--kind", "galera", "--urls", url, "--op", "read", "--read-keys", str(keys),
        "--clients", "4", "--duration", "1", "--warmup", "0",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["op"] == "read" and report["consistency"] == "linearizable", report
    assert report["errors"] == 0 and report["unexpected_status"] == {}, report
    assert report["ops_total"] > 0, report
