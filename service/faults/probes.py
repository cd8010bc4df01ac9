"""The fault suite's looks at the cluster between faults: a probe write, each node's own account of itself."""

from __future__ import annotations

import random
import time

import requests

from ..localcluster.netns_cluster import NetnsCluster
from .history import History


def probe_write(cluster: NetnsCluster, history: History, seed: int, n: int, bound: float = 60.0) -> float | None:
    """After a heal: create a task, retrying with one key over every node, until it is acknowledged (the
    time, on the monotonic clock) or refused (None). Probe `n` of the run starts on node n (mod the size)."""
    title = f"probe-s{seed}-{n}"
    key = f"probe-s{seed}-{n}-{random.getrandbits(32):08x}"
    body = {"title": title, "description": "liveness probe", "status": "todo"}
    op = history.invoke("liveness", "create", title=title, args=body, key=key, node=f"n{n % len(cluster.urls)}")
    deadline = time.monotonic() + bound
    attempts, i, last = 0, n, None  # start on a different node each time
    session = requests.Session()
    session.headers.update(cluster.auth_headers)
    while time.monotonic() < deadline:
        attempts += 1
        try:
            r = session.post(
                f"{cluster.urls[i % len(cluster.urls)]}/api/v1/tasks",
                json=body,
                headers={"Idempotency-Key": key},
                timeout=(1, 3),
            )
            if r.status_code == 201:
                history.ok(op, r.json(), attempts=attempts, task_id=r.json()["id"])
                return time.monotonic()
            last = f"http {r.status_code}"
            if 400 <= r.status_code < 500:
                history.fail(op, last, attempts=attempts)
                return None
        except requests.RequestException as exc:
            last = type(exc).__name__
        i += 1
        time.sleep(0.05)
    history.info(op, last, attempts=attempts)
    return None


def all_views(cluster: NetnsCluster) -> list[dict] | None:
    """Every node's Raft view (GET /api/v1/cluster), or None if a node did not answer."""
    views = [cluster.cluster_view(i) for i in range(len(cluster.nodes))]
    answered = [v for v in views if v]
    return answered if len(answered) == len(views) else None


def check_exited(cluster: NetnsCluster) -> None:
    for node in cluster.nodes:
        if node.process is not None and node.process.poll() is not None:
            raise RuntimeError(f"{node.node_id} exited with {node.process.returncode}; see {node.log_path}")


def snapshot(cluster: NetnsCluster, since: float) -> dict:
    """What each node says about itself: readiness reasons and its Raft view."""
    nodes = {}
    for i, node in enumerate(cluster.nodes):
        try:
            r = requests.get(node.url + "/readyz", timeout=1)
            reasons = r.json().get("reasons")
        except (requests.RequestException, ValueError) as exc:
            reasons = type(exc).__name__
        view = cluster.cluster_view(i) or {}
        nodes[node.node_id] = {
            "ready_reasons": reasons,
            **{k: view.get(k) for k in ("role", "leader_id", "term", "commit_index", "last_applied", "has_quorum")},
        }
    return {"after": round(time.monotonic() - since, 1), "nodes": nodes}
