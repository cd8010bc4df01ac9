"""Membership changes through the log, with real node processes (docs/architecture.md, "Membership").

A new node starts, waits to be contacted, joins as a learner, catches up and is promoted to voter;
a member is removed; a restarted node takes its members from its log, never from its environment.
Writes run throughout, and every acknowledged one must be on every member at the end.
"""

from __future__ import annotations

import time

import pytest
import requests

from ..conftest import dump_logs, start_cluster
from ..helpers import Writers, wait_converged, wait_until

pytestmark = pytest.mark.cluster


@pytest.fixture
def growing_cluster(tmp_path, request):
    """Three nodes, on a port base with room for two more."""
    c = start_cluster(tmp_path, room=2)
    yield c
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        dump_logs(c, lines=80)
    c.stop()


def _members(c, i: int) -> dict[str, str]:
    view = requests.get(f"{c.urls[i]}/api/v1/cluster/members", timeout=5).json()
    return {m["raft_address"]: m["membership"] for m in view["members"]}


def _change(c, i: int, method: str, member: str) -> requests.Response:
    if method == "add":
        return requests.post(f"{c.urls[i]}/api/v1/cluster/members", json={"address": member}, timeout=15)
    return requests.delete(f"{c.urls[i]}/api/v1/cluster/members/{member}", timeout=15)


def _acked_everywhere(c, writers: Writers, nodes: list[int]) -> None:
    for i in nodes:
        wait_until(
            lambda i=i: all(
                requests.get(f"{c.urls[i]}/api/v1/tasks/{task_id}?consistency=local", timeout=5).status_code == 200
                for task_id in writers.acked.values()
            ),
            90,
            message=f"every acknowledged write on node-{i}",
        )


def test_a_node_joins_through_a_follower_while_one_voter_is_down_and_writes_never_fail(growing_cluster):
    c = growing_cluster
    leader = c.wait_leader()
    down, follower = [i for i in range(3) if i != leader]
    c.kill_node(down)
    with Writers([c.urls[leader], c.urls[follower]], clients=4, prefix="grow") as writers:
        # With a voter down, removing a live one would leave no quorum: refused, nothing changes.
        refused = _change(c, follower, "remove", c.nodes[leader].raft_address)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "would_lose_quorum", refused.text
        new = c.add_node()
        address = c.nodes[new].raft_address
        answer = _change(c, follower, "add", address)  # forwarded to the leader
        assert answer.status_code == 202, answer.text
        assert answer.json()["configuration"]["learners"] == [address]
        again = _change(c, leader, "add", address)
        assert again.status_code == 409 and again.json()["error"]["code"] in ("already_member", "change_in_progress")
        wait_until(lambda: _members(c, leader).get(address) == "voter", 120, message="the new node promoted")
        c.wait_ready(60, nodes=[new])
        acked_before_stop = len(writers.acked)
    assert writers.errors == [], writers.errors[:5]
    stalled = [r for r in writers.retried if "no_quorum" in r]
    assert stalled == [], f"writes waited for the learner: {stalled[:3]}"
    assert acked_before_stop > 0 and len(writers.acked) >= acked_before_stop
    # The learner never counted: with a voter down, no write waited for it (none failed for good above).
    assert _members(c, new)[address] == "voter"
    _acked_everywhere(c, writers, [leader, follower, new])
    wait_converged(c, [leader, follower, new], timeout=60)


def test_removed_members_and_a_restart_with_another_peer_list(growing_cluster):
    c = growing_cluster
    leader = c.wait_leader()
    gone = next(i for i in range(3) if i != leader)
    stay = next(i for i in range(3) if i not in (leader, gone))
    c.stop_node(gone)
    answer = _change(c, stay, "remove", c.nodes[gone].node_id)  # by node id, through a follower
    assert answer.status_code == 200, answer.text
    assert c.nodes[gone].raft_address not in answer.json()["configuration"]["voters"]
    missing = _change(c, leader, "remove", c.nodes[gone].raft_address)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_member"
    bad = _change(c, leader, "add", "no port here")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_address"
    with Writers([c.urls[leader], c.urls[stay]], clients=2, prefix="two") as writers:
        wait_until(lambda: len(writers.acked) >= 20, 60, message="writes on the two remaining voters")
    assert writers.errors == []
    # Restart the follower believing it is alone: were its peers taken from the environment, it would
    # elect itself at once. Its log says otherwise, so it follows the leader.
    c.stop_node(stay)
    c.start_node(stay, env={"TASKRAFT_PEERS": c.nodes[stay].raft_address})
    c.wait_ready(90, nodes=[stay])
    view = c.cluster_view(stay)
    assert view["role"] == "follower" and view["leader"] == c.nodes[leader].raft_address, view
    assert sorted(view["configuration"]["voters"]) == sorted([c.nodes[leader].raft_address, c.nodes[stay].raft_address])
    # Removing the leader hands leadership off first; the other member then leads a cluster of one.
    answer = _change(c, stay, "remove", c.nodes[leader].raft_address)
    assert answer.status_code == 200, answer.text
    assert answer.json()["configuration"]["voters"] == [c.nodes[stay].raft_address]
    assert c.wait_leader(30, among=[stay]) == stay
    after = requests.post(f"{c.urls[stay]}/api/v1/tasks", json={"title": "alone"}, timeout=15)
    assert after.status_code == 201, after.text
    _acked_everywhere(c, writers, [stay])


def test_a_node_replaying_a_configuration_without_the_leader_still_follows_it(growing_cluster):
    """Found by the long fault run: a node that lost its disk replays the log from the start; at an old
    configuration that lacked the current leader it cut its link to that leader and waited forever."""
    c = growing_cluster
    target = c.wait_leader()
    address = c.nodes[target].raft_address
    first, second = [i for i in range(3) if i != target]
    assert _change(c, first, "remove", address).status_code == 200  # it leads: it hands off first
    with Writers([c.urls[first], c.urls[second]], clients=4, prefix="out") as writers:
        wait_until(lambda: len(writers.acked) >= 600, 120, message="600 writes without it")  # several appends' worth
    c.wipe_node(target)  # a removed member comes back empty
    assert _change(c, first, "add", address).status_code == 202
    wait_until(lambda: _members(c, first).get(address) == "voter", 120, message="it is a voter again")
    current = c.wait_leader(30, among=[0, 1, 2])
    if current != target:  # make it lead: the leader hands off to the one follower it still hears
        bystander = next(i for i in range(3) if i not in (current, target))
        c.pause_node(bystander)
        c.stop_node(current)
        c.resume_node(bystander)
        c.start_node(current)
        c.wait_ready(90, nodes=[current])
    assert c.wait_leader(30, among=[0, 1, 2]) == target
    c.wipe_node(second)  # replays every entry, the configuration without the leader among them
    c.wait_ready(120, nodes=[second])
    _acked_everywhere(c, writers, [second])
    wait_converged(c, [0, 1, 2], timeout=90)


def test_a_member_back_on_its_old_volume_waits_to_be_added_instead_of_standing(growing_cluster):
    """Found by CI in the StatefulSet emulation: a member removed, then started again on the log it kept,
    believed it was still a voter and stood again and again; its term rose above the leader's, so it ignored
    the leader's appends once re-added, and never caught up. A node whose log lacks entries a peer reports
    committed cannot win, so it does not stand (consensus/elections.py)."""
    c = growing_cluster
    leader = c.wait_leader()
    new = c.add_node()
    address = c.nodes[new].raft_address
    assert _change(c, leader, "add", address).status_code == 202
    wait_until(lambda: _members(c, leader).get(address) == "voter", 120, message="the fourth node a voter")
    c.stop_node(new)  # its volume stays
    assert _change(c, leader, "remove", address).status_code == 200
    with Writers([c.urls[leader]], clients=4, prefix="without") as writers:
        wait_until(lambda: len(writers.acked) >= 300, 60, message="writes it does not have")
    term = c.cluster_view(leader)["term"]
    c.start_node(new)  # back on its old log, not a member: several election timeouts pass
    wait_until(lambda: c.cluster_view(new) is not None, 60, message="the returning node answers")
    time.sleep(4)
    view = c.cluster_view(new)
    assert view["role"] != "candidate" and view["term"] <= term, view
    assert _change(c, leader, "add", address).status_code == 202
    wait_until(lambda: _members(c, leader).get(address) == "voter", 120, message="it is a voter again")
    _acked_everywhere(c, writers, [new])
