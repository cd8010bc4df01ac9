"""`taskraft cluster up` and `taskraft cluster scale`: the local cluster's supervisor and its requests.

`up` runs in the foreground and owns every node process. On an existing data directory it starts
the nodes asked for: nodes that already held Raft state form the cluster again from their own logs;
new ones start empty and are added one at a time; members beyond the count are removed (and their
data set aside). `scale` asks the running supervisor for another count: it writes the request into
cluster.json, signals the supervisor (SIGHUP), and waits for the answer the supervisor writes back.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..consensus.cluster_record import locked_json
from .cluster import LocalCluster, read_manifest
from .scaling import scale

SCALE_KEY = "scale"  # in cluster.json: {"nodes": N, "state": "requested"|"done"|"failed", "message": ...}
RESCALE = threading.Event()  # set by SIGHUP (installed by `cluster up` before anything starts)


def had_raft_state(local: LocalCluster) -> list[int]:
    return [n.index for n in local.nodes if (n.raft_dir / "raft.journal").exists()]


def set_aside(data_dir: Path, nodes: int, say: Callable[[str], None], keep: int | None = None) -> None:
    """Data of nodes numbered `nodes` and above (removed members), except `keep`, moves aside: a node
    removed from the cluster must come back empty, never with its old log."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in sorted(data_dir.glob("node-*")):
        suffix = path.name.removeprefix("node-")
        if suffix.isdigit() and int(suffix) >= nodes and int(suffix) != keep:
            target = path.with_name(f"{path.name}.removed-{stamp}")
            shutil.move(str(path), str(target))
            say(f"{path.name} is no longer a member: its data moved to {target.name}")


def start(local: LocalCluster, say: Callable[[str], None]) -> int:
    """Start every node of `local`, make the members exactly its nodes; return the leader's index."""
    existing = had_raft_state(local)
    local.start(wait=0)
    if existing and len(existing) < len(local.nodes):
        local.wait_ready(180, nodes=existing)
        local.wait_leader(30, among=existing)
    else:
        local.wait_ready(180)
        local.wait_leader(30)
    if existing:
        scale(local, len(local.nodes), say)
        set_aside(local.data_dir, len(local.nodes), say)
    local.wait_ready(180)
    return local.wait_leader(30)


def serve(local: LocalCluster, stop: threading.Event, say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """The supervisor's loop: report exited nodes, carry out scale requests, until `stop`."""
    while not stop.is_set():
        stop.wait(1)
        for node in local.nodes:
            if node.process is not None and node.process.poll() is not None and node.pid:
                warn(f"{node.node_id} exited ({node.process.returncode}); see {node.log_path}")
                node.pid = None
                local.write_manifest()
        if RESCALE.is_set():
            RESCALE.clear()
            _carry_out(local, say)


def _carry_out(local: LocalCluster, say: Callable[[str], None]) -> None:
    with locked_json(local.manifest_path) as data:
        request = dict(data.get(SCALE_KEY) or {})
    if request.get("state") != "requested":
        return
    nodes = int(request["nodes"])
    say(f"scaling to {nodes} nodes ...")
    try:
        scale(local, nodes, say)
        set_aside(local.data_dir, nodes, say)
        outcome = {"nodes": nodes, "state": "done", "message": f"{nodes} voters"}
    except Exception as exc:  # reported to `cluster scale`, which prints it
        outcome = {"nodes": nodes, "state": "failed", "message": f"{type(exc).__name__}: {exc}"}
    say(f"scale: {outcome['state']}: {outcome['message']}")
    local.write_manifest()
    with locked_json(local.manifest_path) as data:
        data[SCALE_KEY] = outcome


def request_scale(data_dir: str, nodes: int, timeout: float) -> dict:
    """Ask the supervisor of `data_dir` to scale to `nodes`; its answer ({"state", "message"})."""
    manifest = read_manifest(data_dir)
    pid = manifest.get("supervisor_pid")
    if not pid or not _alive(int(pid)):
        raise RuntimeError(f"no `taskraft cluster up` runs for {data_dir}; start it with --nodes {nodes}")
    with locked_json(Path(data_dir) / "cluster.json") as data:
        data[SCALE_KEY] = {"nodes": nodes, "state": "requested"}
    os.kill(int(pid), signal.SIGHUP)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        answer = read_manifest(data_dir).get(SCALE_KEY) or {}
        if answer.get("state") in ("done", "failed"):
            return answer
        time.sleep(0.5)
    raise TimeoutError(f"the supervisor did not finish scaling within {timeout:g}s (it goes on)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
