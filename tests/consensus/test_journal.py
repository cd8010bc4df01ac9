"""The durable journal: entries survive reopen, torn tails are cut, truncation and compaction persist."""

from __future__ import annotations

import os

from taskraft.consensus.journal import DurableJournal
from taskraft.consensus.snapshot_hooks import finish_interrupted_compaction
from taskraft.state import snapshot


def _fill(j, start, end, term=1):
    for i in range(start, end):
        j.add(f"cmd{i}".encode(), i, term)


def test_entries_and_term_survive_reopen(tmp_path):
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    _fill(j, 1, 6)
    j.setCurrentTerm(3, "peer:1")
    j.setRaftCommitIndex(4)
    j._destroy()
    again = DurableJournal(path)
    assert [e[1] for e in again[:]] == [1, 2, 3, 4, 5]
    assert again[2] == (b"cmd3", 3, 1)
    assert again.getCurrentTerm() == 3 and again.getVotedForNodeId() == "peer:1"
    assert again.getRaftCommitIndex() == 4


def test_term_and_vote_are_written_before_returning(tmp_path):
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    j.setCurrentTerm(7, "me")
    # no destroy: a crash right after setCurrentTerm returned
    assert DurableJournal(path).getCurrentTerm() == 7


def test_a_torn_last_record_is_dropped(tmp_path):
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    _fill(j, 1, 4)
    size = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"\x10\x00\x00\x00partial")
    again = DurableJournal(path)
    assert len(again) == 3
    assert os.path.getsize(path) == size
    again.add(b"next", 4, 1)
    assert [e[1] for e in DurableJournal(path)[:]] == [1, 2, 3, 4]


def test_a_corrupted_record_ends_the_log(tmp_path):
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    _fill(j, 1, 4)
    data = bytearray(open(path, "rb").read())
    data[-6] ^= 0xFF  # flip a byte inside the last record
    open(path, "wb").write(bytes(data))
    assert [e[1] for e in DurableJournal(path)[:]] == [1, 2]


def test_delete_from_and_to_persist(tmp_path):
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    _fill(j, 1, 11)
    j.deleteEntriesFrom(7)  # keep positions 0..6 -> indexes 1..7
    j.add(b"new8", 8, 2)
    j.deleteEntriesTo(3)  # drop indexes 1..3
    assert [e[1] for e in j[:]] == [4, 5, 6, 7, 8]
    again = DurableJournal(path)
    assert [e[1] for e in again[:]] == [4, 5, 6, 7, 8]
    assert again[-1] == (b"new8", 8, 2)
    again.clear()
    assert len(DurableJournal(path)) == 0


def test_interrupted_compaction_is_finished_before_startup(tmp_path):
    journal_path, snap_path = str(tmp_path / "j"), str(tmp_path / "s")
    j = DurableJournal(journal_path)
    _fill(j, 1, 21)
    j._destroy()
    prev, last = (b"cmd9", 9, 1), (b"cmd10", 10, 1)
    # a snapshot at 10 exists, but the journal was not trimmed yet (crash in between)
    import pymysql  # noqa: F401  (the dump format needs no database to write a header-only file here)
    import gzip
    import pickle

    with gzip.open(snap_path, "wb") as f:
        pickle.dump({"format": snapshot.FORMAT, "raft": (last, prev, set()), "state_index": 10}, f)
        pickle.dump(("end",), f)
    finish_interrupted_compaction(journal_path, snap_path)
    entries = DurableJournal(journal_path)[:]
    assert entries[0] == prev and entries[1] == last and entries[-1][1] == 20
