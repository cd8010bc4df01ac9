"""A leader moves a lagging follower's nextIndex back once per rejection it acted on, not once per append in flight.

The handlers of a real RaftNode are driven by hand, without ticking and without a network: the node
is a leader whose follower restarted behind it. In batch mode the leader advances nextIndex when
it sends, so every append in flight when the follower fell behind comes back rejected, each
rejection naming the same index. Acting on each one made the leader send the same entries once per
rejection; the follower truncated and re-added entries it had already applied, and the first
commit after a leader change waited for the copies.
"""

from __future__ import annotations

import pytest

from taskraft.consensus.raft import RaftNode
from taskraft.state.applier import Applier

from .configs import raft_config

PEERS = ["127.0.0.1:7100", "127.0.0.1:7101", "127.0.0.1:7102"]


@pytest.fixture
def leader(tmp_path):
    node = RaftNode(raft_config(PEERS, 0, tmp_path), Applier(connect=lambda: None), auto_tick=False)
    for index in range(2, 41):
        node.core.journal.add(b"\x00", index, 1)
    node.core.set_term(2, None)
    node.core.become_leader()  # appends its no-op: the log ends at 41
    follower = node.core.peers()[0]
    yield node, follower
    node.destroy()


def _answer(node, follower, index, *, success):
    node.core.receive(
        follower, {"type": "next_node_idx", "next_node_idx": index, "reset": not success, "success": success}
    )
    return node.core.next_index(follower)


def _sent_everything(node, follower):
    """What sending appends does in batch mode: nextIndex moves past the last entry sent."""
    node.core.set_next_index(follower, node.core.log_last()[0] + 1)


def test_the_rejections_of_appends_already_in_flight_do_not_resend_the_same_entries(leader):
    node, follower = leader
    assert node.core.next_index(follower) == 41  # set before its no-op (41) was appended
    # the follower holds 1..20: it rejects the three appends in flight, each naming 21
    assert _answer(node, follower, 21, success=False) == 21
    _sent_everything(node, follower)  # 21..41 go out
    assert _answer(node, follower, 21, success=False) == 42, "a stale rejection sent 21..41 again"
    assert _answer(node, follower, 21, success=False) == 42
    # a stale rejection naming a later index (an append sent after a longer gap) is stale too
    assert _answer(node, follower, 30, success=False) == 42
    assert _answer(node, follower, 42, success=True) == 42
    assert node.core.match_index(follower) == 41


def test_a_rejection_below_the_resend_point_still_moves_the_leader_back(leader):
    node, follower = leader
    assert _answer(node, follower, 30, success=False) == 30
    _sent_everything(node, follower)
    # our resend from 30 conflicts with the follower's entry 29 (another term): it names 29
    assert _answer(node, follower, 29, success=False) == 29
    _sent_everything(node, follower)
    assert _answer(node, follower, 29, success=False) == 42  # stale again


def test_after_a_success_a_rejection_is_news(leader):
    """A follower that took our entries and then lost them (wiped, restarted) must be sent them again."""
    node, follower = leader
    assert _answer(node, follower, 21, success=False) == 21
    _sent_everything(node, follower)
    assert _answer(node, follower, 42, success=True) == 42
    assert _answer(node, follower, 21, success=False) == 21


def test_a_new_connection_forgets_the_old_ones_rejections(leader):
    node, follower = leader
    assert _answer(node, follower, 21, success=False) == 21
    _sent_everything(node, follower)
    node.core.link_changed(follower, False)
    node.core.link_changed(follower, True)
    assert _answer(node, follower, 21, success=False) == 21


def test_a_new_term_forgets_the_old_terms_rejections(leader):
    node, follower = leader
    assert _answer(node, follower, 21, success=False) == 21
    _sent_everything(node, follower)
    node.core.set_term(3, None)
    node.core.become_leader()
    assert node.core.next_index(follower) == 42
    assert _answer(node, follower, 21, success=False) == 21
