"""A node that lost its disk never costs an acknowledged write (docs/architecture.md, "Identity and amnesia").

Real node processes, each with its own MariaDB. "Wiping" a node kills it and its database, deletes
both data directories and starts both again: the node comes back under the same name with an empty
Raft log, as a pod does after its volume was lost. Each case counts the acknowledged writes and
checks that all of them survive, on every node, and that every node converges to identical tables.
"""

from __future__ import annotations

import time

import pytest
import requests

from ..helpers import Writers, post_task, task_titles, wait_converged, wait_until

pytestmark = pytest.mark.cluster


def _write(c, i: int, prefix: str, count: int) -> dict[int, str]:
    acked = {}
    for n in range(count):
        r = post_task(c.urls[i], f"{prefix}-{n}", timeout=10)
        assert r.status_code == 201, r.text
        acked[r.json()["id"]] = f"{prefix}-{n}"
    return acked


def _assert_all_there(c, acked: dict[int, str], nodes=(0, 1, 2)) -> None:
    """Every acknowledged write, with its own title, on every node and through the API."""
    for i in nodes:
        wait_until(lambda i=i: acked.items() <= task_titles(c, i).items(), 60, message=f"acked writes on node-{i}")
    for task_id, title in acked.items():
        r = requests.get(f"{c.urls[nodes[0]]}/api/v1/tasks/{task_id}", timeout=10)
        assert r.status_code == 200 and r.json()["title"] == title, (task_id, title, r.text)


def _no_leader_for(c, nodes: list[int], seconds: float) -> None:
    """For `seconds`, none of `nodes` leads, and a write through them is refused (503) within the bound."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for i in nodes:
            view = c.cluster_view(i)
            assert view is None or view["role"] != "leader", f"node-{i} leads: {view}"
        time.sleep(0.2)
    started = time.monotonic()
    r = post_task(c.urls[nodes[0]], "must not be acknowledged", timeout=30)
    assert r.status_code == 503 and r.json()["error"]["code"] in ("no_quorum", "starting"), r.text
    assert time.monotonic() - started < 5 + 3  # the request timeout, never a hang


def _heal_and_check(c, acked: dict[int, str]) -> None:
    c.wait_ready(90)
    _assert_all_there(c, acked)
    wait_converged(c, [0, 1, 2], timeout=60)
    after = post_task(c.urls[0], "after the heal")
    assert after.status_code == 201
    assert after.json()["id"] > max(acked), "a task id was handed out twice"
    for i in range(3):
        assert c.cluster_view(i)["voting"]["can_vote"], f"node-{i} still cannot vote"


def test_the_double_fault_waits_for_the_node_that_holds_the_writes(fresh_cluster):
    """C lags; writes are acknowledged by A and B; A dies; B loses its disk. C must not lead on B's vote."""
    c = fresh_cluster
    a = c.wait_leader()
    b, lagging = [i for i in range(3) if i != a]
    acked = _write(c, a, "early", 5)
    c.pause_node(lagging)
    acked.update(_write(c, a, "acked-before", 30))
    c.kill_node(a)
    c.wipe_node(b)
    c.resume_node(lagging)
    _no_leader_for(c, [b, lagging], 6)
    c.start_node(a)
    _heal_and_check(c, acked)


def test_two_empty_nodes_found_no_new_cluster_while_the_third_is_down(fresh_cluster):
    c = fresh_cluster
    a = c.wait_leader()
    acked = _write(c, a, "before", 20)
    wait_converged(c, [0, 1, 2])
    c.kill_node(a)
    empty = [i for i in range(3) if i != a]
    for i in empty:
        c.wipe_node(i)
    _no_leader_for(c, empty, 6)
    for i in empty:
        view = c.cluster_view(i)
        assert view["voting"] == {"can_vote": False, "reason": "catching up after a lost Raft state"}, view
        assert task_titles(c, i) == {}
    c.start_node(a)
    _heal_and_check(c, acked)


def test_two_volumes_lost_while_the_third_node_runs_heal_from_the_survivor(fresh_cluster):
    c = fresh_cluster
    a = c.wait_leader()
    acked = _write(c, a, "before", 20)
    for i in range(3):
        if i != a:
            c.wipe_node(i)
    _heal_and_check(c, acked)


def test_one_volume_lost_catches_up_votes_again_and_stalls_no_write(fresh_cluster):
    c = fresh_cluster
    leader = c.wait_leader()
    wiped = (leader + 1) % 3
    other = 3 - leader - wiped
    with Writers([c.urls[leader], c.urls[other]], clients=4) as writers:
        wait_until(lambda: len(writers.acked) >= 20, 30, message="writes before the wipe")
        wiped_at = time.monotonic()
        c.wipe_node(wiped)
        c.wait_ready(60, nodes=[wiped])
        wait_until(lambda: c.cluster_view(wiped)["voting"]["can_vote"], 30, message="the wiped node votes again")
        wait_until(lambda: writers.acks_after(wiped_at) >= 20, 30, message="writes during the catch-up")
    assert not writers.errors, writers.errors[:3]
    assert not [r for r in writers.retried if " 503 " in r], "a write was refused while two nodes were up"
    acked = {task_id: title for title, task_id in writers.acked.items()}
    # It votes again: with the leader gone, the other node needs the wiped node's vote (or leads on it).
    c.kill_node(leader)
    new_leader = c.wait_leader(20, among=[wiped, other])
    assert post_task(c.urls[new_leader], "elected with the wiped node").status_code == 201
    c.start_node(leader)
    _heal_and_check(c, acked)
