"""A rolling upgrade of the Raft wire: members speaking AES-GCM (TASKRAFT_WIRE=gcm, the default) beside members
forced to PySyncObj's Fernet wire (TASKRAFT_WIRE=fernet, what the previous release speaks).

Real node processes and MariaDB servers. The cluster starts all-fernet; node 0, then node 1, restart with the new
wire, as a StatefulSet rolling update restarts pods one by one. At every step writes through every node reach every
node, and the links that switch to gcm are the ones between two new members only.
"""

from __future__ import annotations

import pytest
import requests

from ..helpers import post_task, wait_converged, wait_until

pytestmark = pytest.mark.cluster

OLD, NEW = {"TASKRAFT_WIRE": "fernet"}, {"TASKRAFT_WIRE": "gcm"}


def _gcm_links(c, i: int) -> float:
    text = requests.get(f"{c.urls[i]}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("taskraft_raft_wire_gcm_links_total ")
    )


def _writes_everywhere(c, step: str) -> None:
    c.wait_leader(60)
    for i in range(3):
        r = post_task(c.urls[i], f"{step} via node {i}", timeout=20)
        assert r.status_code == 201, r.text
    wait_converged(c, [0, 1, 2])


def _upgrade(c, i: int) -> None:
    c.stop_node(i)
    c.start_node(i, env=NEW)
    c.wait_ready(120, nodes=[i])


@pytest.mark.parametrize("fresh_cluster", [OLD], indirect=True)
def test_new_wire_members_work_beside_old_ones(fresh_cluster):
    c = fresh_cluster
    _writes_everywhere(c, "all old")

    _upgrade(c, 0)  # one new member, two old: every link stays fernet
    _writes_everywhere(c, "node 0 new")
    assert [_gcm_links(c, i) for i in range(3)] == [0, 0, 0]

    _upgrade(c, 1)  # the link between nodes 0 and 1 switches to gcm; node 2's links stay fernet
    wait_until(lambda: _gcm_links(c, 0) >= 1 and _gcm_links(c, 1) >= 1, 30, message="nodes 0 and 1 on gcm")
    _writes_everywhere(c, "nodes 0 and 1 new")
    assert _gcm_links(c, 2) == 0

    leader = c.wait_leader(60)  # a leader change under the mixed wire: an old member may lead new ones and back
    c.stop_node(leader)
    c.start_node(leader, env=OLD if leader == 2 else NEW)
    c.wait_ready(120, nodes=[leader])
    _writes_everywhere(c, "after a leader change")
