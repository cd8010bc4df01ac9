"""Recovery from a lost majority, as the runbook does it (docs/operations.md): two of three nodes are
lost for good; `taskraft cluster recover` makes the survivor a cluster of one; `cluster up --nodes 3`
adds the other two back empty. Every write acknowledged before the loss is kept, and all converge."""

from __future__ import annotations

import shutil
import signal

import pytest
import requests

from taskraft.localcluster.cluster import LocalCluster

from ..helpers import free_port_base, post_task, wait_converged
from .test_cluster_command import _taskraft, _up, _voters

pytestmark = pytest.mark.cluster


def test_two_of_three_lost_for_good_recover_grow_back_and_converge(tmp_path):
    base = free_port_base(3)
    urls = [f"http://127.0.0.1:{base + i}" for i in range(3)]
    proc, _ = _up(tmp_path, base)
    try:
        acked = {}
        for i in range(30):
            r = post_task(urls[i % 3], f"before the loss {i}")
            assert r.status_code == 201, r.text
            acked[r.json()["id"]] = f"before the loss {i}"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
    for lost in ("node-1", "node-2"):  # gone for good: disks and all
        shutil.rmtree(tmp_path / lost)

    recovered = _taskraft("cluster", "recover", "--data-dir", str(tmp_path), "--node", "node-0")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "node-0 is the only voter" in recovered.stdout

    proc, _ = _up(tmp_path, base, "--nodes", "3")
    try:
        assert len(_voters(urls[2])) == 3
        for task_id, title in acked.items():
            got = requests.get(f"{urls[2]}/api/v1/tasks/{task_id}", timeout=10)
            assert got.status_code == 200 and got.json()["title"] == title, got.text
        after = post_task(urls[1], "after the recovery")
        assert after.status_code == 201 and after.json()["id"] > max(acked)
        wait_converged(LocalCluster(tmp_path, nodes=3, port_base=base), [0, 1, 2], timeout=90)
        refused = _taskraft("cluster", "recover", "--data-dir", str(tmp_path), "--node", "node-1")
        assert refused.returncode != 0 and "is running" in refused.stderr, refused.stdout + refused.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0


def test_the_node_named_by_force_new_cluster_recovers_itself_at_start(tmp_path):
    """The Kubernetes path (recovery.forceNewCluster): the survivor's own start does the recovery."""
    c = LocalCluster(tmp_path, nodes=3, port_base=free_port_base(3))
    try:
        c.start(wait=180)
        leader = c.wait_leader(30)
        acked = [post_task(c.urls[leader], f"kept {i}").json()["id"] for i in range(10)]
        for i in (2, 1, 0):
            c.stop_node(i)
        for i in (1, 2):
            c.nodes[i].db.stop()
            shutil.rmtree(c.nodes[i].home)
        c.start_node(0, env={"TASKRAFT_FORCE_NEW_CLUSTER": "node-0"})
        c.wait_ready(90, nodes=[0])
        view = c.cluster_view(0)
        assert view["role"] == "leader" and view["configuration"]["voters"] == [c.nodes[0].raft_address]
        got = {t["id"] for t in requests.get(f"{c.urls[0]}/api/v1/tasks?limit=100", timeout=10).json()["items"]}
        assert set(acked) <= got
        assert post_task(c.urls[0], "alone now").status_code == 201
    finally:
        c.stop()
