"""Two clusters never mix: a node that holds another cluster id is refused, and refuses in turn.

Real node processes and MariaDB servers. Node 2's Raft state is made to name another cluster (as a
pod of another release that kept a stale volume would): the others refuse its traffic and count it,
it takes no part and says why, and the cluster serves on with the two others.
"""

from __future__ import annotations

import json

import pytest
import requests

from taskraft.consensus.identity import FOREIGN

from ..helpers import post_task, wait_until

pytestmark = pytest.mark.cluster

STRANGER = "0123456789abcdef0123456789abcdef"


def _foreign_messages(c, i: int) -> float:
    text = requests.get(f"{c.urls[i]}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("taskraft_raft_foreign_messages_total{")
    )


def test_a_node_of_another_cluster_is_refused_and_takes_no_part(fresh_cluster):
    c = fresh_cluster
    record = json.loads((c.data_dir / "cluster.json").read_text())["cluster_id"]
    assert all(c.cluster_view(i)["cluster_id"] == record for i in range(3))
    stranger = 2 if c.wait_leader() != 2 else 1
    c.stop_node(stranger)
    identity = c.nodes[stranger].raft_dir / "raft.identity"
    identity.write_text(json.dumps({"cluster_id": STRANGER, "amnesiac": False}))
    c.start_node(stranger)

    wait_until(
        lambda: (c.cluster_view(stranger) or {}).get("voting", {}).get("reason") == FOREIGN,
        30,
        message="the stranger says why it takes no part",
    )
    others = [i for i in range(3) if i != stranger]
    wait_until(lambda: all(_foreign_messages(c, i) > 0 for i in others), 30, message="the others refuse it")
    assert "refusing Raft traffic from" in c.nodes[others[0]].log_path.read_text()
    assert f"belongs to cluster {STRANGER}" in c.nodes[stranger].log_path.read_text()
    ready = requests.get(f"{c.urls[stranger]}/readyz", timeout=5)
    assert ready.status_code == 503 and any(FOREIGN in r for r in ready.json()["reasons"])

    before = {i: c.cluster_view(i)["commit_index"] for i in others}
    for n in range(5):
        assert post_task(c.urls[others[n % 2]], f"served without the stranger {n}").status_code == 201
    view = c.cluster_view(stranger)
    assert view["role"] != "leader" and view["commit_index"] <= min(before.values()), "the stranger took entries"
