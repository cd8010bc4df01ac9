"""Run the fault suite: a 3-node cluster on separate hosts, clients, a nemesis, then the checkers.

    lab + NetnsCluster in a temp dir  ->  workload threads + seeded nemesis for the profile's duration
    -> heal everything, restart what is down, quiesce (every node ready, same applied index)
    -> read the final state of every node straight from its database
    -> linearizability, durability, exactly_once, convergence, liveness  ->  JSON report + summary

Everything the run creates (namespaces, hosts files, node and MariaDB processes, the data dir) is
removed at the end, after a failure, and on SIGINT / SIGTERM. On a violation or an error the node
logs are copied next to the report first. The probe write and the nodes' own accounts between faults
are in probes.py, the final read in final_state.py, the report and its summary in report.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..localcluster import netns
from ..localcluster.netns_cluster import NetnsCluster
from . import checkers
from .final_state import read_final_state
from .history import History
from .nemesis import KINDS, Nemesis, schedule
from .probes import all_views, check_exited, probe_write, snapshot
from .report import LIVENESS_BOUND, build_report, summary
from .workload import Workload


@dataclass
class Profile:
    name: str
    duration: float  # seconds of faults
    clients: int = 10
    hot: int = 5
    settle: float = 5.0  # seconds of workload after the final heal
    must_cover: bool = False  # keep injecting until every kind ran once
    cover_grace: float = 90.0  # at most this long past `duration` to finish covering
    start_by: float | None = None  # no new fault after this many seconds of the whole run (a wall-time cap)


PROFILES = {
    # <= 5 minutes in all: ~10 s setup, <= ~3.5 min of faults, ~15 s of settle, quiesce and checks.
    "ci": Profile("ci", duration=160.0, must_cover=True, cover_grace=60.0, start_by=225.0),
    "long": Profile("long", duration=1800.0),
}


class SuiteUnavailable(RuntimeError):
    """This machine cannot run the suite (no network namespaces, no root, ...)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: everything is cleaned up on the way out."""


def _on_sigterm(signum, frame):
    raise Terminated(f"signal {signum}")


class Runner:
    def __init__(
        self,
        profile: str = "ci",
        *,
        duration: float | None = None,
        seed: int | None = None,
        report: str | os.PathLike | None = None,
        history: str | os.PathLike | None = None,
        work_dir: str | os.PathLike | None = None,
        keep_logs: bool = False,
        log=None,
    ):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        base = PROFILES[profile]
        self.profile = Profile(**{**base.__dict__, "duration": float(duration) if duration else base.duration})
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1, 10**6)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.report_path = Path(report) if report else Path(f"taskraft-faults-{profile}-{self.seed}-{stamp}.json")
        self.history_path = Path(history) if history else self.report_path.with_suffix(".history.jsonl")
        self.work_dir = work_dir
        self.keep_logs = keep_logs
        self._log = log or (lambda msg: print(msg, flush=True))
        self.t0 = time.monotonic()
        self.anomalies: list[dict] = []
        self.timings: dict[str, float] = {}

    def log(self, msg: str) -> None:
        self._log(f"[{time.monotonic() - self.t0:7.1f}s] {msg}")

    @property
    def replay(self) -> str:
        """The command that runs this run again."""
        p = self.profile
        duration = f" --duration {p.duration:g}" if p.duration != PROFILES[p.name].duration else ""
        return f"taskraft-faults run --profile {p.name} --seed {self.seed}{duration}"

    # -- the whole run ---------------------------------------------------------------------------

    def run(self) -> dict:
        ok, why = netns.available()
        if not ok:
            raise SuiteUnavailable(f"network namespaces unavailable: {why}")
        old_term = None
        if threading.current_thread() is threading.main_thread():
            old_term = signal.signal(signal.SIGTERM, _on_sigterm)
        tag = f"trf{os.getpid() % 10000}"
        data_dir = Path(tempfile.mkdtemp(prefix=f"taskraft-faults-{self.seed}-", dir=self.work_dir))
        lab = cluster = None
        report = None
        try:
            lab = netns.NetnsLab(tag).create()
            cluster = NetnsCluster(data_dir, lab)
            with netns.InNamespace(cluster.client):
                report = self._run_in_client(cluster)
            return report
        finally:
            if cluster is not None and (report is None or not report["ok"] or self.keep_logs):
                self._save_logs(cluster)
            if cluster is not None:
                for node in cluster.nodes:
                    try:
                        cluster.resume_node(node.index)
                        cluster.kill_node(node.index)
                    except Exception:
                        pass
                    try:
                        node.db.kill()
                    except Exception:
                        pass
            if lab is not None:
                lab.destroy()
            shutil.rmtree(data_dir, ignore_errors=True)
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)

    def _run_in_client(self, cluster: NetnsCluster) -> dict:
        p = self.profile
        self.log(
            f"profile {p.name}, seed {self.seed}, {p.duration:.0f}s of faults; starting 3 nodes in {cluster.data_dir}"
        )
        t = time.monotonic()
        cluster.start(wait=180)
        leader = cluster.wait_leader(60)
        self.timings["setup"] = time.monotonic() - t
        self.log(f"cluster ready in {self.timings['setup']:.1f}s, leader {cluster.nodes[leader].node_id}")

        history = History()
        self.history = history
        nemesis = Nemesis(cluster, log=self.log)
        workload = Workload(
            cluster.urls,
            cluster.client,
            history,
            clients=p.clients,
            hot=p.hot,
            seed=self.seed,
            headers=cluster.auth_headers,
        )
        self._probes = 0
        workload.start()
        t_faults = time.monotonic()
        covered: set[str] = set()
        try:
            for plan in schedule(p.name, self.seed):
                elapsed = time.monotonic() - t_faults
                if elapsed >= p.duration:
                    if not p.must_cover or covered >= set(KINDS) or elapsed >= p.duration + p.cover_grace:
                        break
                    if plan.kind in covered:
                        continue  # past the duration: only kinds not yet covered
                if p.start_by is not None and time.monotonic() - self.t0 > p.start_by:
                    self.log(f"wall-time cap: no new fault after {p.start_by:.0f}s")
                    break
                self._check_processes(nemesis, "before fault")
                rec = nemesis.run(plan)
                assert rec.end is not None and rec.heal is not None  # run() always ends and heals the fault
                covered.add(plan.kind)
                if rec.error:
                    self.anomalies.append({"kind": "nemesis_error", "fault": rec.seq, "error": rec.error})
                self._probes += 1
                rec.recovered = probe_write(cluster, history, self.seed, self._probes)
                rec.recovery = None if rec.recovered is None else round(rec.recovered - rec.heal, 3)
                rec.ready = self._wait_healthy(cluster, nemesis, rec.seq)
                if rec.ready is not None and rec.ready - rec.heal > LIVENESS_BOUND:
                    self.anomalies.append(
                        {
                            "kind": "slow_catch_up",
                            "fault": rec.seq,
                            "fault_kind": rec.kind,
                            "targets": rec.targets,
                            "seconds": round(rec.ready - rec.heal, 1),
                            "explanation": f"{rec.ready - rec.heal:.0f}s from the heal until every node was ready and "
                            f"had applied the leader's commit index (see the fault's slow_recovery)",
                        }
                    )
                self.log(
                    f"fault #{rec.seq} {rec.kind} {','.join(rec.targets)} held {rec.end - rec.start:.1f}s; "
                    f"write ok {rec.recovery if rec.recovery is not None else 'NEVER'}s after heal; "
                    f"all ready {'+%.1fs' % (rec.ready - rec.heal) if rec.ready else 'NO'}; "
                    f"ops {len(history.events()) // 2}"
                )
                for snap in rec.details.get("slow_recovery", [])[:3]:
                    self.log(
                        f"  slow recovery, +{snap['after']}s: "
                        + "; ".join(
                            f"{n}: {v['role']} t{v['term']} commit {v['commit_index']} "
                            f"applied {v['last_applied']} {v['ready_reasons']}"
                            for n, v in snap["nodes"].items()
                        )
                    )
                time.sleep(plan.gap)
        except BaseException:  # interrupted or a harness error: stop fast, the caller cleans up
            workload.stop(2)
            raise
        self.timings["faults"] = time.monotonic() - t_faults
        self.log("final heal")
        healed = nemesis.heal_all()
        final_heal = time.monotonic()
        if healed:
            self.log("  " + "; ".join(healed))
        time.sleep(p.settle)
        workload.stop(45)
        if workload.alive():
            self.anomalies.append({"kind": "client_stuck", "clients": workload.alive()})
        for err in workload.errors:
            self.anomalies.append({"kind": "client_error", "error": err})
        t = time.monotonic()
        quiesced = self._quiesce(cluster, nemesis)
        self.timings["quiesce"] = time.monotonic() - t
        end_time = time.monotonic()
        history.dump(self.history_path)

        t = time.monotonic()
        finals = read_final_state(cluster, self.anomalies)
        self.timings["final_state"] = time.monotonic() - t
        t = time.monotonic()
        heal_times = [r.heal for r in nemesis.records if r.heal is not None] + [final_heal]
        results = checkers.run_all(
            history.ops(),
            final_states=finals["tasks"],
            raft_logs=finals["raft_log"],
            checksums=finals["checksums"],
            applied_index=finals["applied_index"],
            heal_times=heal_times,
            liveness_bound=LIVENESS_BOUND,
            end_time=end_time,
        )
        self.timings["checks"] = time.monotonic() - t
        self.timings["total"] = time.monotonic() - self.t0
        report = build_report(self, history, nemesis, results, finals, quiesced)
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        self.report_path.write_text(json.dumps(report, indent=2, default=str))
        self._log(summary(report))
        return report

    # -- between faults --------------------------------------------------------------------------

    def _check_processes(self, nemesis: Nemesis, when: str) -> None:
        dead = nemesis.dead()
        if dead:
            self.anomalies.append({"kind": "unexpected_exit", "when": when, "time": time.monotonic(), "what": dead})
            self.log(f"  UNEXPECTED: {'; '.join(dead)}; restarting")
            nemesis.heal_all()

    def _wait_healthy(self, cluster: NetnsCluster, nemesis: Nemesis, seq: int, bound: float = 120.0) -> float | None:
        """Every node ready and caught up with the leader's commit index (so faults do not pile up
        into a data loss that no system could avoid, such as two wipes before a catch-up)."""
        start = time.monotonic()
        deadline = start + bound
        rec = nemesis.records[-1] if nemesis.records else None
        next_snapshot = start + 10.0
        try:
            target = None
            while time.monotonic() < deadline:
                if time.monotonic() >= next_snapshot and rec is not None:  # slow: record why
                    rec.details.setdefault("slow_recovery", []).append(snapshot(cluster, start))
                    next_snapshot += 10.0
                if not all(cluster.is_ready(i) for i in range(len(cluster.nodes))):
                    check_exited(cluster)
                    time.sleep(0.1)
                    continue
                views = all_views(cluster)
                if views is not None:
                    if target is None:
                        target = max(v["commit_index"] for v in views)
                    if all(v["last_applied"] >= target for v in views):
                        return time.monotonic()
                time.sleep(0.1)
            raise TimeoutError(f"nodes not ready and caught up (commit index {target}) within {bound}s")
        except (TimeoutError, RuntimeError) as exc:
            self.anomalies.append({"kind": "not_recovered", "fault": seq, "time": time.monotonic(), "error": str(exc)})
            self.log(f"  NOT RECOVERED after fault #{seq}: {exc}")
            self._check_processes(nemesis, f"after fault #{seq}")
            return None

    def _quiesce(self, cluster: NetnsCluster, nemesis: Nemesis, bound: float = 120.0) -> dict:
        """Wait until every node is ready and all report the same applied and commit index twice running."""
        self._check_processes(nemesis, "quiesce")
        deadline = time.monotonic() + bound
        last, stable = None, 0
        try:
            cluster.wait_ready(bound)
        except (TimeoutError, RuntimeError) as exc:
            self.anomalies.append({"kind": "quiesce_not_ready", "error": str(exc)})
        while time.monotonic() < deadline:
            views = all_views(cluster)
            if views is not None:
                now = tuple((v["last_applied"], v["commit_index"]) for v in views)
                if len(set(now)) == 1 and now == last:
                    stable += 1
                    if stable >= 2:
                        return {
                            "ok": True,
                            "applied_index": now[0][0],
                            "seconds": round(bound - (deadline - time.monotonic()), 3),
                        }
                else:
                    stable = 0
                last = now
            time.sleep(0.5)
        self.anomalies.append({"kind": "quiesce_timeout", "last": last})
        return {"ok": False, "last": last}

    # -- output ---------------------------------------------------------------------------------

    def _save_logs(self, cluster: NetnsCluster) -> None:
        dest = self.report_path.with_suffix(".logs")
        try:
            dest.mkdir(parents=True, exist_ok=True)
            for node in cluster.nodes:
                for src, name in (
                    (node.log_path, f"{node.node_id}.log"),
                    (node.db.log_path, f"{node.node_id}-mysqld.log"),
                ):
                    if Path(src).exists():
                        shutil.copy(src, dest / name)
            self._log(f"node logs saved in {dest}")
        except OSError as exc:
            self._log(f"could not save node logs: {exc}")


def run(profile: str = "ci", **kw) -> dict:
    return Runner(profile, **kw).run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0 if run(sys.argv[1] if len(sys.argv) > 1 else "ci")["ok"] else 1)
