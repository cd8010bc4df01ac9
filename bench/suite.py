"""The benchmark: every scenario of the performance issue, for taskraft and its baselines, in one run.

    bench/run [--quick] [--json FILE] [--only taskraft,etcd,galera] [--scenarios writes,reads,...]

Each system is started here on free loopback ports in a temporary directory and torn down afterwards; a
system whose server is not installed gets a "not installed" row and the others still run. All load comes
from one load generator (bench/loadgen.py), run as its own process so its CPU is counted apart.
Figures are printed as a table and never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from .procstat import CpuMeter, cpu_ms_per_op, rss_bytes
from .systems import SYSTEMS, Taskraft

REPO = Path(__file__).resolve().parent.parent
ALL_SCENARIOS = ("writes", "reads", "soak", "catchup", "backup", "failover", "graceful")

QUICK = {
    "seconds": 2.0,
    "warmup": 0.5,
    "read_seconds": 2.0,
    "read_clients": (16,),
    "rounds": 2,
    "catchup_tasks": 5_000,
    "backup_tasks": 5_000,
    "soak": 30.0,
    "failover_clients": 16,
}
FULL = {
    "seconds": 10.0,
    "warmup": 2.0,
    "read_seconds": 10.0,
    "read_clients": (16, 64),
    "rounds": 10,
    "catchup_tasks": 100_000,
    "backup_tasks": 100_000,
    "soak": 600.0,
    "failover_clients": 16,
}
WRITE_CLIENTS = (1, 16, 64)
CPU_PER_OP_NOTE = (
    "CPU ms/op: CPU ms of the system under test (its nodes and databases, not the load generator) per "
    "acknowledged operation, throughput rows only"
)


class Progress:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, file=sys.stderr, unit="step", dynamic_ncols=True)
            except ImportError:
                print("(tqdm not installed: no progress bar)", file=sys.stderr)

    def step(self, what: str, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.set_description(what[:60])
            self.bar.update(n)
        else:
            print(f"... {what}", file=sys.stderr, flush=True)

    def note(self, what: str) -> None:
        if self.bar is not None:
            self.bar.set_description(what[:60])
        else:
            print(f"... {what}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- load generator processes ------------------------------------------------------------------------------


def loadgen_cmd(system, urls, **kw) -> list[str]:
    cmd = [sys.executable, "-m", "bench.loadgen", "--kind", system.kind, "--urls", ",".join(urls)]
    for key, value in kw.items():
        if value is True:
            cmd.append("--" + key.replace("_", "-"))
        elif value is not None and value is not False:
            cmd += ["--" + key.replace("_", "-"), str(value)]
    return cmd


def loadgen_env(system) -> dict:
    """The load generator's environment: the local cluster's admin token as TASKRAFT_TOKEN, if it has one."""
    token = getattr(getattr(system, "cluster", None), "admin_token", None)
    return {**os.environ, "TASKRAFT_TOKEN": token} if token else dict(os.environ)


def run_loadgen(system, urls, **kw) -> tuple[dict, dict]:
    """Run one load generator to completion; its report and the CPU seconds of every process group."""
    meter = CpuMeter(system.cpu_groups()).start()
    limit = float(kw.get("duration") or 0) + float(kw.get("warmup") or 0) + 60
    if kw.get("count"):
        limit += 1800
    proc = subprocess.run(
        loadgen_cmd(system, urls, **kw),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=limit,
        env=loadgen_env(system),
    )
    cpu = meter.stop()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"load generator failed ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(lines[-1])
    cpu["loadgen"] = round(report["cpu_s"], 2)
    return report, cpu


class ControlledLoad:
    """A load generator in --control mode: marks (kill times) in, recovery windows out."""

    def __init__(self, system, urls, **kw):
        self.meter = CpuMeter(system.cpu_groups()).start()
        self.proc = subprocess.Popen(
            loadgen_cmd(system, urls, control=True, duration=0, warmup=0, **kw),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=loadgen_env(system),
        )
        self.events: list[dict] = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self.cond:
                    self.events.append(json.loads(line))
                    self.cond.notify_all()

    def mark(self, t: float) -> None:
        self.proc.stdin.write(f"mark {t!r}\n")
        self.proc.stdin.flush()

    def add_window(self, start: float, end: float) -> None:
        """Ask for the period [start, end) (time.monotonic values) to be counted apart in the report's windows."""
        self.proc.stdin.write(f"window {start!r} {end!r}\n")
        self.proc.stdin.flush()

    def window(self, mark: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e.get("event") == "recovered" and abs(e["mark"] - mark) < 1e-6:
                        return e["window_s"]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))
                self.meter.tick()

    def finish(self) -> tuple[dict, dict]:
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(60)
        self.reader.join(10)
        cpu = self.meter.stop()
        report = next((e for e in reversed(self.events) if e.get("event") == "report"), {})
        cpu["loadgen"] = round(report.get("cpu_s", 0.0), 2)
        return report, cpu


# -- rows ---------------------------------------------------------------------------------------------------


def row(
    figure,
    system,
    *,
    clients=None,
    value=None,
    unit="",
    p50=None,
    p99=None,
    errors=None,
    cpu=None,
    acked=None,
    settings="",
    note="",
    **extra,
) -> dict:
    """One row of the table. `acked`: the operations acknowledged while `cpu` was measured (throughput rows),
    from which the row's CPU milliseconds per acknowledged operation of the system under test is computed."""
    return {
        "figure": figure,
        "system": system,
        "clients": clients,
        "value": value,
        "unit": unit,
        "p50_ms": p50,
        "p99_ms": p99,
        "errors": errors,
        "ratio": None,
        "cpu_s": cpu or {},
        "acked": acked,
        "cpu_ms_per_op": cpu_ms_per_op(cpu or {}, acked),
        "settings": settings,
        "note": note,
        **extra,
    }


class Bench:
    def __init__(self, args):
        self.args = args
        self.p = QUICK if args.quick else FULL
        if args.seconds:
            self.p = {**self.p, "seconds": args.seconds, "read_seconds": args.seconds}
        if args.rounds:
            self.p = {**self.p, "rounds": args.rounds}
        if args.catchup_tasks:
            self.p = {**self.p, "catchup_tasks": args.catchup_tasks}
        if args.backup_tasks:
            self.p = {**self.p, "backup_tasks": args.backup_tasks}
        if args.soak:
            self.p = {**self.p, "soak": args.soak}
        self.only = [s for s in (args.only or ",".join(SYSTEMS)).split(",") if s]
        self.scenarios = [s for s in (args.scenarios or ",".join(ALL_SCENARIOS)).split(",") if s]
        self.rows: list[dict] = []
        self.profiles: list[dict] = []
        self.settings: dict = {}
        self.extra_env = dict(kv.split("=", 1) for kv in args.env)
        self.progress = Progress(self.plan_steps(), not args.no_progress)

    def plan_steps(self) -> int:
        n = 0
        for name in self.only:
            n += 2 + (len(WRITE_CLIENTS) if "writes" in self.scenarios else 0)
            if "reads" in self.scenarios:
                n += len(self.p["read_clients"]) * (2 if name == "taskraft" else 1)
            if name == "taskraft":
                n += sum(1 for s in ("soak", "catchup") if s in self.scenarios)
                n += 6 if "backup" in self.scenarios else 0  # fill, idle backup, 3 write periods, restore
                n += self.p["rounds"] * sum(1 for s in ("failover", "graceful") if s in self.scenarios)
            elif name == "etcd":
                n += self.p["rounds"] * (("failover" in self.scenarios) + ("graceful" in self.scenarios))
            elif name == "galera":
                n += self.p["rounds"] * ("failover" in self.scenarios) * (1 if self.args.quick else 2)
        return n

    # -- scenarios ------------------------------------------------------------------------------------------

    def writes(self, system) -> None:
        leader = system.leader()
        urls = [system.urls()[leader]]
        for clients in WRITE_CLIENTS:
            spy = None
            if self.args.profile and system.name == "taskraft" and clients == 64:
                spy = start_profile(system, leader, self.p["seconds"] + self.p["warmup"], self.args.profile)
            rep, cpu = run_loadgen(
                system, urls, op="write", clients=clients, duration=self.p["seconds"], warmup=self.p["warmup"]
            )
            if spy is not None:
                self.profiles.append(finish_profile(*spy))
            self.written += rep["ops_total"]
            self.rows.append(
                row(
                    "writes",
                    system.name,
                    clients=clients,
                    value=rep["ops_per_s"],
                    unit="ops/s",
                    p50=rep["p50_ms"],
                    p99=rep["p99_ms"],
                    errors=rep["errors"],
                    cpu=cpu,
                    acked=rep["ops_total"],
                    settings=f"closed loop, {self.p['seconds']:g} s, "
                    + ("to the API (writing to g0)" if system.name == "galera" else "to the leader"),
                    seconds=rep["seconds"],
                )
            )
            self.progress.step(f"{system.name}: writes, {clients} clients")

    def reads(self, system) -> None:
        from . import reads_bench

        reads_bench.run(self, system)

    def failover(self, system, how: str, victim: str = "leader") -> None:
        """Kill (or SIGTERM) the leader under load, N rounds; window = kill -> first ack of a write sent after it."""
        rounds, windows, notes = self.p["rounds"], [], []
        load = ControlledLoad(
            system, system.urls(), op="write", clients=self.p["failover_clients"], timeout=5, probe_interval=0.02
        )
        try:
            time.sleep(1.5)
            for r in range(rounds):
                leader = system.leader()
                target = leader if victim == "leader" else (leader + 1) % 3
                time.sleep(1.0)
                t = time.monotonic()
                load.mark(t)
                if how == "SIGKILL":
                    system.kill(target)
                else:
                    system.terminate(target)
                w = load.window(t, 30.0)
                windows.append(w)
                system.restart(target)
                system.leader()
                self.progress.step(f"{system.name}: {how} round {r + 1}: {w if w is None else round(w, 3)} s")
        finally:
            rep, cpu = load.finish()
        ok = [w for w in windows if w is not None]
        if len(ok) < len(windows):
            notes.append(f"{len(windows) - len(ok)} round(s) without a write within 30 s")
        figure = {"SIGKILL": "failover, SIGKILL", "SIGTERM": "failover, SIGTERM"}[how]
        if victim != "leader":
            figure += " of another member"
        what = {"taskraft": "the leader", "etcd": "the leader", "galera": "the node the API writes to"}[system.name]
        if victim != "leader":
            what = "a member the API does not write to"
        self.rows.append(
            row(
                figure,
                system.name,
                clients=self.p["failover_clients"],
                value=statistics.median(ok) if ok else None,
                unit="s (median)",
                p50=statistics.median(ok) * 1000 if ok else None,
                p99=max(ok) * 1000 if ok else None,
                errors=rep.get("errors"),
                cpu=cpu,
                settings=f"{rounds} rounds, {how} {what}; window: signal -> first acknowledged write sent after it "
                f"({self.p['failover_clients']} closed-loop clients on every node + a fresh probe write every 20 ms)",
                note="; ".join(
                    notes
                    + [
                        "p99 column = max over rounds",
                        "windows s: " + ", ".join("-" if w is None else f"{w:.3f}" for w in windows),
                    ]
                ),
                windows=windows,
            )
        )

    def soak(self, system) -> None:
        seconds = self.p["soak"]
        load = ControlledLoad(system, [system.urls()[system.leader()]], op="write", clients=16)
        samples: list[tuple[float, list[int]]] = []
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < seconds:
                samples.append(
                    (time.monotonic() - t0, [sum(rss_bytes(p) for p in pids) for pids in system.node_rss_pids()])
                )
                load.meter.tick()
                time.sleep(1.0)
                self.progress.note(f"{system.name}: memory soak {time.monotonic() - t0:.0f}/{seconds:.0f} s")
        finally:
            rep, cpu = load.finish()
        self.written += rep.get("ops_total", 0)
        # compare the first sample after the first tenth of the soak (warm-up) with the last one
        start = next(s for s in samples if s[0] >= seconds * 0.1)[1]
        end = samples[-1][1]
        peak = [max(s[1][i] for s in samples) for i in range(len(end))]
        growth = [(e - s) / s * 100 if s else None for s, e in zip(start, end, strict=True)]
        self.rows.append(
            row(
                "memory per node, soak",
                system.name,
                clients=16,
                value=max(g for g in growth if g is not None),
                unit="% RSS growth (max node)",
                errors=rep.get("errors"),
                cpu=cpu,
                settings=f"{seconds:g} s of writes at 16 clients ({rep.get('ops_total', 0)} writes); "
                f"RSS of each node's processes from /proc, from t={seconds * 0.1:g} s to the end",
                note="MB start/end/peak per node: "
                + "; ".join(
                    f"{s / 2**20:.0f}/{e / 2**20:.0f}/{p / 2**20:.0f}" for s, e, p in zip(start, end, peak, strict=True)
                ),
                rss_start=start,
                rss_end=end,
                rss_peak=peak,
                soak_s=seconds,
            )
        )
        self.progress.step(f"{system.name}: memory soak done")

    def fill(self, system, target: int, what: str) -> None:
        """Write tasks (64 clients, to the leader) until this run has written `target`."""
        missing = max(0, target - self.written)
        if missing:
            self.progress.note(f"{system.name}: writing {missing} tasks for {what}")
            leader = system.leader()
            rep, _ = run_loadgen(
                system, [system.urls()[leader]], op="write", clients=64, count=missing, duration=0, warmup=0
            )
            self.written += rep["ops_total"]

    def catchup(self, system: Taskraft) -> None:
        self.fill(system, self.p["catchup_tasks"], "catch-up")
        cluster = system.cluster
        leader = system.leader()
        before = system.view(leader)
        follower = (leader + 1) % 3
        node = cluster.nodes[follower]
        meter = CpuMeter(system.cpu_groups()).start()
        t0 = time.monotonic()
        cluster.kill_node(follower)
        node.db.kill()
        shutil.rmtree(node.db.datadir, ignore_errors=True)
        shutil.rmtree(node.raft_dir, ignore_errors=True)
        cluster.start_db(follower)
        t1 = time.monotonic()
        cluster.start_node(follower)
        target_index = before["commit_index"]
        converged, view = None, None
        deadline = t1 + 600
        while time.monotonic() < deadline:
            view = system.view(follower)
            if view and view.get("last_applied", 0) >= target_index:
                converged = time.monotonic()
                break
            meter.tick()
            time.sleep(0.1)
        cpu = meter.stop()
        after = system.view(leader) or {}
        election = after.get("term") != before.get("term") or after.get("leader") != before.get("leader")
        self.rows.append(
            row(
                "catch-up of a wiped node",
                system.name,
                value=(converged - t1) if converged else None,
                unit="s (node start -> applied)",
                cpu=cpu,
                settings=f"cluster holds >= {self.written} tasks (commit index {target_index}); follower wiped "
                f"(database and Raft state), idle cluster",
                note=f"database re-init {t1 - t0:.1f} s (not included); "
                f"term {before.get('term')} -> {after.get('term')}; "
                f"election during catch-up: {'YES' if election else 'no'}"
                + ("" if converged else f"; not converged in 600 s (last view {view})"),
                election=election,
                term_before=before.get("term"),
                term_after=after.get("term"),
                tasks=self.written,
            )
        )
        self.progress.step(f"{system.name}: catch-up done")

    def backup(self, system: Taskraft, workdir: Path) -> None:
        from . import backup_bench

        backup_bench.run(self, system, workdir)

    # -- per system -----------------------------------------------------------------------------------------

    def run_system(self, name: str, tmp: Path) -> None:
        cls = SYSTEMS[name]
        why = cls.available()
        if why:
            self.rows.append(row("(all)", name, note=why))
            self.progress.step(f"{name}: {why}", 2)
            return
        system = cls(tmp, self.extra_env) if cls is Taskraft else cls(tmp)
        self.written = 0
        t = time.monotonic()
        try:
            self.progress.note(f"{name}: starting")
            system.start()
            self.settings[name] = {**system.settings(), "start_s": round(time.monotonic() - t, 1)}
            self.progress.step(f"{name}: started")
            sc = self.scenarios
            if "writes" in sc:
                self.writes(system)
            if "reads" in sc:
                self.reads(system)
            if name == "taskraft":
                if "soak" in sc:
                    self.soak(system)
                if "catchup" in sc:
                    self.catchup(system)
                if "backup" in sc:
                    self.backup(system, tmp / "backup")
            if "failover" in sc:
                self.failover(system, "SIGKILL")
                if name == "galera" and not self.args.quick:
                    self.failover(system, "SIGKILL", victim="other")
            if "graceful" in sc and name in ("taskraft", "etcd"):
                self.failover(system, "SIGTERM")
        except Exception as exc:  # one system's failure does not stop the others
            traceback.print_exc()
            self.rows.append(row("(error)", name, note=f"{type(exc).__name__}: {exc}"[:300]))
        finally:
            try:
                system.stop()
            except Exception:
                traceback.print_exc()
            self.progress.step(f"{name}: stopped")

    def run(self) -> dict:
        info = machine()
        started = time.time()
        with contextlib.ExitStack() as stack:
            if self.args.keep:
                tmp = Path(self.args.keep)
                tmp.mkdir(parents=True, exist_ok=True)
            else:
                tmp = Path(
                    stack.enter_context(
                        tempfile.TemporaryDirectory(prefix="taskraft-bench-", ignore_cleanup_errors=True)
                    )
                )
            for name in self.only:
                d = tmp / name
                d.mkdir(exist_ok=True)
                self.run_system(name, d)
        self.progress.close()
        compute_ratios(self.rows)
        info["loadavg_end"] = os.getloadavg()
        return {
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "wall_s": round(time.time() - started, 1),
            "mode": "quick" if self.args.quick else "full",
            "params": self.p,
            "machine": info,
            "systems": self.settings,
            "rows": self.rows,
            "targets": targets(self.rows),
            "profiles": self.profiles,
        }


# -- profiles ----------------------------------------------------------------------------------------------


def start_profile(system, node: int, seconds: float, out_dir: str):
    """py-spy on a taskraft node's processes while a write run goes on; None when py-spy is missing."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.path.exists(spy):
        print("(py-spy not installed: no profile; pip install py-spy)", file=sys.stderr)
        return None
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    out = Path(out_dir) / f"taskraft-node{node}-writes64.collapsed"
    proc = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(system.cluster.nodes[node].pid),
            "--subprocesses",
            "--duration",
            str(int(seconds)),
            "--rate",
            "100",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, out


def finish_profile(proc, out: Path, top: int = 25) -> dict:
    """Summarise py-spy's collapsed stacks: the functions with the most samples, on the stack and on top."""
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    try:
        lines = out.read_text().splitlines()
    except OSError:
        return {"file": str(out), "error": "no output"}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")" if " (" in f else f
            for f in stack.split(";")
            if not f.startswith("process ")
        ]  # drop the process frames
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + n
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
    summary = {
        "file": str(out),
        "samples": total,
        "top_inclusive": [
            (f, round(100 * n / total, 1)) for f, n in sorted(inclusive.items(), key=lambda x: -x[1])[:top]
        ]
        if total
        else [],
        "top_self": [(f, round(100 * n / total, 1)) for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]]
        if total
        else [],
    }
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2))
    return summary


# -- ratios and targets ---------------------------------------------------------------------------------------


def _find(rows, figure, system, clients=None):
    for r in rows:
        if r["figure"] == figure and r["system"] == system and (clients is None or r["clients"] == clients):
            return r
    return None


def compute_ratios(rows) -> None:
    for r in rows:
        if r["value"] is None:
            continue
        if r["figure"] == "writes":
            if r["system"] == "taskraft":
                parts = []
                for base in ("galera", "etcd"):
                    b = _find(rows, "writes", base, r["clients"])
                    if b and b["value"]:
                        parts.append(f"{r['value'] / b['value']:.2f}x {base}")
                r["ratio"] = ", ".join(parts) or None
            else:
                r["ratio"] = "baseline"
        elif r["figure"] == "writes during a backup":
            without = [_find(rows, f"writes, no backup ({w})", r["system"], r["clients"]) for w in ("before", "after")]
            ops, seconds = sum(w["ops"] for w in without if w), sum(w["seconds"] for w in without if w)
            if ops and seconds:
                r["ratio"] = f"{r['value'] / (ops / seconds):.2f}x no backup"
        elif r["figure"].startswith("reads"):
            w = _find(rows, "writes", r["system"], r["clients"])
            parts = [f"{r['value'] / w['value']:.2f}x own writes"] if w and w["value"] else []
            if r["system"] == "taskraft" and r["figure"] == "reads (linearizable)":
                for base in ("galera", "etcd"):
                    b = _find(rows, r["figure"], base, r["clients"])
                    if b and b["value"]:
                        parts.append(f"{r['value'] / b['value']:.2f}x {base}")
            r["ratio"] = ", ".join(parts) or None
        elif r["figure"].startswith("failover") and r["system"] != "etcd":
            b = _find(rows, r["figure"], "etcd")
            if b and b["value"]:
                r["ratio"] = f"{r['value'] / b['value']:.2f}x etcd"
        elif r["figure"].startswith("failover"):
            r["ratio"] = "baseline"


def targets(rows) -> list[dict]:
    out = []

    def add(name, measured, ok):
        out.append({"target": name, "measured": measured, "met": ok})

    w64 = _find(rows, "writes", "taskraft", 64)
    for base, need in (("galera", 1.0), ("etcd", 0.5)):
        b = _find(rows, "writes", base, 64)
        if w64 and w64["value"] and b and b["value"]:
            ratio = w64["value"] / b["value"]
            add(
                f"writes, 64 clients >= {need}x {base}",
                f"{ratio:.2f}x ({w64['value']:.0f} vs {b['value']:.0f}/s)",
                ratio >= need,
            )
        else:
            add(f"writes, 64 clients >= {need}x {base}", "not measured", None)
    w1 = _find(rows, "writes", "taskraft", 1)
    if w1 and w1["p50_ms"] is not None:
        add(
            "write latency, 1 client: p50 <= 3 ms, p99 <= 15 ms",
            f"p50 {w1['p50_ms']:.1f} ms, p99 {w1['p99_ms']:.1f} ms",
            w1["p50_ms"] <= 3 and w1["p99_ms"] <= 15,
        )
    for cons, need in (("linearizable", 1.0), ("local", 2.0)):
        reads = [r for r in rows if r["figure"] == f"reads ({cons})" and r["system"] == "taskraft" and r["value"]]
        if reads:
            r = max(reads, key=lambda x: x["clients"])
            w = _find(rows, "writes", "taskraft", r["clients"])
            if w and w["value"]:
                ratio = r["value"] / w["value"]
                add(f"{cons} reads >= {need}x the write rate", f"{ratio:.2f}x at {r['clients']} clients", ratio >= need)
    f = _find(rows, "failover, SIGKILL", "taskraft")
    if f and f.get("windows"):
        ok = [w for w in f["windows"] if w is not None]
        n = len(f["windows"])
        met = bool(ok) and len(ok) == n and statistics.median(ok) <= 1.0 and max(ok) <= 1.5
        add(
            "SIGKILL failover: median <= 1.0 s, max <= 1.5 s",
            f"median {statistics.median(ok):.2f} s, max {max(ok):.2f} s over {n} rounds" if ok else "no recovery",
            met,
        )
    g = _find(rows, "failover, SIGTERM", "taskraft")
    if g and g.get("windows"):
        ok = [w for w in g["windows"] if w is not None]
        add(
            "SIGTERM failover <= 0.3 s",
            f"median {statistics.median(ok):.2f} s, max {max(ok):.2f} s" if ok else "none",
            bool(ok) and len(ok) == len(g["windows"]) and max(ok) <= 0.3,
        )
    c = _find(rows, "catch-up of a wiped node", "taskraft")
    if c:
        add(
            "wiped node converges <= 30 s with 100,000 tasks, no election",
            f"{c['value']:.1f} s with {c['tasks']} tasks, election: {'yes' if c['election'] else 'no'}"
            + (" (fewer tasks than the target's 100,000)" if c["tasks"] < 100_000 else "")
            if c["value"] is not None
            else "did not converge",
            None
            if c["tasks"] < 100_000 and c["value"] is not None and c["value"] <= 30 and not c["election"]
            else (c["value"] is not None and c["value"] <= 30 and not c["election"]),
        )
    m = _find(rows, "memory per node, soak", "taskraft")
    if m and m["value"] is not None:
        full = m.get("soak_s", 0) >= 600
        add(
            "memory flat within 10 % over a 10-minute soak",
            f"max growth {m['value']:.1f} % over {m.get('soak_s', 0):g} s"
            + ("" if full else " (shorter than the target's 10 minutes)"),
            (m["value"] <= 10) if full or m["value"] > 10 else None,
        )
    return out


# -- machine and output ---------------------------------------------------------------------------------------


def machine() -> dict:
    def read(path):
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in read("/proc/cpuinfo").splitlines() if ln.startswith("model name")),
        platform.processor(),
    )
    mem = next((ln.split()[1] for ln in read("/proc/meminfo").splitlines() if ln.startswith("MemTotal")), "0")
    disk = (
        subprocess.run(
            ["df", "-h", "--output=source,fstype,size", tempfile.gettempdir()], capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1:]
    )

    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    code = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--", "service"):
        code += " + uncommitted changes in service/"
    return {
        "code": code or "?",
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(int(mem) / 2**20, 1),
        "disk": disk[0] if disk else "?",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "os": (read("/etc/debian_version").strip() and f"Debian {read('/etc/debian_version').strip()}")
        or platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def table(result: dict) -> str:
    rows = result["rows"]
    head = [
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
    lines = []
    for r in rows:
        v = r["value"]
        vs = "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.2f}")
        c = r["cpu_s"]
        cpu = "/".join(fmt(c.get(k), ".1f") for k in ("nodes", "databases", "loadgen")) if c else "-"
        unit = r["unit"] if v is not None or not r["figure"].startswith("(") else r["note"][:60]
        lines.append(
            [
                r["figure"],
                r["system"],
                fmt(r["clients"], "d"),
                vs,
                unit,
                fmt(r["p50_ms"], ".1f"),
                fmt(r["p99_ms"], ".1f"),
                fmt(r["errors"], "d"),
                r["ratio"] or "",
                cpu,
                fmt(r.get("cpu_ms_per_op"), ".2f"),
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    out = ["  ".join(str(x).ljust(w) for x, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(x).ljust(w) for x, w in zip(ln, widths, strict=True)) for ln in lines]
    out.append("")
    out.append(CPU_PER_OP_NOTE)
    out.append("notes and settings per row:")
    for r in rows:
        extra = "; ".join(x for x in (r["settings"], r["note"]) if x)
        if extra:
            clients = "" if r["clients"] is None else f" / {r['clients']} clients"
            out.append(f"  {r['figure']} / {r['system']}{clients}: {extra}")
    out.append("")
    out.append("targets (issue 5):")
    for t in result["targets"]:
        mark = {True: "met", False: "NOT met", None: "n/a"}[t["met"]]
        out.append(f"  [{mark}] {t['target']}: {t['measured']}")
    for prof in result.get("profiles", []):
        out.append("")
        out.append(f"profile of the taskraft leader, 64-client writes ({prof.get('samples')} samples, {prof['file']}):")
        out.append("  on the stack (% of samples):")
        out += [f"    {pct:5.1f}  {f}" for f, pct in prof.get("top_inclusive", [])[:15]]
        out.append("  on top of the stack (% of samples):")
        out += [f"    {pct:5.1f}  {f}" for f, pct in prof.get("top_self", [])[:10]]
    out.append("")
    m = result["machine"]
    out.append(
        f"machine: {m['nproc']} cores, {m['cpu']}, {m['mem_gib']} GiB, {m['os']}, kernel {m['kernel']}, "
        f"disk {m['disk']}; load average at start {tuple(round(x, 1) for x in m['loadavg_start'])}, at end "
        f"{tuple(round(x, 1) for x in m['loadavg_end'])}"
    )
    out.append(f"code measured: {m.get('code', '?')} (taskraft nodes import it when they start)")
    out.append(f"mode: {result['mode']}, parameters: {json.dumps(result['params'])}, wall {result['wall_s']} s")
    for name, s in result["systems"].items():
        out.append(f"{name}: {json.dumps(s)}")
    return "\n".join(out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short runs (under about 4 minutes in all)")
    p.add_argument("--json", help="also write the results (rows, targets, machine, settings) to this file")
    p.add_argument("--only", help="comma-separated systems: " + ",".join(SYSTEMS))
    p.add_argument("--scenarios", help="comma-separated scenarios: " + ",".join(ALL_SCENARIOS))
    p.add_argument("--seconds", type=float, help="override the measured seconds of each throughput run")
    p.add_argument("--rounds", type=int, help="override the failover rounds")
    p.add_argument("--catchup-tasks", type=int, help="override the task count of the catch-up scenario")
    p.add_argument("--backup-tasks", type=int, help="override the task count of the backup scenario")
    p.add_argument("--soak", type=float, help="override the soak seconds")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="TASKRAFT_X=V",
        help="extra environment for taskraft nodes (repeatable), e.g. TASKRAFT_APPEND_ENTRIES_PERIOD=0.01",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--keep",
        metavar="DIR",
        help="run in DIR and keep it afterwards (node logs, databases) "
        "instead of a temporary directory; DIR must not hold an earlier run",
    )
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the taskraft leader during the 64-client writes; collapsed stacks and a summary go to DIR",
    )
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.keep and Path(args.keep).exists() and any(Path(args.keep).iterdir()):
        raise SystemExit(f"--keep {args.keep}: the directory is not empty")
    result = Bench(args).run()
    print(table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
