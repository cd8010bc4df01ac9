"""The leader pod label, set by real nodes through the real `kubernetes` client against an API emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

from ..conftest import missing_tool, start_cluster
from ..helpers import post_task, wait_until

if TYPE_CHECKING:
    from .kmock_api import EmulatedKubernetes

ROLE = "taskraft.io/role"


def _leader_pods(api: EmulatedKubernetes) -> list[str]:
    return sorted(p for p, labels in api.labels().items() if labels.get(ROLE) == "leader")


@pytest.fixture
def labelled(tmp_path):
    try:
        from .kmock_api import EmulatedKubernetes
    except ImportError as exc:
        missing_tool(f"kmock (the Kubernetes API emulator, in the test extra) is not importable: {exc}")
    api = EmulatedKubernetes("default", [f"node-{i}" for i in range(3)]).start()
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cluster = start_cluster(
        tmp_path / "cluster",
        extra_env={"TASKRAFT_LABEL_POD_ROLE": "true", "KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": "default"},
    )
    yield cluster, api
    cluster.stop()
    api.stop()


def test_the_label_follows_the_leader(labelled):
    cluster, api = labelled
    leader = cluster.wait_leader()
    wait_until(lambda: _leader_pods(api) == [f"node-{leader}"], 20, message="leader label on the leader pod")
    cluster.kill_node(leader)  # the pod is gone; on Kubernetes it would be recreated without labels
    survivors = [i for i in range(3) if i != leader]
    new_leader = cluster.wait_leader(20, among=survivors)
    wait_until(lambda: f"node-{new_leader}" in _leader_pods(api), 20, message="label on the new leader")
    cluster.start_node(leader)  # back as a follower: it clears its stale label
    cluster.wait_ready(60, nodes=[leader])
    wait_until(lambda: _leader_pods(api) == [f"node-{new_leader}"], 20, message="exactly one leader label")


def test_an_unreachable_kubernetes_api_never_affects_serving(labelled):
    cluster, api = labelled
    leader = cluster.wait_leader()
    wait_until(lambda: _leader_pods(api) == [f"node-{leader}"], 20, message="leader label")
    term = cluster.cluster_view(leader)["term"]
    api.stop()
    for i in range(10):
        assert post_task(cluster.urls[i % 3], f"api down {i}").status_code == 201
    # a leader change while the API is down: labelling fails, serving goes on
    cluster.stop_node(leader)
    new_leader = cluster.wait_leader(20, among=[i for i in range(3) if i != leader])
    assert post_task(cluster.urls[new_leader], "still serving").status_code == 201
    assert requests.get(f"{cluster.urls[new_leader]}/readyz", timeout=5).status_code == 200
    assert cluster.cluster_view(new_leader)["term"] > term
    wait_until(lambda: "could not set pod label" in cluster.nodes[new_leader].log_path.read_text(), 20,
               message="the new leader tried, and failed, to label its pod")
    assert requests.get(f"{cluster.urls[new_leader]}/readyz", timeout=5).status_code == 200
