"""A leader's death is answered by one election, even after the followers' link sat idle.

Three real RaftNodes (PySyncObj, our durable journal, encrypted TCP on loopback) run in this
process; no MySQL is needed, the applier only queues. Two followers send each other nothing while
the leader lives. PySyncObj drops a link on which nothing was read for its connection timeout, and
checks that when it sends: without the link pings, the first candidate's vote request was dropped
with the link, and the election needed a second round (term + 2, twice the failover time).
"""

from __future__ import annotations

import time

import pytest

from taskraft.consensus.raft import RaftNode
from taskraft.state.applier import Applier

from ..helpers import free_port_base
from .configs import raft_config

CONNECTION_TIMEOUT = 2.0  # PySyncObj wants it >= the longest election timeout
# Election timeouts that never overlap: whichever node leads, of the two others the same one always
# times out first, so a single round is certain when its vote request arrives.
ELECTION_TIMEOUTS = [(0.3, 0.35), (0.8, 0.85), (1.5, 1.55)]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def nodes(tmp_path):
    base = free_port_base(3)
    peers = [f"127.0.0.1:{base + i}" for i in range(3)]
    made = []
    for i, (low, high) in enumerate(ELECTION_TIMEOUTS):
        cfg = raft_config(
            peers, i, tmp_path / f"n{i}", secret="idle-links-test", raft_min_timeout=low, raft_max_timeout=high,
            ranked_election_timeouts=False, connection_timeout=CONNECTION_TIMEOUT,
        )
        made.append(RaftNode(cfg, Applier(connect=lambda: None)))
    yield made
    for node in made:
        node.destroy()


def _leader(nodes):
    leaders = [n for n in nodes if n.status.is_leader]
    return leaders[0] if len(leaders) == 1 else None


def test_after_an_idle_spell_a_dead_leader_is_replaced_in_one_election(nodes):
    leader = _wait(lambda: _leader(nodes), 20, "a first leader")
    _wait(lambda: all(n.status.leader == leader.status.self_address for n in nodes), 10, "every node to follow it")
    term = leader.status.term

    # The followers' link carries nothing for several connection timeouts.
    time.sleep(2.5 * CONNECTION_TIMEOUT)

    leader.destroy()  # its sockets close: the followers see the leader vanish
    survivors = [n for n in nodes if n is not leader]
    successor = _wait(lambda: _leader(survivors), 20, "a new leader")
    _wait(lambda: all(n.status.leader == successor.status.self_address for n in survivors), 10, "agreement")

    assert successor.status.term == term + 1, (
        f"the election took {successor.status.term - term} rounds: the first vote request was lost"
    )
