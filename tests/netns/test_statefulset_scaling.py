"""A StatefulSet's scaling, emulated: pods are hosts in network namespaces found by StatefulSet DNS names,
the Kubernetes API is an emulator on a host of its own, and the leader reconciles the members with
the StatefulSet's replica count (taskraft.k8s_membership), as on Kubernetes.

With writers running throughout, and every node's view sampled:
  - scale-up 3 -> 5: the StatefulSet count goes to 5 and pods 3 and 4 start at once (Parallel);
  - scale-down 5 -> 3: the count goes to 3 and pods 4 and 3 get SIGTERM together (highest first);
  - a rolling update: pods 2, 1, 0 in turn, each back and ready before the next;
  - scale-up 3 -> 5 again: pod 3 on the volumes it kept, pod 4 on new empty ones.
Checks: at most one leader per term, across configurations; every acknowledged write on every
member; the members converge; the members follow the count.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pytest

from taskraft.localcluster import netns
from taskraft.localcluster.netns_cluster import K8S_NAMESPACE, STATEFULSET, NetnsCluster

from ..conftest import dump_logs, missing_tool
from ..helpers import Writers, require_netns, task_ids, wait_converged, wait_until

pytestmark = pytest.mark.cluster


class Views:
    """Samples every node's view: which node claims leadership in which term."""

    def __init__(self, cluster: NetnsCluster):
        self.cluster = cluster
        self.leaders: dict[int, set[str]] = {}  # term -> nodes that said they lead in it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with netns.InNamespace(self.cluster.client):
            while not self._stop.is_set():
                for node in list(self.cluster.nodes):
                    view = self.cluster.cluster_view(node.index)
                    if view and view.get("role") == "leader":
                        self.leaders.setdefault(int(view["term"]), set()).add(node.node_id)
                time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def _voters(cluster: NetnsCluster, among: list[int]) -> list[str]:
    for i in among:
        view = cluster.cluster_view(i)
        if view and view.get("role") == "leader":
            return view["configuration"]["voters"]
    return []


@pytest.fixture
def scaled(tmp_path):
    require_netns("the StatefulSet emulation")
    try:
        from kubernetes import client

        from ..k8s.kmock_api import EmulatedKubernetes
    except ImportError as exc:
        missing_tool(f"kmock or the kubernetes client is not importable: {exc}")
    lab = netns.NetnsLab(f"trs{os.getpid() % 10000}").create()
    api_host = lab.add_host("kube-api", 250)
    pods = [f"{STATEFULSET}-{i}" for i in range(5)]
    api = EmulatedKubernetes(K8S_NAMESPACE, pods, statefulset=STATEFULSET, host=api_host, replicas=3).start()
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"KUBECONFIG": str(kubeconfig), "TASKRAFT_RECONCILE_MEMBERS": "true", "POD_NAMESPACE": K8S_NAMESPACE}
    cluster = NetnsCluster(tmp_path / "cluster", lab, extra_env=env)
    configuration = client.Configuration()
    configuration.host = api.url
    apps = client.AppsV1Api(client.ApiClient(configuration))
    try:
        with netns.InNamespace(cluster.client):
            cluster.start(wait=180)
            cluster.wait_leader(30)
            yield cluster, apps
    except BaseException:
        dump_logs(cluster, lines=60)
        raise
    finally:
        for node in cluster.nodes:
            cluster.kill_node(node.index)
            node.db.kill()
        api.stop()
        lab.destroy()


def test_scale_up_scale_down_and_a_rolling_update_under_writes(scaled):
    cluster, apps = scaled

    def scale(replicas: int) -> None:  # kubectl scale statefulset taskraft --replicas=N
        with netns.InNamespace(cluster.client):
            apps.patch_namespaced_stateful_set(STATEFULSET, K8S_NAMESPACE, {"spec": {"replicas": replicas}})

    urls = [cluster.nodes[i].url for i in range(3)]
    with Views(cluster) as views, Writers(urls, clients=4, prefix="sts") as writers:
        wait_until(lambda: len(writers.acked) >= 20, 60, message="writes before scaling")
        scale(5)
        cluster.add_node(), cluster.add_node()  # pods 3 and 4, at once
        wait_until(lambda: len(_voters(cluster, list(range(5)))) == 5, 180, message="five voters")
        cluster.wait_ready(120, nodes=[3, 4])
        scale(3)
        for i in (4, 3):  # highest ordinals first, together
            cluster.signal_node(i, signal.SIGTERM)
        wait_until(lambda: len(_voters(cluster, [0, 1, 2])) == 3, 180, message="back to three voters")
        for i in (4, 3):
            cluster.stop_node(i)
            cluster.nodes[i].db.stop()
        rolling = time.monotonic()
        for i in (2, 1, 0):  # a rolling update: one at a time, highest first, each ready before the next
            cluster.stop_node(i)
            cluster.start_node(i)
            cluster.wait_ready(120, nodes=[i])
        wait_until(lambda: writers.acks_after(rolling) >= 20, 60, message="writes during and after the update")
        # Scale up again: pod 3 comes back on the volumes it kept (its log stops where it was removed);
        # pod 4's volumes are gone, so it starts empty. Both are added back.
        shutil.rmtree(cluster.nodes[4].home)
        scale(5)
        for i in (3, 4):
            cluster.start_db(i)
            cluster.start_node(i)
        wait_until(lambda: len(_voters(cluster, list(range(5)))) == 5, 180, message="five voters again")
        cluster.wait_ready(120, nodes=[3, 4])
    assert writers.errors == [], writers.errors[:5]
    two = {term: nodes for term, nodes in views.leaders.items() if len(nodes) > 1}
    assert not two, f"two leaders in one term: {two}"
    assert sorted(_voters(cluster, list(range(5)))) == sorted(node.raft_address for node in cluster.nodes)
    acked = set(writers.acked.values())
    for i in range(5):
        wait_until(lambda i=i: acked <= task_ids(cluster, i), 90, message=f"every acknowledged write on node-{i}")
    wait_converged(cluster, list(range(5)), timeout=90)
