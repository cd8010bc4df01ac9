"""Each node times out for an election within its own slice of the configured range.

Two followers left by a dead leader that draw from one shared range sometimes time out within a
few milliseconds of each other, both stand, and the vote splits (one failover in about 25 with
0.5-1.0 s: the slow rounds of the SIGKILL benchmark). Disjoint slices in peer-list order make the
order in which they stand certain.
"""

from __future__ import annotations

import time

import pytest

from taskraft.consensus.elections import election_timeout_range
from taskraft.consensus.raft import RaftNode
from taskraft.state.applier import Applier

from ..helpers import free_port_base
from .configs import raft_config


def _config(peers: list[str], i: int, data_dir, **timings):
    return raft_config(peers, i, data_dir / f"n{i}", secret="election-timeouts-test", **timings)


PEERS = ["10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"]


def test_the_slices_are_disjoint_in_peer_order_and_cover_the_range(tmp_path):
    ranges = [election_timeout_range(_config(PEERS, i, tmp_path, raft_min_timeout=0.5, raft_max_timeout=1.1))
              for i in range(3)]
    assert [bound for r in ranges for bound in r] == pytest.approx([0.5, 0.7, 0.7, 0.9, 0.9, 1.1])


def test_unranked_or_alone_a_node_draws_from_the_whole_range(tmp_path):
    unranked = _config(PEERS, 2, tmp_path, raft_min_timeout=0.5, raft_max_timeout=1.0, ranked_election_timeouts=False)
    assert election_timeout_range(unranked) == (0.5, 1.0)
    alone = _config(PEERS[:1], 0, tmp_path, raft_min_timeout=0.5, raft_max_timeout=1.0)
    assert election_timeout_range(alone) == (0.5, 1.0)


def test_after_a_leader_dies_the_surviving_slices_decide_who_stands_first(tmp_path):
    """Three real RaftNodes on loopback: kill the leader three times; each time the survivor with the
    lower slice becomes leader, in one election (term + 1)."""
    base = free_port_base(3)
    peers = [f"127.0.0.1:{base + i}" for i in range(3)]
    nodes = {}

    def start(i):
        nodes[i] = RaftNode(_config(peers, i, tmp_path), Applier(connect=lambda: None))

    def leader():
        leading = [i for i, n in nodes.items() if n.status.is_leader]
        return leading[0] if len(leading) == 1 else None

    def wait(predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value is not None:
                return value
            time.sleep(0.01)
        pytest.fail(f"timed out waiting for {what}")

    for i in range(3):
        start(i)
    try:
        for round_ in range(3):
            old = wait(leader, 20, "a leader")
            # every follower hears from this leader, so its election timer restarts at each heartbeat
            wait(lambda: all(n.status.leader == peers[old] for n in nodes.values()) or None, 10, "followers")
            time.sleep(0.5)  # a restarted follower's log matches the leader's after a heartbeat or two
            term = nodes[old].status.term
            nodes.pop(old).destroy()
            expected = min(nodes)  # the survivor whose slice comes first
            new = wait(leader, 10, f"a new leader after round {round_ + 1}")
            assert new == expected, f"round {round_ + 1}: node {new} won, expected node {expected}"
            assert nodes[new].status.term == term + 1, "the election took more than one round"
            start(old)
    finally:
        for node in nodes.values():
            node.destroy()
