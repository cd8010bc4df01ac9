"""The `backup` scenario of bench/run (taskraft only): what a backup of N tasks takes, and costs the writers.

1. The cluster is filled to N tasks (64 clients writing to the leader, as for the catch-up).
2. A backup on the idle cluster: `taskraft backup --url <a follower> --out FILE` (linearizable, as by
   default), timed from the command's start to its exit (Python's start, the read barrier, the stream,
   fsync, the client's check of the whole file, the rename). Its size, rows, and the CPU seconds of the
   serving follower, its database and the client process.
3. One load generator (16 closed-loop clients writing to the leader, as the writes scenario) runs
   through three periods: S seconds without a backup, then backups one after the other until S seconds
   have passed (at least one; the period is the first backup's start to the last one's end, so the load
   covers every backup whole), then S seconds without a backup again. The generator records every
   acknowledgement and counts each period afterwards (`window` on its control input).
4. A restore: `taskraft restore FILE --data-dir DIR`, then a new 3-node local cluster started on DIR
   until every node is ready and a leader is agreed; its leader's task count is checked.

Every process (the cluster, the load, the backup client) shares the machine's cores.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from taskraft.localcluster.cluster import LocalCluster
from taskraft.state import backup_format
from tests.helpers import free_port_base

from .procstat import CpuMeter
from .systems import Taskraft

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 16
# what `taskraft backup` prints: "... 1234 tasks, 2470 rows, 81234 bytes, ..."
_PRINTED = re.compile(r"(\d+) tasks, (\d+) rows, (\d+) bytes")
_INDEX = re.compile(r"index (\d+)")
MB = 1e6


@dataclass
class Backup:
    """One run of `taskraft backup`."""

    started: float  # time.monotonic()
    ended: float
    client_cpu_s: float  # the command's own user + system CPU
    tasks: int
    rows: int
    size: int  # bytes of the file
    index: int

    @property
    def wall_s(self) -> float:
        return self.ended - self.started


def taskraft_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "taskraft", *args]


def take_backup(url: str, token: str, out: Path, timeout: float = 1800.0) -> Backup:
    """`taskraft backup --url URL --out OUT` as an operator runs it; its wall time and its own CPU (wait4)."""
    env = {**os.environ, "TASKRAFT_TOKEN": token}
    cmd = taskraft_cli("backup", "--url", url, "--out", str(out), "--no-progress", "--timeout", "3600")
    with tempfile.TemporaryFile("w+") as log:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        ended = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    printed, index = _PRINTED.search(text), _INDEX.search(text)
    if proc.returncode != 0 or not printed or not index:
        raise RuntimeError(f"taskraft backup failed ({proc.returncode}): {text[-2000:]}")
    tasks, rows, size = (int(x) for x in printed.groups())
    return Backup(started, ended, usage.ru_utime + usage.ru_stime, tasks, rows, size, int(index[1]))


def task_count(cluster: LocalCluster, i: int) -> int | None:
    """Tasks in node i's database, from its /metrics (`taskraft_tasks`, counted when scraped)."""
    try:
        r = requests.get(cluster.urls[i] + "/metrics", headers=cluster.auth_headers, timeout=30)
    except requests.RequestException:
        return None
    counts = [float(ln.rsplit(" ", 1)[1]) for ln in r.text.splitlines() if ln.startswith("taskraft_tasks{")]
    return int(sum(counts)) if r.status_code == 200 and counts else None


def run(bench, system: Taskraft, workdir: Path) -> None:
    """The scenario; its rows go to bench.rows (bench: suite.Bench)."""
    from .suite import ControlledLoad, row

    p, name, progress = bench.p, system.name, bench.progress
    seconds = p["seconds"]
    bench.fill(system, p["backup_tasks"], "the backup")
    progress.step(f"{name}: {bench.written} tasks written for the backup")
    workdir.mkdir(parents=True, exist_ok=True)
    token = system.cluster.admin_token
    leader = system.leader()
    follower = (leader + 1) % len(system.urls())
    url = system.urls()[follower]
    groups = system.cpu_groups()

    # -- 1. a backup of the idle cluster: time, size, CPU ------------------------------------------------
    progress.note(f"{name}: a backup of the idle cluster")
    serving = {
        "serving node": lambda: system.node_pids(follower),
        "serving db": lambda: [system.cluster.nodes[follower].db.pid],
    }
    meter = CpuMeter({**groups, **serving}).start()
    idle_file = workdir / "idle.backup"
    idle = take_backup(url, token, idle_file)
    cpu = meter.stop()
    t = time.monotonic()
    info = backup_format.verify(str(idle_file))
    verify_s = time.monotonic() - t
    tasks, size = info.tasks, info.size
    tables = ", ".join(f"{table} {n:,}" for table, n in info.rows.items() if n)
    how = (
        f"`taskraft backup --url <follower> --out FILE` (linearizable), {tasks:,} tasks; wall time of the "
        "command: its start, the read barrier, the stream, fsync, its check of the whole file, the rename"
    )
    bench.rows.append(
        row(
            "backup, idle cluster",
            name,
            value=idle.wall_s,
            unit="s",
            cpu={"nodes": cpu["nodes"], "databases": cpu["databases"], "client": round(idle.client_cpu_s, 2)},
            settings=how + "; no other load",
            note=f"CPU s: the serving follower's node {cpu['serving node']:.1f} and database {cpu['serving db']:.1f} "
            f"(in nodes/db), the `taskraft backup` process {idle.client_cpu_s:.1f} (not in loadgen); checking the "
            f"file alone (backup_format.verify, as `taskraft backup verify`) {verify_s:.2f} s; index {idle.index}",
            tasks=tasks,
            size_bytes=size,
            rows_per_table=info.rows,
            client_cpu_s=round(idle.client_cpu_s, 2),
            verify_s=round(verify_s, 3),
        )
    )
    per_task = f"rows: {tables}; gzip (level 1) JSON lines, every replicated table"
    bench.rows.append(
        row(
            "backup size",
            name,
            value=size / MB,
            unit="MB (10^6 bytes)",
            settings=how,
            note=per_task,
            size_bytes=size,
            tasks=tasks,
        )
    )
    bench.rows.append(
        row(
            "backup, bytes per task",
            name,
            value=size / tasks if tasks else None,
            unit="bytes/task",
            settings="the file's size / its tasks",
            note="includes the other tables' rows (" + tables + ")",
        )
    )
    bench.rows.append(
        row(
            "backup rate, idle cluster",
            name,
            value=tasks / idle.wall_s,
            unit="tasks/s",
            settings="tasks / the idle backup's wall time",
        )
    )
    progress.step(f"{name}: backup of the idle cluster, {idle.wall_s:.1f} s")

    # -- 2. the write rate without a backup, during backups, without again -------------------------------
    load = ControlledLoad(system, [system.urls()[leader]], op="write", clients=CLIENTS)
    wgroups = {**groups, "loadgen": lambda: [load.proc.pid] if load.proc.poll() is None else []}
    cpus: list[dict] = []
    backups: list[Backup] = []
    load_file = workdir / "under-load.backup"
    try:
        time.sleep(p["warmup"])
        for period in ("before", "during", "after"):
            meter = CpuMeter(wgroups).start()
            start = time.monotonic()
            if period == "during":
                progress.note(f"{name}: writes during backups")
                while not backups or time.monotonic() - start < seconds:
                    backups.append(take_backup(url, token, load_file))
                start, end = backups[0].started, backups[-1].ended
            else:
                progress.note(f"{name}: writes, no backup ({period})")
                time.sleep(seconds)
                end = time.monotonic()
            cpus.append(meter.stop())
            load.add_window(start, end)
            progress.step(f"{name}: writes {period} backups")
    finally:
        rep, _ = load.finish()
    bench.written += rep.get("ops_total", 0)
    windows = rep.get("windows") or []
    if len(windows) != 3:
        raise RuntimeError(f"the load generator reported {len(windows)} windows, not 3: {rep}")
    for period, w, c in zip(("before", "during", "after"), windows, cpus, strict=True):
        figure = "writes during a backup" if period == "during" else f"writes, no backup ({period})"
        if period == "during":
            c = {**c, "client": round(sum(b.client_cpu_s for b in backups), 2)}
            settings = (
                f"{CLIENTS} closed-loop clients writing to the leader while {len(backups)} backup(s) of the "
                f"follower ran one after the other: {w['seconds']:g} s, the first backup's start to the last "
                "one's end; the same load generator run as the rows before and after; CPU columns: the "
                f"cluster and the load generator (/proc), the `taskraft backup` processes apart: {c['client']:.1f} s"
            )
        else:
            settings = (
                f"{CLIENTS} closed-loop clients writing to the leader, {w['seconds']:g} s with no backup, "
                f"{period} the backups, in the same load generator run"
            )
        bench.rows.append(
            row(
                figure,
                name,
                clients=CLIENTS,
                value=w["ops_per_s"],
                unit="ops/s",
                p50=w["p50_ms"],
                p99=w["p99_ms"],
                errors=w["errors"],
                cpu=c,
                acked=w["ops"],
                settings=settings,
                ops=w["ops"],
                seconds=w["seconds"],
            )
        )
    walls = [b.wall_s for b in backups]
    last = backups[-1]
    bench.rows.append(
        row(
            "backup under writes",
            name,
            clients=CLIENTS,
            value=statistics.median(walls),
            unit=f"s (median of {len(walls)})",
            settings=how + f"; while {CLIENTS} clients write",
            note="wall s: " + ", ".join(f"{x:.2f}" for x in walls) + f"; the last: {last.tasks:,} tasks, "
            f"{last.size / MB:.1f} MB, {last.tasks / last.wall_s:,.0f} tasks/s, index {last.index}; the "
            f"`taskraft backup` processes' CPU {sum(b.client_cpu_s for b in backups):.1f} s",
            walls=walls,
        )
    )
    load_file.unlink(missing_ok=True)

    # -- 3. a restore: `taskraft restore`, then a new cluster up from it -------------------------------
    restore(bench, system, idle_file, info, workdir / "restored")
    idle_file.unlink(missing_ok=True)


def restore(bench, system: Taskraft, backup: Path, info, rdir: Path) -> None:
    from .suite import row

    name = system.name
    bench.progress.note(f"{name}: restoring the backup into a new cluster")
    t0 = time.monotonic()
    proc = subprocess.run(
        taskraft_cli("restore", str(backup), "--data-dir", str(rdir)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    t1 = time.monotonic()
    if proc.returncode != 0:
        raise RuntimeError(f"taskraft restore failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")
    cluster = LocalCluster(rdir, nodes=3, port_base=free_port_base(3), extra_env=system.extra_env)
    restored = Taskraft.bound(cluster, system.extra_env)
    meter = CpuMeter(restored.cpu_groups()).start()
    t2 = time.monotonic()
    try:
        cluster.start(wait=1800)
        leader = cluster.wait_leader(120)
        t3 = time.monotonic()
        cpu = meter.stop()
        view = cluster.cluster_view(leader) or {}
        held = task_count(cluster, leader)
    finally:
        cluster.stop()
        shutil.rmtree(rdir, ignore_errors=True)
    if held != info.tasks or view.get("last_applied", 0) < info.applied_index:
        raise RuntimeError(
            f"the restored cluster holds {held} tasks at applied index {view.get('last_applied')}; "
            f"the backup: {info.tasks} tasks at index {info.applied_index}"
        )
    empty = bench.settings.get(name, {}).get("start_s")
    bench.rows.append(
        row(
            "restore: taskraft restore",
            name,
            value=t1 - t0,
            unit="s",
            settings=f"`taskraft restore FILE --data-dir DIR` of the idle backup ({info.tasks:,} tasks, "
            f"{info.size / MB:.1f} MB): checks the whole file, copies it into DIR",
        )
    )
    bench.rows.append(
        row(
            "restore: a new cluster up from it",
            name,
            value=t3 - t2,
            unit="s (3 nodes ready, leader)",
            cpu=cpu,
            settings="LocalCluster(DIR) started as `taskraft cluster up --data-dir DIR` does: 3 new databases "
            "initialised and started, each node loads the backup before Raft starts; until every node's "
            "/readyz answers 200 and they agree on a leader; the measured cluster idle beside it",
            note=f"the leader then held {held:,} tasks at applied index {view.get('last_applied')} (the backup's: "
            f"{info.applied_index})" + (f"; an empty cluster's start in this run: {empty:g} s" if empty else ""),
            tasks=held,
        )
    )
    bench.progress.step(f"{name}: restore done")
