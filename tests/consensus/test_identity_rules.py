"""The amnesia rules as pure logic (consensus/identity.py), without a network: what an amnesiac node
may do given what the other members reported, and that it persists what it must."""

from __future__ import annotations

import json

from taskraft.consensus.identity import CATCHING_UP, FOREIGN, Identity, PeerReport

ME, A, B = "n0:1", "n1:1", "n2:1"
MEMBERS = [ME, A, B]
CLUSTER = "c0ffee00c0ffee00"


def _report(term: int, last_index: int, last_term: int, *, cluster=CLUSTER, amnesiac=False) -> PeerReport:
    return PeerReport(cluster, term, last_index, last_term, 0, amnesiac)


def _amnesiac(tmp_path) -> Identity:
    identity = Identity(ME, MEMBERS, str(tmp_path / "raft.identity"), raft_state_lost=True, recorded_id=CLUSTER)
    assert identity.amnesiac and identity.voting() == (False, CATCHING_UP)
    return identity


def test_a_fresh_node_without_a_record_is_not_amnesiac(tmp_path):
    identity = Identity(ME, MEMBERS, str(tmp_path / "raft.identity"), raft_state_lost=True)
    assert not identity.amnesiac and identity.voting() == (True, None)
    assert identity.vote_refusal(A, 5, 1, 0) is None


def test_an_empty_node_learns_of_history_from_a_peer_before_it_took_part(tmp_path):
    identity = Identity(ME, MEMBERS, str(tmp_path / "raft.identity"), raft_state_lost=True)
    identity.on_report(A, _report(3, 40, 3))
    assert identity.amnesiac and identity.cluster_id == CLUSTER


def test_after_taking_part_a_report_of_history_changes_nothing(tmp_path):
    identity = Identity(ME, MEMBERS, str(tmp_path / "raft.identity"), raft_state_lost=True)
    identity.took_part()
    identity.on_report(A, _report(3, 40, 3))
    assert not identity.amnesiac


def test_no_vote_without_every_members_report(tmp_path):
    identity = _amnesiac(tmp_path)
    identity.on_report(A, _report(4, 10, 4))
    assert "no report yet from n2:1" in identity.vote_refusal(A, 5, 10, 4)


def test_the_vote_goes_only_to_a_log_as_up_to_date_as_every_report(tmp_path):
    identity = _amnesiac(tmp_path)
    identity.on_report(A, _report(4, 30, 4))  # A holds the acknowledged writes
    identity.on_report(B, _report(6, 12, 3))  # B lags, and stood twice
    assert "ends before n1:1" in identity.vote_refusal(B, 7, 12, 3)
    assert identity.vote_refusal(A, 7, 30, 4) is None
    assert identity.vote_refusal(A, 7, 31, 4) is None
    assert identity.vote_refusal(B, 7, 5, 5) is None  # a later last term beats a longer log


def test_no_vote_in_a_term_any_member_already_reached(tmp_path):
    identity = _amnesiac(tmp_path)
    identity.on_report(A, _report(4, 30, 4))
    identity.on_report(B, _report(6, 12, 3))
    assert "not above" in identity.vote_refusal(A, 6, 30, 4)


def test_the_term_floor_needs_a_majority_of_the_others(tmp_path):
    identity = _amnesiac(tmp_path)
    identity.on_report(A, _report(4, 30, 4))
    assert identity.term_floor() is None  # 1 of 2 others: not a majority of them
    identity.on_report(B, _report(6, 12, 3))
    assert identity.term_floor() == 6


def test_cured_only_at_an_entry_of_the_leaders_term_at_or_past_its_commit_at_first_contact(tmp_path):
    identity = _amnesiac(tmp_path)
    identity.note_contact(A, 7, 30)
    identity.note_contact(A, 7, 99)  # later appends of the same leader and term do not move the mark
    assert not identity.check_cured(7, 29, 7)
    assert not identity.check_cured(7, 30, 6)  # an entry of an earlier term: not yet vouched for
    assert not identity.check_cured(8, 30, 8)  # another term than the contact's
    assert identity.check_cured(7, 30, 7)
    assert identity.voting() == (True, None)
    stored = json.loads((tmp_path / "raft.identity").read_text())
    assert stored == {"cluster_id": CLUSTER, "amnesiac": False}


def test_amnesia_survives_a_restart(tmp_path):
    _amnesiac(tmp_path)
    again = Identity(ME, MEMBERS, str(tmp_path / "raft.identity"), raft_state_lost=False, recorded_id=CLUSTER)
    assert again.amnesiac, "a restart before the catch-up must keep the rules"


def test_a_peer_of_another_cluster_is_foreign(tmp_path):
    identity = Identity(ME, MEMBERS, str(tmp_path / "raft.identity"), raft_state_lost=False, recorded_id=CLUSTER)
    identity.on_report(A, _report(1, 1, 0, cluster="deadbeefdeadbeef"))
    identity.on_report(B, _report(1, 1, 0))
    assert identity.is_foreign(A) and not identity.is_foreign(B)


def test_a_node_whose_state_names_another_cluster_than_the_record_takes_no_part(tmp_path):
    path = tmp_path / "raft.identity"
    path.write_text(json.dumps({"cluster_id": "deadbeefdeadbeef", "amnesiac": False}))
    identity = Identity(ME, MEMBERS, str(path), raft_state_lost=False, recorded_id=CLUSTER)
    assert identity.conflict and identity.voting() == (False, FOREIGN)


def test_the_first_committed_id_stays(tmp_path):
    identity = Identity(ME, MEMBERS, str(tmp_path / "raft.identity"), raft_state_lost=False)
    identity.adopt(CLUSTER)
    identity.adopt("deadbeefdeadbeef")
    assert identity.cluster_id == CLUSTER
    assert json.loads((tmp_path / "raft.identity").read_text())["cluster_id"] == CLUSTER


def test_an_amnesiac_raft_node_never_stands_however_late_its_tick(tmp_path):
    """The election check is the first thing a tick does: the hold must be in place before it, not
    after (a tick that took longer than the election timeout, catching up with thousands of entries,
    once let a wiped node stand, and a candidate nobody heard at a higher term took no appends)."""
    from taskraft.consensus.pysyncobj_bridge import raft_clock
    from taskraft.consensus.raft import RaftNode
    from taskraft.state.applier import Applier

    from .configs import raft_config

    peers = ["127.0.0.1:7400", "127.0.0.1:7401", "127.0.0.1:7402"]
    cfg = raft_config(peers, 1, tmp_path)
    cfg = cfg.__class__(**{**cfg.__dict__, "cluster_id": CLUSTER})
    node = RaftNode(cfg, Applier(connect=lambda: None), auto_tick=False)
    try:
        assert node.identity.amnesiac

        def late_tick():
            node.core.link_changed(node.core.peers()[0], True)  # PySyncObj stands only when connected to someone
            node.core.election_deadline = raft_clock() - 5  # as after a tick that lasted seconds
            node.core.doTick(0)

        for _ in range(3):
            late_tick()
            assert node.core.role == "follower" and node.core.raftCurrentTerm == 0
        node.identity.amnesiac = False  # once caught up, the same tick stands
        late_tick()
        assert node.core.role == "candidate"
    finally:
        node.destroy()
