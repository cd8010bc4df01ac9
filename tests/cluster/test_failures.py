"""Failures on a real 3-node cluster: leader crash, lost quorum, wiped node, graceful hand-off, restarts."""

from __future__ import annotations

import time

import pytest
import requests

from ..helpers import Writers, checksums, post_task, task_ids, wait_converged, wait_until

pytestmark = pytest.mark.cluster


def test_sigkill_leader_during_writes_loses_no_acknowledged_write(fresh_cluster):
    c = fresh_cluster
    old_leader = c.wait_leader()
    with Writers(c.urls, clients=6) as writers:
        wait_until(lambda: len(writers.acked) >= 30, 30, message="writes before the kill")
        killed_at = time.monotonic()
        c.kill_node(old_leader)
        survivors = [i for i in range(3) if i != old_leader]
        new_leader = c.wait_leader(15, among=survivors)
        wait_until(lambda: writers.acks_after(killed_at) >= 30, 30, message="writes after the kill")
    assert new_leader != old_leader
    assert not writers.errors, writers.errors[:3]
    acked_ids = set(writers.acked.values())
    assert len(acked_ids) == len(writers.acked)  # one task per acknowledged title: no duplicates
    for i in survivors:
        wait_until(lambda i=i: acked_ids <= task_ids(c, i), 30, message=f"acked writes on node-{i}")
    # the killed node comes back and converges to identical tables
    c.start_node(old_leader)
    c.wait_ready(60, nodes=[old_leader])
    wait_converged(c, [0, 1, 2], timeout=60)
    assert acked_ids <= task_ids(c, old_leader)


def test_without_quorum_writes_fail_fast_and_local_reads_answer(fresh_cluster):
    c = fresh_cluster
    leader = c.wait_leader()
    survivor = (leader + 1) % 3  # a follower: it must stop naming the dead leader
    url = c.urls[survivor]
    task = post_task(url, "before").json()
    for i in range(3):
        if i != survivor:
            c.kill_node(i)
    started = time.monotonic()
    r = post_task(url, "no quorum", timeout=30)
    elapsed = time.monotonic() - started
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "no_quorum"
    assert "Retry-After" in r.headers
    assert elapsed < 5 + 3  # the configured bound (5 s) plus slack, never a hang
    local = requests.get(f"{url}/api/v1/tasks/{task['id']}", params={"consistency": "local"}, timeout=10)
    assert local.status_code == 200 and local.json()["title"] == "before"
    lin = requests.get(f"{url}/api/v1/tasks/{task['id']}", timeout=30)
    assert lin.status_code == 503 and lin.json()["error"]["code"] == "no_quorum"
    ready = requests.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 503 and "no known leader" in ready.json()["reasons"]
    assert c.cluster_view(survivor)["leader"] is None
    for i in range(3):
        if i != survivor:
            c.start_node(i)
    c.wait_ready(60)
    assert post_task(url, "after").status_code == 201
    wait_converged(c, [0, 1, 2])


def _fill_then_wipe_a_follower(c, tasks: int) -> tuple[int, int]:
    """Write `tasks` tasks through every node, then wipe a follower; returns (leader, victim)."""
    for i in range(tasks):
        assert post_task(c.urls[i % 3], f"before wipe {i}").status_code == 201
    leader = c.wait_leader()
    victim = (leader + 1) % 3
    c.wipe_node(victim)
    return leader, victim


@pytest.mark.parametrize(
    "fresh_cluster",
    [{"TASKRAFT_LOG_COMPACTION_MIN_ENTRIES": "40", "TASKRAFT_COMPACTION_KEEP_ENTRIES": "10"}],
    indirect=True,
)
def test_wiped_node_rebuilds_from_a_snapshot_and_converges(fresh_cluster):
    c = fresh_cluster
    leader, victim = _fill_then_wipe_a_follower(c, 150)
    for i in range(20):
        assert post_task(c.urls[leader], f"after wipe {i}").status_code == 201
    c.wait_ready(90, nodes=[victim])
    sums = wait_converged(c, [0, 1, 2], timeout=90)
    assert sums == checksums(c, victim)
    assert len(task_ids(c, victim)) == 170
    # the journal was compacted, so the victim must have been rebuilt from a snapshot, not from the log
    assert "installed snapshot" in c.nodes[victim].log_path.read_text()
    # compaction only wrote markers; the tables were dumped when the victim had to be seeded
    leader_log = c.nodes[leader].log_path.read_text()
    assert "compaction marker at raft index" in leader_log
    assert "seeding a follower: dumping the tables" in leader_log


@pytest.mark.parametrize(
    "fresh_cluster",
    [{"TASKRAFT_LOG_COMPACTION_MIN_ENTRIES": "40", "TASKRAFT_COMPACTION_KEEP_ENTRIES": "60"}],
    indirect=True,
)
def test_a_follower_back_from_a_restart_catches_up_from_the_log_after_compactions(fresh_cluster):
    """Compaction keeps the last entries: a follower away while the leader compacted needs no dump."""
    c = fresh_cluster
    leader = c.wait_leader()
    follower = (leader + 1) % 3
    for i in range(60):
        assert post_task(c.urls[leader], f"before {i}").status_code == 201
    wait_converged(c, [0, 1, 2])
    c.stop_node(follower)
    # Past 40 + 60 entries the leader compacts: up to its last applied entry, the follower (60
    # behind at most) would be behind the log; 60 entries back, it is not.
    for i in range(50):
        assert post_task(c.urls[leader], f"while away {i}").status_code == 201
    leader_log = c.nodes[leader].log_path
    wait_until(lambda: "compaction marker at raft index" in leader_log.read_text(), 30, message="a compaction")
    c.start_node(follower)
    c.wait_ready(60, nodes=[follower])
    wait_converged(c, [0, 1, 2], timeout=60)
    assert len(task_ids(c, follower)) == 110
    assert "installed snapshot" not in c.nodes[follower].log_path.read_text()
    assert "seeding a follower" not in leader_log.read_text()


def test_sigterm_leader_hands_off_leadership_before_exiting(fresh_cluster):
    c = fresh_cluster
    leader = c.wait_leader()
    post_task(c.urls[leader], "before hand-off")
    term_before = c.cluster_view(leader)["term"]
    c.stop_node(leader)
    log = c.nodes[leader].log_path.read_text()
    assert "leadership handed off" in log, log[-2000:]
    survivors = [i for i in range(3) if i != leader]
    new_leader = c.wait_leader(5, among=survivors)
    assert new_leader != leader
    assert c.cluster_view(new_leader)["term"] > term_before
    assert post_task(c.urls[new_leader], "after hand-off").status_code == 201


def test_a_hand_off_under_writes_is_invisible_to_the_clients_of_the_other_nodes(fresh_cluster):
    c = fresh_cluster
    leader = c.wait_leader()
    survivors = [i for i in range(3) if i != leader]
    # The leader takes no new entry during the hand-off: the followers' forwarded writes are dropped
    # there and proposed again to the new leader. Their clients must not notice.
    with Writers([c.urls[i] for i in survivors], clients=6, prefix="h") as writers:
        wait_until(lambda: len(writers.acked) >= 30, 30, message="writes before the hand-off")
        stopped_at = time.monotonic()
        c.stop_node(leader)
        new_leader = c.wait_leader(10, among=survivors)
        wait_until(lambda: writers.acks_after(stopped_at) >= 30, 30, message="writes after the hand-off")
    assert "leadership handed off" in c.nodes[leader].log_path.read_text()
    assert new_leader in survivors
    assert not writers.errors, writers.errors[:3]
    assert not writers.retried, writers.retried[:3]
    acked_ids = set(writers.acked.values())
    assert len(acked_ids) == len(writers.acked)
    for i in survivors:
        wait_until(lambda i=i: acked_ids <= task_ids(c, i), 30, message=f"acked writes on node-{i}")


def test_restarting_all_three_keeps_the_data(fresh_cluster):
    c = fresh_cluster
    ids = {post_task(c.urls[i % 3], f"durable {i}").json()["id"] for i in range(20)}
    before = wait_converged(c, [0, 1, 2])
    for i in range(3):
        c.stop_node(i)
    for i in range(3):
        c.start_node(i)
    c.wait_ready(90)
    for url in c.urls:
        listed = requests.get(f"{url}/api/v1/tasks", params={"limit": 500}, timeout=10).json()["items"]
        assert ids <= {t["id"] for t in listed}
    assert wait_converged(c, [0, 1, 2])["tasks"] == before["tasks"]
    created = post_task(c.urls[1], "after restart").json()
    assert created["id"] == max(ids) + 1  # the id sequence continues from the replicated meta row


def test_node_whose_database_dies_goes_unready_and_catches_up(fresh_cluster):
    c = fresh_cluster
    leader = c.wait_leader()
    victim = (leader + 1) % 3
    c.kill_db(victim)
    wait_until(
        lambda: requests.get(f"{c.urls[victim]}/readyz", timeout=10).status_code == 503, 20, message="victim not ready"
    )
    titles = [f"while db down {i}" for i in range(10)]
    for t in titles:
        assert post_task(c.urls[leader], t).status_code == 201
    c.start_db(victim)
    c.wait_ready(60, nodes=[victim])
    wait_converged(c, [0, 1, 2])
    r = requests.get(f"{c.urls[victim]}/api/v1/tasks", params={"consistency": "local", "limit": 500}, timeout=10)
    assert set(titles) <= {t["title"] for t in r.json()["items"]}


def test_wiped_follower_without_snapshot_catches_up_from_the_log(fresh_cluster):
    """The leader remembers the wiped follower's old matchIndex; its rejections must still move
    nextIndex back to where the empty log can be filled (a wiped node once stayed at index 1)."""
    c = fresh_cluster
    _, victim = _fill_then_wipe_a_follower(c, 60)
    c.wait_ready(60, nodes=[victim])
    wait_converged(c, [0, 1, 2], timeout=60)
    assert len(task_ids(c, victim)) == 60
