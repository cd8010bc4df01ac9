"""The leader's reconciliation of members with the StatefulSet: the next step (pure), and the replica
count read through the real `kubernetes` client from the API emulator."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from taskraft.k8s_membership import StatefulSetMembership, next_step, ordinal

from ..conftest import missing_tool

REST = "taskraft-headless.ns.svc.cluster.local:7000"


def pod(i: int) -> str:
    return f"taskraft-{i}.{REST}"


def everyone_answers(_address: str) -> bool:
    return True


def test_ordinals_come_from_the_pod_name():
    assert ordinal(pod(12)) == 12 and ordinal("127.0.0.1:7000") == -1


def test_a_scale_up_adds_the_lowest_missing_pod_that_answers_one_at_a_time():
    members = {pod(0), pod(1), pod(2)}
    desired = [pod(i) for i in range(5)]
    assert next_step(desired, members, pod(0), everyone_answers) == ("add", pod(3))
    assert next_step(desired, members | {pod(3)}, pod(0), everyone_answers) == ("add", pod(4))
    assert next_step(desired, members, pod(0), lambda a: a != pod(3)) == ("add", pod(4))  # pod 3 not up yet
    assert next_step(desired, members, pod(0), lambda a: False) is None


def test_a_scale_down_removes_the_highest_ordinal_first_and_never_the_leader_itself():
    members = {pod(i) for i in range(5)}
    desired = [pod(i) for i in range(3)]
    assert next_step(desired, members, pod(0), everyone_answers) == ("remove", pod(4))
    assert next_step(desired, members - {pod(4)}, pod(0), everyone_answers) == ("remove", pod(3))
    assert next_step(desired, members, pod(4), everyone_answers) == ("remove", pod(3))  # pod 4 leads: next leader
    assert next_step(desired, {pod(0), pod(1), pod(2)}, pod(0), everyone_answers) is None


def test_additions_come_before_removals():
    assert next_step([pod(0), pod(1)], {pod(0), pod(2)}, pod(0), everyone_answers) == ("add", pod(1))


@pytest.fixture
def emulated_api():
    try:
        from kubernetes import client

        from .kmock_api import EmulatedKubernetes
    except ImportError as exc:
        missing_tool(f"kmock or the kubernetes client is not importable: {exc}")
    api = EmulatedKubernetes("ns", [], statefulset="taskraft").start()
    configuration = client.Configuration()
    configuration.host = api.url
    yield api, client.AppsV1Api(client.ApiClient(configuration))
    api.stop()


def test_the_desired_members_follow_the_statefulsets_replica_count(emulated_api):
    api, apps = emulated_api
    cfg = SimpleNamespace(statefulset="taskraft", pod_namespace="ns", raft_advertise=pod(1))
    members = StatefulSetMembership(SimpleNamespace(cfg=cfg), apps_api=apps)
    assert members.desired() == [pod(i) for i in range(3)]
    apps.patch_namespaced_stateful_set("taskraft", "ns", {"spec": {"replicas": 5}})  # kubectl scale --replicas=5
    assert members.desired() == [pod(i) for i in range(5)]
    apps.patch_namespaced_stateful_set("taskraft", "ns", {"spec": {"replicas": 3}})
    assert members.desired() == [pod(i) for i in range(3)]
    api.stop()
    assert members.desired() is None  # the API is gone: nothing is decided
