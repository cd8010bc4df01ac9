"""Linearizable reads through ReadIndex on a real 3-node cluster: no log entry per read, every
acknowledged write seen on every node, and reads answered by a new leader before any write."""

from __future__ import annotations

import re

import pytest
import requests

from ..helpers import post_task, wait_converged, wait_until

pytestmark = pytest.mark.cluster


def _confirmed_rounds(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    found = re.search(r'^taskraft_read_index_rounds_total\{outcome="confirmed"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def _commit_index(c, i: int) -> int:
    view = c.cluster_view(i)
    assert view is not None
    return view["commit_index"]


def test_reads_see_every_acknowledged_write_and_append_nothing_to_the_log(fresh_cluster):
    c = fresh_cluster
    leader = c.wait_leader()
    for n in range(6):
        task = post_task(c.urls[n % 3], f"seen {n}").json()
        for url in c.urls:  # right after the acknowledgement, on every node, with no waiting
            got = requests.get(f"{url}/api/v1/tasks/{task['id']}", timeout=10)
            assert got.status_code == 200 and got.json()["title"] == f"seen {n}"
    wait_converged(c, [0, 1, 2])
    before, rounds_before = _commit_index(c, leader), _confirmed_rounds(c.urls[leader])
    for _ in range(20):
        for url in c.urls:
            assert requests.get(f"{url}/api/v1/tasks", timeout=10).status_code == 200
    assert _commit_index(c, leader) == before  # a read barrier through the log would add 60 entries
    assert _confirmed_rounds(c.urls[leader]) >= rounds_before + 20  # followers' reads are the leader's rounds too


def test_a_new_leader_answers_reads_before_any_write(fresh_cluster):
    """The read index of a leader fresh from an election is its own no-op entry, which PySyncObj applies
    without taskraft's state machine: the applier must still count it as applied, or reads wait forever."""
    c = fresh_cluster
    task = post_task(c.urls[0], "before the election").json()
    old = c.wait_leader()
    c.kill_node(old)
    survivors = [i for i in range(3) if i != old]
    new = c.wait_leader(15, among=survivors)
    for i in survivors:
        got = wait_until(
            lambda i=i: requests.get(f"{c.urls[i]}/api/v1/tasks/{task['id']}", timeout=10),
            30,
            message=f"a read on node-{i}",
        )
        assert got.status_code == 200 and got.json()["title"] == "before the election"
    view = c.cluster_view(new)
    assert view is not None and view["term"] >= 2
