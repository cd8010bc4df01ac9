"""The benchmark's load generator, CPU meter and tables against a real local cluster.

No speed is asserted. What is checked is that the figures describe what really happened: every write the
load generator counts as acknowledged is in the cluster (and nothing else is), errors are zero on a healthy
cluster and are counted when there are some, latency percentiles are ordered, the CPU seconds come from
/proc of the cluster's own processes, and the rows and tables carry the columns bench/README.md promises.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import requests

from bench import report as bench_report
from bench import suite
from bench.procstat import cpu_seconds, group_pids
from bench.systems import Taskraft

from ..helpers import free_port, post_task

REPO = Path(__file__).resolve().parents[2]
TITLE = re.compile(r"^bench (\d+)-(\d+)$")
CPU_GROUPS = {"nodes", "databases", "loadgen"}
# bench/README.md: "every row shows the CPU seconds ... by three groups: nodes, databases and loadgen"
MARKDOWN_HEADER = [
    "figure",
    "system",
    "clients",
    "value",
    "p50 ms",
    "p99 ms",
    "errors",
    "ratio",
    "CPU s: nodes / db / loadgen",
    "CPU ms/op",
    "run",
]
TABLE_HEADER = [
    "figure",
    "system",
    "cl",
    "value",
    "unit",
    "p50 ms",
    "p99 ms",
    "err",
    "ratio",
    "CPU s nodes/db/loadgen",
    "CPU ms/op",
]

pytestmark = pytest.mark.cluster


class RunningTaskraft(Taskraft):
    """The benchmark's taskraft system bound to the test's running cluster instead of starting its own."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.extra_env = {}


def _loadgen(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def all_tasks(url: str) -> dict[int, dict]:
    """Every task the node serves (linearizable reads), page by page."""
    tasks, after = {}, None
    while True:
        params = {"limit": 500, **({} if after is None else {"after": after})}
        r = requests.get(f"{url}/api/v1/tasks", params=params, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        tasks.update((t["id"], t) for t in page["items"])
        after = page.get("next")
        if after is None:
            return tasks


def assert_writes_landed(cluster, before: set[int], acknowledged: int, runs: int = 1) -> None:
    """Every node holds exactly `acknowledged` new tasks, all written by the load generator. Client C of a run
    titles its requests `bench C-1`, `bench C-2`, ... so over `runs` runs, with no request lost or applied twice,
    each client's numbers are a union of at most `runs` ranges 1..k: no gap, no number more often than 1."""
    for url in cluster.urls:
        new = [t for i, t in all_tasks(url).items() if i not in before]
        assert len(new) == acknowledged, f"{url}: {len(new)} new tasks, {acknowledged} writes acknowledged"
        per_client: dict[int, Counter] = defaultdict(Counter)
        for task in new:
            m = TITLE.match(task["title"])
            assert m, f"a task the load generator did not write: {task}"
            per_client[int(m[1])][int(m[2])] += 1
        for client, counts in per_client.items():
            times = [counts[n] for n in range(1, max(counts) + 1)]
            assert times[0] <= runs and all(a >= b >= 1 for a, b in zip(times, times[1:] + [1], strict=True)), (
                f"{url}, client {client}: request number -> times written {dict(sorted(counts.items()))}"
            )


def assert_latencies(report: dict) -> None:
    p50, p90, p99, top, mean = (report[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"))
    assert 0 < p50 <= p90 <= p99 <= top, report
    assert 0 < mean <= top, report


def test_acknowledged_writes_are_in_the_cluster_and_cpu_comes_from_its_processes(cluster):
    system = RunningTaskraft(cluster)
    leader = system.leader()
    before = set(all_tasks(cluster.urls[leader]))

    report, cpu = suite.run_loadgen(system, [cluster.urls[leader]], op="write", clients=4, duration=2, warmup=0.2)

    assert (report["event"], report["kind"], report["op"], report["mode"], report["clients"]) == (
        "report",
        "taskraft",
        "write",
        "closed",
        4,
    )
    assert (report["errors"], report["error_kinds"], report["unexpected_status"]) == (0, {}, {}), report
    acknowledged = report["ops_total"]
    assert 0 < report["ops"] <= acknowledged  # the warm-up's writes are acknowledged but not measured
    assert report["ops_per_s"] == pytest.approx(report["ops"] / report["seconds"], rel=0.01)
    assert 0 < report["seconds"] <= 2.0
    assert_latencies(report)
    assert_writes_landed(cluster, before, acknowledged)

    # CPU: deltas of utime + stime from /proc of the cluster's own processes, and the generator's own
    assert set(cpu) == CPU_GROUPS
    assert cpu["loadgen"] == round(report["cpu_s"], 2)
    for group in CPU_GROUPS:
        assert cpu[group] > 0, cpu
        assert cpu[group] / acknowledged > 0  # CPU seconds per write, as docs/performance.md divides them
    groups = system.cpu_groups()
    node_pids, db_pids = groups["nodes"](), groups["databases"]()
    for node in cluster.nodes:
        members = group_pids(node.pid)
        assert node.pid in members and len(members) >= 2, f"{node.node_id}: gunicorn master and worker {members}"
        assert set(members) <= set(node_pids)
    assert sorted(db_pids) == sorted(node.db.pid for node in cluster.nodes)
    for pid in db_pids:
        assert Path(f"/proc/{pid}/comm").read_text().strip() in ("mariadbd", "mysqld")
    # a delta over the run, never more than the processes have used since they started
    assert cpu["nodes"] <= sum(cpu_seconds(p) for p in node_pids) + 0.01
    assert cpu["databases"] <= sum(cpu_seconds(p) for p in db_pids) + 0.01


def test_write_rows_targets_and_tables(cluster, tmp_path):
    system = RunningTaskraft(cluster)
    before = set(all_tasks(cluster.urls[system.leader()]))
    bench = suite.Bench(
        suite.parse_args(["--quick", "--only", "taskraft", "--scenarios", "writes", "--seconds", "1", "--no-progress"])
    )
    bench.written = 0
    bench.writes(system)

    rows = bench.rows
    assert [(r["figure"], r["system"], r["clients"]) for r in rows] == [
        ("writes", "taskraft", c) for c in suite.WRITE_CLIENTS
    ]
    for r in rows:
        assert r["unit"] == "ops/s" and r["value"] > 0, r
        assert 0 < r["p50_ms"] <= r["p99_ms"], r
        assert r["errors"] == 0, r
        assert set(r["cpu_s"]) == CPU_GROUPS and all(v > 0 for v in r["cpu_s"].values()), r
        assert "closed loop" in r["settings"] and "to the leader" in r["settings"], r
    assert_writes_landed(cluster, before, bench.written, runs=len(suite.WRITE_CLIENTS))

    suite.compute_ratios(rows)
    assert all(r["ratio"] is None for r in rows)  # no baseline ran, so there is nothing to divide by
    result_targets = {t["target"]: t for t in suite.targets(rows)}
    latency = result_targets["write latency, 1 client: p50 <= 3 ms, p99 <= 15 ms"]
    one = rows[0]
    assert latency["measured"] == f"p50 {one['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} ms"
    assert latency["met"] == (one["p50_ms"] <= 3 and one["p99_ms"] <= 15)
    assert result_targets["writes, 64 clients >= 1.0x galera"]["met"] is None  # not measured, not "failed"

    machine = suite.machine()
    machine["loadavg_end"] = machine["loadavg_start"]
    result = {
        "started": "2000-01-01 00:00:00",
        "wall_s": 1.0,
        "mode": "quick",
        "params": bench.p,
        "machine": machine,
        "systems": {},
        "rows": rows,
        "targets": suite.targets(rows),
        "profiles": [],
    }

    lines = suite.table(result).splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == TABLE_HEADER
    for r, line in zip(rows, lines[2:5], strict=True):
        cells = re.split(r"\s{2,}", line.strip())
        assert cells[:3] == ["writes", "taskraft", str(r["clients"])], line
        assert cells[-2] == "/".join(f"{r['cpu_s'][k]:.1f}" for k in ("nodes", "databases", "loadgen")), line
        per_op = (r["cpu_s"]["nodes"] + r["cpu_s"]["databases"]) * 1000 / r["acked"]
        assert r["acked"] > 0 and r["cpu_ms_per_op"] == pytest.approx(per_op), r
        assert cells[-1] == f"{per_op:.2f}", line

    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    markdown = bench_report.markdown(bench_report.merge([str(path)])).splitlines()
    assert [c.strip() for c in markdown[0].strip("|").split("|")] == MARKDOWN_HEADER
    for r, line in zip(rows, markdown[2:5], strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:3] == ["writes", "taskraft", str(r["clients"])], line
        assert cells[4:7] == [f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", "0"], line
        assert cells[8] == " / ".join(f"{r['cpu_s'][k]:.1f}" for k in ("nodes", "databases", "loadgen")), line
        assert cells[9] == f"{r['cpu_ms_per_op']:.2f}", line


def test_open_loop_reads_keep_the_rate_and_count_errors(cluster):
    ids = [post_task(cluster.urls[0], f"read target {i}").json()["id"] for i in range(5)]
    assert ids == list(range(ids[0], ids[0] + 5))  # one writer, so the ids follow each other
    span = f"{ids[0]}-{ids[-1]}"
    rate, seconds, clients = 50, 1.0, 4
    # linearizable: a local read on a follower could come before it applied the new tasks
    report = _loadgen(
        "--kind",
        "taskraft",
        "--urls",
        ",".join(cluster.urls),
        "--op",
        "read",
        "--read-ids",
        span,
        "--rate",
        str(rate),
        "--clients",
        str(clients),
        "--duration",
        str(seconds),
        "--warmup",
        "0",
    )
    assert (report["mode"], report["target_rate"], report["consistency"]) == ("open", rate, "linearizable")
    assert report["errors"] == 0 and report["unexpected_status"] == {}, report
    assert report["ops_total"] > 0
    # open loop: requests start on the schedule, not as fast as the clients can go
    assert report["ops_total"] <= rate * (seconds + 1) + clients, report
    assert_latencies(report)

    # the same reads of ids that do not exist: every answer is an error, counted by status
    missing = f"{ids[-1] + 100_000}-{ids[-1] + 100_010}"
    report = _loadgen(
        "--kind",
        "taskraft",
        "--urls",
        cluster.urls[1],
        "--op",
        "read",
        "--read-ids",
        missing,
        "--rate",
        str(rate),
        "--clients",
        str(clients),
        "--duration",
        "0.5",
        "--warmup",
        "0",
    )
    assert report["ops_total"] == 0 and report["p50_ms"] is None, report
    assert report["errors"] > 0 and report["error_kinds"] == {"http_404": report["errors"]}, report
    assert report["unexpected_status"] == {"404": report["errors"]}, report

    # and a node that is not there: connection errors, nothing acknowledged
    report = _loadgen(
        "--kind",
        "taskraft",
        "--urls",
        f"http://127.0.0.1:{free_port()}",
        "--op",
        "write",
        "--clients",
        "2",
        "--duration",
        "0.5",
        "--warmup",
        "0",
    )
    assert report["ops_total"] == 0 and report["errors"] > 0, report
    assert set(report["error_kinds"]) == {"connection"}, report


BACKUP_FIGURES = [
    "backup, idle cluster",
    "backup size",
    "backup, bytes per task",
    "backup rate, idle cluster",
    "writes, no backup (before)",
    "writes during a backup",
    "writes, no backup (after)",
    "backup under writes",
    "restore: taskraft restore",
    "restore: a new cluster up from it",
]


def test_backup_scenario_rows(cluster, tmp_path):
    """The backup scenario with small numbers: every row there, finite and positive; the period of writes during
    the backups covers them whole; the restored cluster holds the backup's tasks; every write acknowledged by
    the load generator (the fill and the three periods) is in the cluster."""
    system = RunningTaskraft(cluster)
    before = set(all_tasks(cluster.urls[system.leader()]))
    argv = [
        "--quick",
        "--only",
        "taskraft",
        "--scenarios",
        "backup",
        "--seconds",
        "1",
        "--backup-tasks",
        "300",
        "--no-progress",
    ]
    bench = suite.Bench(suite.parse_args(argv))
    bench.written = 0
    workdir = tmp_path / "backup"
    bench.backup(system, workdir)

    rows = {r["figure"]: r for r in bench.rows}
    assert list(rows) == BACKUP_FIGURES
    for r in bench.rows:
        assert r["system"] == "taskraft" and math.isfinite(r["value"]) and r["value"] > 0, r
    idle = rows["backup, idle cluster"]
    assert idle["tasks"] >= len(before) + 300, idle  # every task the cluster held, the fill's among them
    assert idle["rows_per_table"]["tasks"] == idle["tasks"] and idle["rows_per_table"]["raft_meta"] == 1, idle
    assert rows["backup size"]["value"] == pytest.approx(idle["size_bytes"] / 1e6)
    assert rows["backup, bytes per task"]["value"] == pytest.approx(idle["size_bytes"] / idle["tasks"])
    assert rows["backup rate, idle cluster"]["value"] == pytest.approx(idle["tasks"] / idle["value"])
    assert idle["client_cpu_s"] > 0 and idle["cpu_s"]["nodes"] > 0, idle

    periods = [rows[f] for f in ("writes, no backup (before)", "writes during a backup", "writes, no backup (after)")]
    for r in periods:
        assert r["clients"] == 16 and r["unit"] == "ops/s" and r["errors"] == 0, r
        assert r["ops"] > 0 and r["value"] == pytest.approx(r["ops"] / r["seconds"], rel=0.01), r
        assert 0 < r["p50_ms"] <= r["p99_ms"], r
        assert set(r["cpu_s"]) >= CPU_GROUPS and r["cpu_s"]["nodes"] > 0 and r["cpu_s"]["loadgen"] > 0, r
    during, under = rows["writes during a backup"], rows["backup under writes"]
    assert periods[0]["seconds"] == pytest.approx(1.0, abs=0.1) and periods[2]["seconds"] == pytest.approx(1.0, abs=0.1)
    # the backups ran one after the other for at least the period's 1 s, and the period is exactly their span
    assert during["seconds"] >= max(1.0, sum(under["walls"])) - 0.01, (during, under)
    assert during["seconds"] <= sum(under["walls"]) + 0.5 * len(under["walls"]), (during, under)
    assert under["value"] == pytest.approx(statistics.median(under["walls"]))
    assert during["cpu_s"]["client"] > 0, during

    suite.compute_ratios(bench.rows)
    without = (periods[0]["ops"] + periods[2]["ops"]) / (periods[0]["seconds"] + periods[2]["seconds"])
    assert during["ratio"] == f"{during['value'] / without:.2f}x no backup"

    restored = rows["restore: a new cluster up from it"]
    assert restored["tasks"] == idle["tasks"], restored
    assert not list(workdir.iterdir())  # the backup files and the restored cluster's directory are removed
    assert_writes_landed(cluster, before, bench.written, runs=2)  # the fill, then the load of the three periods

    lines = suite.table(
        {
            "machine": {**suite.machine(), "loadavg_end": (0, 0, 0)},
            "rows": bench.rows,
            "targets": [],
            "mode": "quick",
            "params": bench.p,
            "wall_s": 1.0,
            "systems": {},
        }
    ).splitlines()
    assert [re.split(r"\s{2,}", ln.strip())[0] for ln in lines[2 : 2 + len(BACKUP_FIGURES)]] == BACKUP_FIGURES
