"""A follower commits only entries the leader has vouched for.

The handlers of a real RaftNode (PySyncObj underneath, our durable journal on disk) are driven by
hand with the messages a new leader sends, without ticking and without a network: the node is in
the situation the long fault run found, a former leader holding entries of its own term that no
other node has.
"""

from __future__ import annotations

import pytest

from taskraft import commands as c
from taskraft.consensus.pysyncobj_bridge import journaled_command
from taskraft.consensus.raft import RaftNode
from taskraft.consensus.status import status_from_pysyncobj
from taskraft.state.applier import Applier

from .configs import raft_config

OLD_TERM, NEW_TERM = 3, 4


def _command(title: str) -> bytes:
    """An entry as PySyncObj journals a call of the replicated apply_entry."""
    op = c.make_op(c.OP_CREATE, origin="n2", origin_addr="127.0.0.1:7002", args={"title": title})
    return journaled_command(c.make_entry([op]))


@pytest.fixture
def stale_leader(tmp_path):
    """A node whose log holds 1..3 (committed, term 1) and 4..8 (its own term, never committed)."""
    cfg = raft_config(["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"], 2, tmp_path)
    node = RaftNode(cfg, Applier(connect=lambda: None), auto_tick=False)
    journal = node.core.journal
    for index in (2, 3):
        journal.add(_command(f"committed {index}"), index, 1)
    for index in range(4, 9):
        journal.add(_command(f"alone {index}"), index, OLD_TERM)
    node.core.set_commit_index(3)
    node.core.set_term(OLD_TERM, None)
    leader = node.core.peers()[0]
    yield node, journal, leader
    node.destroy()


def test_a_snapshot_transfer_does_not_commit_the_followers_own_entries(stale_leader):
    node, journal, leader = stale_leader
    # The new leader has compacted past our divergence point, so it streams a snapshot. Its first
    # messages carry its commit index (far ahead) but no prevLogIdx and, while the snapshot is being
    # prepared, no data.
    for _ in range(3):
        node.core.receive(
            leader, {"type": "append_entries", "term": NEW_TERM, "commit_index": 500, "serialized": None}
        )
    assert node.core.raftCommitIndex == 3, "entries 4..8 were never committed by anyone"
    assert journal.getRaftCommitIndex() == 3
    assert node.core.leader_id == leader  # the message was still handled: we follow the new leader


def test_a_matching_append_still_commits_what_the_leader_sent(stale_leader):
    node, journal, leader = stale_leader
    entries = [(_command(f"leader {i}"), i, NEW_TERM) for i in (4, 5)]
    node.core.receive(
        leader,
        {
            "type": "append_entries",
            "term": NEW_TERM,
            "commit_index": 500,
            "entries": entries,
            "prevLogIdx": 3,
            "prevLogTerm": 1,
        },
    )
    # our own 4..8 are replaced by the leader's 4..5, and only those are committed
    assert [journal[i][2] for i in range(len(journal))] == [journal[0][2], 1, 1, NEW_TERM, NEW_TERM]
    assert node.core.raftCommitIndex == 5


def test_a_follower_whose_log_does_not_match_still_knows_how_far_behind_it_is(stale_leader):
    """Readiness compares the applied index with the LEADER's commit index: a follower whose log
    does not match yet keeps its own commit index, and looked caught up while far behind."""
    node, _journal, leader = stale_leader
    node.core.receive(
        leader,
        {"type": "append_entries", "term": NEW_TERM, "commit_index": 500, "entries": [], "prevLogIdx": 40,
         "prevLogTerm": NEW_TERM},
    )
    status = status_from_pysyncobj(node.core.getStatus(), "127.0.0.1:7002", ["127.0.0.1:7000", "127.0.0.1:7001"], 0)
    assert status.commit_index == 3
    assert status.leader_commit_index == 500
