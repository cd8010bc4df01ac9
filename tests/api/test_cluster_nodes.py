"""`GET /api/v1/cluster/nodes` on a real 3-node cluster: one node's answer lists every member with
that member's own role, term, commit and applied index; a member that stops answering stays listed
as unreachable; the gathering is cached (at most one per second per node, seen in its metric and in
`collected_at`) and never recurses (the peers' own gathering counters stay still)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from ..conftest import dump_logs, start_cluster
from ..helpers import wait_until

pytestmark = pytest.mark.cluster

NODES = "/api/v1/cluster/nodes"


def overview(url: str) -> dict:
    r = requests.get(url + NODES, timeout=5)  # the gathering waits at most about a second for its peers
    assert r.status_code == 200, r.text
    return r.json()


def gatherings(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=5).text
    line = next(line for line in text.splitlines() if line.startswith("taskraft_cluster_view_gatherings_total "))
    return float(line.split()[1])


def by_id(view: dict) -> dict[str, dict]:
    return {m["node_id"]: m for m in view["nodes"]}


def test_one_node_shows_every_members_own_view(tmp_path):
    c = start_cluster(tmp_path)
    try:
        leader = c.wait_leader(30)
        asked, other = (leader + 1) % 3, (leader + 2) % 3  # ask a follower; the other follower is stopped later
        url = c.urls[asked]

        def all_answer():
            view = overview(url)
            return view if view["answering"] == 3 and len(view["nodes"]) == 3 else None

        view = wait_until(all_answer, 30, interval=0.3, message="every member answering")
        assert view["node_id"] == f"node-{asked}" and view["leader_id"] == f"node-{leader}"
        members = by_id(view)
        assert sorted(members) == ["node-0", "node-1", "node-2"]
        assert [m["role"] for m in view["nodes"]].count("leader") == 1
        for i, node in enumerate(c.nodes):
            m = members[node.node_id]
            assert m["raft_address"] == node.raft_address and m["api_url"] == node.url
            assert m["membership"] == "voter" and m["reachable"] is True and "error" not in m
            assert m["role"] == ("leader" if i == leader else "follower")
            for field in ("term", "commit_index", "last_applied", "lag"):
                assert isinstance(m[field], int) and m[field] >= 0, (field, m)
            assert m["last_applied"] <= view["commit_index"] and m["lag"] == view["commit_index"] - m["last_applied"]
            # each member's own answer, not the asked node's idea of it
            own = requests.get(node.url + "/api/v1/cluster", timeout=5).json()
            assert (m["node_id"], m["role"], m["term"]) == (own["node_id"], own["role"], own["term"])
        assert members[f"node-{leader}"]["last_contact_s"] is None
        for i in (asked, other):  # the leader's seconds since it last heard from each follower
            assert 0 <= members[f"node-{i}"]["last_contact_s"] < 5

        # cached: every answer within the period is the same gathering; no peer gathered anything itself
        peers_before = {i: gatherings(c.urls[i]) for i in range(3) if i != asked}
        first = overview(url)
        assert overview(url)["collected_at"] == first["collected_at"]
        before, stop, answered = gatherings(url), time.monotonic() + 3.0, []

        def poll():
            while time.monotonic() < stop:
                answered.append(overview(url)["collected_at"])

        pollers = [threading.Thread(target=poll) for _ in range(8)]
        started = time.monotonic()
        for t in pollers:
            t.start()
        for t in pollers:
            t.join(20)
        took = time.monotonic() - started
        made = gatherings(url) - before
        assert len(answered) > 20, len(answered)  # eight clients polling without pause...
        assert 1 <= made <= took + 1, (made, took)  # ...cost at most one gathering per second
        assert len(set(answered)) == made or len(set(answered)) == made + 1  # the one before may still serve
        assert {i: gatherings(c.urls[i]) for i in peers_before} == peers_before  # no recursion

        # a follower that hangs (SIGSTOP) is reported unreachable within the short timeout
        c.pause_node(other)
        try:
            wait_until(
                lambda: not by_id(overview(url))[f"node-{other}"]["reachable"],
                10,
                interval=0.3,
                message="the paused follower listed as unreachable",
            )
            paused = by_id(overview(url))[f"node-{other}"]
            assert paused["error"] == "timed out" and paused["role"] is None
        finally:
            c.resume_node(other)
        wait_until(
            lambda: by_id(overview(url))[f"node-{other}"]["reachable"],
            15,
            interval=0.3,
            message="the resumed follower answering again",
        )

        # a follower killed: still listed, as unreachable, with what the asked node and the leader know
        c.kill_node(other)
        dead = wait_until(
            lambda: (lambda m: m if not m["reachable"] else None)(by_id(overview(url))[f"node-{other}"]),
            10,
            interval=0.3,
            message="the killed follower listed as unreachable",
        )
        assert dead["raft_address"] == c.nodes[other].raft_address and dead["api_url"] == c.nodes[other].url
        assert dead["membership"] == "voter" and dead["error"] == "connection failed"
        assert all(dead[f] is None for f in ("role", "term", "commit_index", "last_applied", "lag"))
        contact = wait_until(
            lambda: by_id(overview(url))[f"node-{other}"]["last_contact_s"] or None,
            10,
            interval=0.3,
            message="the leader's time since it last heard from the dead follower",
        )
        assert contact > 0
        view = overview(url)
        assert view["answering"] == 2 and len(view["nodes"]) == 3
        assert [m["role"] for m in view["nodes"] if m["reachable"]].count("leader") == 1
        assert view["leader_id"] == f"node-{leader}"
    except BaseException:
        dump_logs(c)
        raise
    finally:
        c.stop()
