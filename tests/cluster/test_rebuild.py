"""A node whose database diverged from the cluster's log stops, says why, and is rebuilt from the leader.

Real node processes and MariaDB servers. A follower's database is altered behind Raft's back while it
is down: the row an applied entry left in raft_log gets another term, and the task it made another
title. When the node replays its journal at restart, the applier finds the term mismatch, applies
nothing more, drops the node's Raft state and restarts its worker; the new worker empties its tables
and the leader rebuilds it. It ends with the same tables as the others, the altered task restored.
"""

from __future__ import annotations

import pytest

from ..helpers import node_db, post_task, wait_converged, wait_until

pytestmark = pytest.mark.cluster


def _sql(c, i: int, statement: str, args=()) -> list:
    conn = node_db(c, i)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return list(cur.fetchall())
    finally:
        conn.close()


def test_a_diverged_database_is_rebuilt_from_the_leader(fresh_cluster):
    c = fresh_cluster
    leader = c.wait_leader()
    follower = (leader + 1) % 3
    tasks = [post_task(c.urls[leader], f"task {n}").json() for n in range(10)]
    victim = tasks[4]
    wait_converged(c, [0, 1, 2])
    c.stop_node(follower)
    made_by = "SELECT log_index FROM raft_log WHERE task_id = %s AND op = 'create'"
    [(index,)] = _sql(c, follower, made_by, (victim["id"],))
    _sql(c, follower, "UPDATE raft_log SET term = term + 100 WHERE log_index = %s", (index,))
    _sql(c, follower, "UPDATE tasks SET title = 'diverged' WHERE task_id = %s", (victim["id"],))

    c.start_node(follower)
    log = c.nodes[follower].log_path
    wait_until(lambda: "rebuild: diverged" in log.read_text(), 60, message="the divergence found and reported")
    assert f"raft_log holds index {index} at term" in log.read_text()
    wait_until(lambda: "rebuild: replicated tables emptied" in log.read_text(), 60, message="tables emptied")
    c.wait_ready(90, nodes=[follower])
    wait_until(lambda: "rebuild: finished" in log.read_text(), 60, message="the rebuild to finish")
    wait_converged(c, [0, 1, 2], timeout=60)
    assert _sql(c, follower, "SELECT title FROM tasks WHERE task_id = %s", (victim["id"],)) == [("task 4",)]
    assert c.cluster_view(follower)["voting"]["can_vote"]
    assert post_task(c.urls[follower], "after the rebuild").status_code == 201
