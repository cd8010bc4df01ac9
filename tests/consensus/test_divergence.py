"""An append that would replace an applied entry with one of another term stops the node instead.

The handlers of a real RaftNode (PySyncObj, our journal on disk) are driven by hand, without a
network: entries 2..8 of term 1 are applied, then a "leader" sends entries that disagree.
"""

from __future__ import annotations

import pytest

from taskraft import commands as c
from taskraft.consensus.pysyncobj_bridge import journaled_command
from taskraft.consensus.raft import RaftNode
from taskraft.state.applier import Applier

from .configs import raft_config


def _entry(index: int, term: int):
    op = c.make_op(c.OP_CREATE, origin="n0", origin_addr="127.0.0.1:7300", args={"title": f"t{index}"})
    return (journaled_command(c.make_entry([op])), index, term)


@pytest.fixture
def follower(tmp_path):
    cfg = raft_config(["127.0.0.1:7300", "127.0.0.1:7301", "127.0.0.1:7302"], 2, tmp_path)
    node = RaftNode(cfg, Applier(connect=lambda: None), auto_tick=False)
    for index in range(2, 9):
        node.core.journal.add(*_entry(index, 1))
    node.core.set_term(2, None)
    node.core.set_commit_index(8)
    node.core.doTick(0)  # PySyncObj applies 2..8 (our applier only queues them)
    assert node.core.raftLastApplied == 8
    yield node, node.core.peers()[0]
    node.destroy()


def _append(node, leader, prev: int, prev_term: int, entries):
    node.core.receive(leader, {"type": "append_entries", "term": 2, "commit_index": 8, "prevLogIdx": prev,
                               "prevLogTerm": prev_term, "entries": entries})


def test_replacing_an_applied_entry_with_another_term_is_refused_and_reported(follower):
    node, leader = follower
    _append(node, leader, 5, 1, [_entry(6, 2), _entry(7, 2)])
    assert node.diverged and "applied entry 6 (term 1)" in node.diverged
    assert [node.core.entry_term(i) for i in range(6, 9)] == [1, 1, 1], "PySyncObj truncated applied entries"
    _append(node, leader, 8, 1, [_entry(9, 2)])  # a diverged node takes nothing more
    assert node.core.log_last() == (8, 1)


def test_a_conflicting_prev_entry_below_the_applied_index_is_divergence_too(follower):
    node, leader = follower
    _append(node, leader, 7, 2, [])
    assert node.diverged and "applied entry 7" in node.diverged


def test_a_resend_of_the_same_entries_is_not_divergence(follower):
    node, leader = follower
    _append(node, leader, 5, 1, [_entry(6, 1), _entry(7, 1), _entry(8, 1), _entry(9, 2)])
    assert node.diverged is None
    assert node.core.log_last() == (9, 2)


def test_an_append_from_a_deposed_leader_is_no_divergence(follower):
    """Found by the long fault run: a leader of an older term, not yet aware it was deposed, sent its own
    (uncommitted) entries at indexes this node had applied from the newer leader. PySyncObj discards a
    message of an older term; the divergence check must not act on it (it rebuilt a healthy node)."""
    node, leader = follower
    node.core.set_term(3, None)
    _append(node, leader, 5, 1, [_entry(6, 2), _entry(7, 2)])  # term 2 < 3: stale
    assert node.diverged is None
    assert [node.core.entry_term(i) for i in range(6, 9)] == [1, 1, 1]
