"""`GET /api/v1/cluster/nodes` on the in-memory node, and `cluster_overview.merge` on recorded views:
every member listed once with its own view, the leader at the highest term, lag and last contact,
unreachable members kept with what the answering node knows. Real nodes: tests/api/test_cluster_nodes.py."""

from __future__ import annotations

import threading

from taskraft.cluster_overview import merge
from taskraft.configuration import Configuration

A, B, C = "10.0.0.1:8180", "10.0.0.2:8180", "10.0.0.3:8180"
NAMES = {A: "node-a", B: "node-b", C: "node-c"}


def gatherings(client) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("taskraft_cluster_view_gatherings_total "):
            return float(line.split()[1])
    raise AssertionError("no taskraft_cluster_view_gatherings_total in /metrics")


def own_view(address, node_id, role, term, commit, applied, leader, nodes):
    return {
        "node_id": node_id,
        "raft_address": address,
        "role": role,
        "leader": leader,
        "leader_id": NAMES.get(leader),
        "term": term,
        "commit_index": commit,
        "last_applied": applied,
        "has_quorum": leader is not None,
        "voting": {"can_vote": True, "reason": None},
        "configuration": {"voters": [A, B, C], "learners": []},
        "nodes": nodes,
    }


def members(contact=None, api=True):
    contact = contact or {}
    return [
        {
            "node_id": NAMES[address],
            "raft_address": address,
            "api_url": f"http://{address.split(':')[0]}:8080" if api else None,
            "membership": "voter",
            "reachable": True,
            "can_vote": True,
            "last_contact_s": contact.get(address),
        }
        for address in (A, B, C)
    ]


def test_the_route_lists_the_members_and_keeps_the_answer_for_a_second(client, memory_node):
    memory_node.configuration = Configuration(frozenset([memory_node.raft_address, B]))
    before = gatherings(client)
    r = client.get("/api/v1/cluster/nodes")
    assert r.status_code == 200 and r.headers["X-Taskraft-Node"] == "node-0"
    view = r.get_json()
    assert view["node_id"] == "node-0" and view["leader_id"] == "node-0" and view["answering"] == 1
    me, other = view["nodes"]
    assert (me["node_id"], me["reachable"], me["role"], me["term"]) == ("node-0", True, "leader", 1)
    assert {"commit_index", "last_applied", "lag", "last_contact_s", "membership"} <= me.keys()
    assert (other["raft_address"], other["reachable"], other["role"]) == (B, False, None)
    assert other["error"] == "no API address registered yet"
    # many concurrent requests within the second: the one gathering already made answers them all
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(client.get("/api/v1/cluster/nodes"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(answers) == 8 and {a.get_json()["collected_at"] for a in answers} == {view["collected_at"]}
    assert gatherings(client) == before + 1


def test_merge_takes_each_members_own_view_and_the_leaders_contact_times():
    own = own_view(A, "node-a", "follower", 5, 40, 39, B, members())
    answers = {
        B: own_view(B, "node-b", "leader", 5, 42, 42, B, members({A: 0.02, C: 3.5})),
        C: "connection failed",
    }
    out = merge(own, answers, collected_at=1000.0)
    assert (out["node_id"], out["leader"], out["leader_id"], out["term"]) == ("node-a", B, "node-b", 5)
    assert out["collected_at"] == 1000.0 and out["answering"] == 2 and out["commit_index"] == 42
    a, b, c = out["nodes"]
    assert (a["node_id"], a["role"], a["commit_index"], a["last_applied"], a["lag"]) == (
        "node-a",
        "follower",
        40,
        39,
        3,
    )
    assert (b["node_id"], b["role"], b["lag"], b["last_contact_s"]) == ("node-b", "leader", 0, None)
    assert a["last_contact_s"] == 0.02 and a["reachable"] and b["reachable"]
    # the unreachable member: listed with what the answering node knows, and the leader's last contact
    assert (c["node_id"], c["raft_address"], c["membership"], c["reachable"]) == ("node-c", C, "voter", False)
    assert c["role"] is None and c["term"] is None and c["lag"] is None and c["last_contact_s"] == 3.5
    assert c["error"] == "connection failed" and c["api_url"] == "http://10.0.0.3:8080"
    assert sum(1 for m in out["nodes"] if m["role"] == "leader") == 1


def test_merge_prefers_the_newest_term_for_the_leader():
    # A still believes in the old leader C (term 4); B was elected at term 5 and says so
    own = own_view(A, "node-a", "follower", 4, 10, 10, C, members())
    answers = {
        B: own_view(B, "node-b", "leader", 5, 11, 11, B, members()),
        C: own_view(C, "node-c", "leader", 4, 10, 10, C, members()),
    }
    out = merge(own, answers, collected_at=1.0)
    assert (out["leader"], out["leader_id"], out["term"]) == (B, "node-b", 5)
    assert [m["role"] for m in out["nodes"]] == ["follower", "leader", "leader"]  # each one's own claim


def test_merge_without_any_leader_and_with_a_member_not_registered():
    own = own_view(A, "node-a", "candidate", 7, 10, 10, None, members(api=False))
    out = merge(own, {B: "timed out", C: "no API address registered yet"}, collected_at=1.0)
    assert out["leader"] is None and out["leader_id"] is None and out["answering"] == 1
    assert [(m["node_id"], m["reachable"]) for m in out["nodes"]] == [
        ("node-a", True),
        ("node-b", False),
        ("node-c", False),
    ]
    assert [m.get("error") for m in out["nodes"]] == [None, "timed out", "no API address registered yet"]
