"""Fixtures for tests whose nodes are separate hosts in network namespaces."""

from __future__ import annotations

import os

import pytest

from taskraft.localcluster import netns
from taskraft.localcluster.netns_cluster import NetnsCluster

from ..conftest import dump_logs
from ..helpers import require_netns


@pytest.fixture
def netns_cluster(tmp_path, request):
    require_netns("this separate-host test")
    lab = netns.NetnsLab(f"trt{os.getpid() % 10000}").create()
    cluster = NetnsCluster(tmp_path, lab, extra_env=getattr(request, "param", None))
    try:
        with netns.InNamespace(cluster.client):
            try:
                cluster.start(wait=180)
                cluster.wait_leader(30)
            except BaseException:
                dump_logs(cluster)
                raise
            yield cluster
            if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
                dump_logs(cluster)
            cluster.stop()
    finally:
        for node in cluster.nodes:  # whatever is left, before its namespace goes
            cluster.kill_node(node.index)
            node.db.kill()
        lab.destroy()
