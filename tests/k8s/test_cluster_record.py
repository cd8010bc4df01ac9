"""The cluster record as a ConfigMap (TASKRAFT_CLUSTER_RECORD=configmap:NAME), written through the real
`kubernetes` client to an API emulator: first by ConfigMapRecord alone, then by the leader of a real
3-node cluster when it forms."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest

from ..conftest import dump_logs, missing_tool, start_cluster
from ..helpers import free_port, free_port_base, post_task, wait_until

if TYPE_CHECKING:
    from .kmock_api import EmulatedKubernetes

NAMESPACE = "default"
STATEFULSET = "taskraft"
RECORD = "taskraft-cluster"


def _emulator(pods: list[str], statefulset: str | None = STATEFULSET) -> EmulatedKubernetes:
    try:
        from .kmock_api import EmulatedKubernetes
    except ImportError as exc:
        missing_tool(f"kmock (the Kubernetes API emulator, in the test extra) is not importable: {exc}")
    return EmulatedKubernetes(NAMESPACE, pods, statefulset=statefulset).start()


@pytest.fixture
def api():
    emulated = _emulator([])
    yield emulated
    emulated.stop()


def _owner(config_map) -> tuple:
    (owner,) = config_map.metadata.owner_references
    return owner.api_version, owner.kind, owner.name, owner.uid


def test_configmap_record_is_created_owned_by_the_statefulset_then_patched(api):
    from taskraft.consensus.cluster_record import CONFIGMAP_KEY, ConfigMapRecord

    record = ConfigMapRecord(RECORD, NAMESPACE, STATEFULSET, api_client=api.api_client())
    assert record.read() is None
    assert api.config_map(RECORD) is None

    record.write("3f2a")
    created = api.config_map(RECORD)
    assert created.data == {CONFIGMAP_KEY: "3f2a"}
    assert _owner(created) == ("apps/v1", "StatefulSet", STATEFULSET, api.statefulset_uid)
    assert record.read() == "3f2a"

    # Another id: the ConfigMap exists (the create answers 409), so it is patched, its owner kept.
    record.write("77c0")
    patched = api.config_map(RECORD)
    assert patched.data == {CONFIGMAP_KEY: "77c0"}
    assert _owner(patched) == ("apps/v1", "StatefulSet", STATEFULSET, api.statefulset_uid)
    assert record.read() == "77c0"
    # A second reader, as a new leader would be, sees the same.
    assert ConfigMapRecord(RECORD, NAMESPACE, api_client=api.api_client()).read() == "77c0"


def test_configmap_record_without_its_statefulset_is_still_written():
    """No StatefulSet to own it (or no permission to read it): the record is written without an owner."""
    from taskraft.consensus.cluster_record import ConfigMapRecord

    api = _emulator([], statefulset=None)
    try:
        record = ConfigMapRecord(RECORD, NAMESPACE, STATEFULSET, api_client=api.api_client())
        record.write("3f2a")
        assert record.read() == "3f2a"
        assert not api.config_map(RECORD).metadata.owner_references
    finally:
        api.stop()


def test_an_unreachable_api_is_a_record_error():
    """The caller (formation) retries on RecordError; nothing else may escape."""
    from kubernetes import client

    from taskraft.consensus.cluster_record import ConfigMapRecord, RecordError

    conf = client.Configuration()
    conf.host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    conf.retries = 0
    record = ConfigMapRecord(RECORD, NAMESPACE, STATEFULSET, api_client=client.ApiClient(conf))
    with pytest.raises(RecordError):
        record.read()
    with pytest.raises(RecordError):
        record.write("3f2a")


@pytest.fixture
def recorded(tmp_path):
    api = _emulator([f"node-{i}" for i in range(3)])
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cluster = start_cluster(
        tmp_path / "cluster",
        extra_env={"TASKRAFT_CLUSTER_RECORD": f"configmap:{RECORD}", "KUBECONFIG": str(kubeconfig),
                   "POD_NAMESPACE": NAMESPACE, "TASKRAFT_STATEFULSET": STATEFULSET},
    )
    yield cluster, api
    cluster.stop()
    api.stop()


def _agreed_cluster_id(cluster) -> str | None:
    """The cluster id every node reports, once they all report the same one."""
    ids = {(cluster.cluster_view(i) or {}).get("cluster_id") for i in range(3)}
    return ids.pop() if len(ids) == 1 and None not in ids else None


def test_a_forming_cluster_records_its_id_in_the_configmap(recorded):
    cluster, api = recorded
    try:
        _forms_and_records(cluster, api)
    except BaseException:
        dump_logs(cluster, lines=60)
        raise


def _forms_and_records(cluster, api) -> None:
    from taskraft.consensus.cluster_record import CONFIGMAP_KEY, FILE_KEY

    cluster.wait_ready(60)
    cluster_id = wait_until(lambda: _agreed_cluster_id(cluster), 30, message="one cluster id reported by every node")
    config_map = api.config_map(RECORD)
    assert config_map is not None, "the leader wrote no ConfigMap"
    assert config_map.data == {CONFIGMAP_KEY: cluster_id}
    assert _owner(config_map) == ("apps/v1", "StatefulSet", STATEFULSET, api.statefulset_uid)
    # The ConfigMap replaced the local cluster's file record: the id is not written there.
    assert FILE_KEY not in json.loads(cluster.manifest_path.read_text())
    assert post_task(cluster.urls[0], "recorded").status_code == 201

    # Deleted by hand: the leader writes it again (formation checks the record every 10 s).
    api.delete_config_map(RECORD)
    rewritten = wait_until(lambda: api.config_map(RECORD), 30, interval=0.5, message="the record written again")
    assert rewritten.data == {CONFIGMAP_KEY: cluster_id}

    # What a pod that lost its volume gets from the kubelet: the recorded id as TASKRAFT_CLUSTER_ID.
    # The node knows it lost its Raft state, is caught up by the leader, then votes again, same cluster.
    leader = cluster.wait_leader()
    lost = (leader + 1) % 3
    node = cluster.nodes[lost]
    cluster.kill_node(lost)
    node.db.kill()
    shutil.rmtree(node.db.datadir, ignore_errors=True)
    shutil.rmtree(node.raft_dir, ignore_errors=True)
    cluster.start_db(lost)
    cluster.start_node(lost, env={"TASKRAFT_CLUSTER_ID": rewritten.data[CONFIGMAP_KEY]})
    wait_until(lambda: "lost its Raft state and the cluster record" in node.log_path.read_text(), 60,
               message=f"node-{lost} knows from TASKRAFT_CLUSTER_ID that it lost its Raft state")
    cluster.wait_ready(90, nodes=[lost])
    view = cluster.cluster_view(lost)
    assert view["voting"] == {"can_vote": True, "reason": None}
    assert view["cluster_id"] == cluster_id
    assert api.config_map(RECORD).data == {CONFIGMAP_KEY: cluster_id}


def test_a_record_without_an_owner_is_given_one(api):
    """A record written while the StatefulSet could not be read would outlive the release, and keep a
    reinstall with fresh volumes from forming: the leader's next check gives it its owner."""
    from taskraft.consensus.cluster_record import CONFIGMAP_KEY, ConfigMapRecord

    ConfigMapRecord(RECORD, NAMESPACE, None, api_client=api.api_client()).write("3f2a")
    assert not api.config_map(RECORD).metadata.owner_references
    record = ConfigMapRecord(RECORD, NAMESPACE, STATEFULSET, api_client=api.api_client())
    assert record.read() == "3f2a" and not record.owned()
    record.write("3f2a")
    assert record.owned()
    repaired = api.config_map(RECORD)
    assert repaired.data == {CONFIGMAP_KEY: "3f2a"}
    assert _owner(repaired) == ("apps/v1", "StatefulSet", STATEFULSET, api.statefulset_uid)


def test_a_record_that_cannot_be_reached_keeps_the_cluster_from_forming_and_says_why(tmp_path):
    """With no usable Kubernetes configuration the record cannot be written, so no id is committed and
    no write is taken; the formation keeps trying and /readyz names the error (it used to die silently)."""
    import requests

    from taskraft.localcluster.cluster import LocalCluster

    cluster = LocalCluster(tmp_path / "cluster", port_base=free_port_base(3),
                           extra_env={"TASKRAFT_CLUSTER_RECORD": f"configmap:{RECORD}",
                                      "KUBECONFIG": str(tmp_path / "absent"), "POD_NAMESPACE": NAMESPACE})
    try:
        cluster.start(wait=0)
        leader = cluster.wait_leader(60)

        def reasons():
            try:
                return " ".join(requests.get(f"{cluster.urls[leader]}/readyz", timeout=2).json()["reasons"])
            except (requests.RequestException, ValueError):
                return ""

        wait_until(lambda: "cannot read ConfigMap" in reasons(), 60, message="the record error in /readyz")
        assert post_task(cluster.urls[leader], "no record, no write", timeout=30).status_code == 503
        wait_until(lambda: "cannot read ConfigMap" in reasons(), 30, message="the formation still trying")
        assert "formation failed" not in cluster.nodes[leader].log_path.read_text()
    finally:
        cluster.stop()
