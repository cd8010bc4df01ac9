"""An idle leader republishes its status only when something in it changes.

The time since each peer last answered changes every tick; it used to live in the status, so a
leader rebuilt, republished and re-exported its metrics on every tick of an idle cluster. It now sits
beside the status (RaftNode.last_contacts), fresh every tick.
"""

from __future__ import annotations

import time

import pytest

from taskraft.consensus.raft import RaftNode
from taskraft.state.applier import Applier

from ..helpers import free_port_base
from .configs import raft_config


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
    made = [RaftNode(raft_config(peers, i, tmp_path / f"n{i}"), Applier(connect=lambda: None)) for i in range(3)]
    yield made
    for node in made:
        node.destroy()


def test_an_idle_leader_keeps_one_status_while_its_last_contacts_stay_fresh(nodes):
    def settled():
        leaders = [n for n in nodes if n.status.is_leader]
        if len(leaders) != 1:
            return None
        leader = leaders[0]
        peers = leader.status.peers.values()
        caught_up = all(p["connected"] and p["match_index"] == leader.status.commit_index for p in peers)
        return leader if caught_up and len(leader.last_contacts()) == 2 else None

    leader = _wait(settled, 30, "a leader with both followers caught up")
    time.sleep(1.0)  # the formation's own entries settle

    seen = set()
    contacts = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        seen.add(id(leader.status))
        contacts.append(dict(leader.last_contacts()))
        time.sleep(0.01)

    assert len(seen) <= 2, f"an idle leader published {len(seen)} statuses in 1.5 s"
    assert len({tuple(sorted(c.items())) for c in contacts}) > 10, "last contacts must keep moving"
    assert all(value is not None and value < 1.0 for value in contacts[-1].values()), contacts[-1]
