"""`force_new_cluster` on a stopped node's log: refused while a quorum answers, idempotent once done."""

from __future__ import annotations

import pytest

from taskraft import commands as c
from taskraft.config import load_config
from taskraft.consensus.journal import DurableJournal
from taskraft.consensus.pysyncobj_bridge import command_of, journaled_command
from taskraft.recovery import RecoveryRefused, force_new_cluster

A, B, C = "127.0.0.1:7100", "127.0.0.1:7101", "127.0.0.1:7102"


def _node(tmp_path):
    cfg = load_config({
        "node_id": "node-0", "raft_advertise": A, "raft_bind": A, "peers": [A, B, C], "data_dir": str(tmp_path),
        "insecure": True, "mysql_dsn": "mysql://u:p@127.0.0.1:1/db",
    })
    journal = DurableJournal(str(cfg.journal_path), decode=command_of)
    journal.add(b"\x00", 1, 1)
    op = c.make_op(c.OP_CONFIGURE, origin="node-0", origin_addr=A,
                   args={"configuration": {"voters": [A, B, C], "learners": []}, "term": 1, "base": 0})
    journal.add(journaled_command(c.make_entry([op])), 2, 1)
    journal.setCurrentTerm(3, None)
    journal._destroy()
    return cfg


def test_refused_while_one_other_voter_answers(tmp_path):
    cfg = _node(tmp_path)
    with pytest.raises(RecoveryRefused, match="quorum"):
        force_new_cluster(cfg, probe=lambda peer: peer == B)
    assert DurableJournal(str(cfg.journal_path), decode=command_of).configs.current.voters == {A, B, C}


def test_with_the_others_gone_the_node_becomes_the_only_voter_in_a_new_term(tmp_path):
    cfg = _node(tmp_path)
    done = force_new_cluster(cfg, probe=lambda peer: False)
    assert not done.already and done.configuration.voters == {A}
    journal = DurableJournal(str(cfg.journal_path), decode=command_of)
    assert journal.configs.current.voters == {A} and journal.configs.current_index == 3
    assert journal[-1][2] == 4 and journal.getCurrentTerm() == 4  # above every term the node knew
    journal._destroy()
    assert force_new_cluster(cfg, probe=lambda peer: True).already  # once done, nothing more is written
