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


def test_a_peer_back_with_an_empty_volume_counts_for_no_quorum():
    """Its Raft port answers, but its API says it may not vote: it cannot help elect anyone."""
    import json
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from taskraft.recovery import live_voter

    answer = {"voting": {"can_vote": False}}

    class View(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    api = HTTPServer(("127.0.0.1", 0), View)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    raft = socket.socket()
    raft.bind(("127.0.0.1", 0))
    raft.listen()
    address, http_port = f"127.0.0.1:{raft.getsockname()[1]}", api.server_address[1]
    try:
        assert not live_voter(address, http_port, 1.0)
        answer["voting"]["can_vote"] = True
        assert live_voter(address, http_port, 1.0)
        raft.close()
        assert not live_voter(address, http_port, 1.0)  # its Raft port is gone
    finally:
        api.shutdown()
        raft.close()
