"""Compaction writes a marker; a full dump of the tables is written only to seed a follower.

Real MariaDB databases, the real applier and PySyncObj's real Serializer (the class RaftNode makes
PySyncObj build), without a network: the hooks are driven as PySyncObj's tick thread drives them.
"""

from __future__ import annotations

import os
import threading
import time

import pymysql
import pytest
from pysyncobj.config import SERIALIZER_STATE
from pysyncobj.serializer import Serializer as PySyncObjSerializer
from pysyncobj import syncobj as syncobj_module

from taskraft import commands as c
from taskraft.consensus import pysyncobj_bridge  # noqa: F401  (installs the serializer class PySyncObj builds)
from taskraft.consensus.snapshot_hooks import SnapshotHooks
from taskraft.state import queries, snapshot
from taskraft.state.applier import Applier

from ..helpers import wait_until

RAFT_TUPLE_AT = lambda index: ((b"cmd", index, 1), (b"cmd", index - 1, 1), None)  # noqa: E731


def _applier(settings) -> Applier:
    applier = Applier(lambda: pymysql.connect(**settings.connect_kwargs()))
    applier.load()
    applier.start()
    return applier


def _write(applier: Applier, first: int, count: int) -> int:
    done = threading.Event()
    last = first + count - 1
    for index in range(first, last + 1):
        op = c.make_op(c.OP_CREATE, origin="n", origin_addr="n:1", args={"title": f"t{index}"}, ts_ms=index)
        applier.enqueue_entry(index, 1, c.make_entry([op]))
    applier.call_when_applied(last, done.set)
    assert done.wait(30)
    return last


def _serializer(applier: Applier, path: str):
    """The serializer PySyncObj builds for a RaftNode, with the node's hooks."""
    hooks = SnapshotHooks(applier, path)
    cls = syncobj_module.Serializer
    assert cls is not PySyncObjSerializer, "RaftNode's module did not install its serializer class"
    return cls(path, 64 * 1024, False, hooks.serialize, hooks.deserialize, hooks.check)


def _compact(serializer, index: int) -> None:
    """What PySyncObj's __tryLogCompaction does, up to the journal trim."""
    assert serializer.checkSerializing()[0] == SERIALIZER_STATE.NOT_SERIALIZING
    serializer.serialize((None,) + RAFT_TUPLE_AT(index), index)
    wait_until(lambda: serializer.checkSerializing()[0] == SERIALIZER_STATE.SUCCESS, 10, message="compaction")


def _stream(serializer, node="follower") -> bytes:
    """What PySyncObj's leader does for a follower behind its log: ask for chunks until the last."""
    chunks = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        data = serializer.getTransmissionData(node)
        if data is None:
            time.sleep(0.02)  # nothing to send yet: PySyncObj retries at its next heartbeat
            continue
        chunk, _first, last = data
        chunks.append(chunk)
        if last:
            return b"".join(chunks)
    raise AssertionError("the snapshot was never streamed")


def _compacted(applier: Applier, tmp_path, rows: int):
    """`rows` entries applied, then a compaction at the last: (snapshot path, serializer, that index)."""
    path = str(tmp_path / "snapshot")
    serializer = _serializer(applier, path)
    compacted_at = _write(applier, 2, rows)
    _compact(serializer, compacted_at)
    return path, serializer, compacted_at


@pytest.fixture
def leader_db(make_db):
    settings = make_db()
    applier = _applier(settings)
    yield settings, applier
    applier.stop()


def test_compaction_writes_a_marker_whose_size_does_not_grow_with_the_database(leader_db, tmp_path):
    settings, applier = leader_db
    path = str(tmp_path / "snapshot")
    serializer = _serializer(applier, path)
    sizes = []
    last = 1
    for rows in (10, 2000):
        last = _write(applier, last + 1, rows)
        _compact(serializer, last)
        header = snapshot.read_header(path)
        assert header["raft"] == RAFT_TUPLE_AT(last)
        assert header["state_index"] == last
        assert not snapshot.has_tables(header)
        sizes.append(os.path.getsize(path))
    assert sizes[1] <= sizes[0] + 16, sizes  # 200 times the rows, the same few hundred bytes


def test_a_follower_to_seed_gets_a_full_dump_for_the_compacted_tuple(leader_db, make_db, tmp_path):
    settings, applier = leader_db
    path, serializer, compacted_at = _compacted(applier, tmp_path, 1500)
    later = _write(applier, compacted_at + 1, 20)  # the database moves on past the compaction

    # The first ask starts a dump and sends nothing; meanwhile no compaction may replace the file.
    assert serializer.getTransmissionData("follower") is None
    assert serializer.checkSerializing()[0] == SERIALIZER_STATE.SERIALIZING
    data = _stream(serializer)
    assert serializer.checkSerializing()[0] == SERIALIZER_STATE.NOT_SERIALIZING

    # The follower's side: PySyncObj writes the stream to its snapshot file, our deserializer and
    # applier install it.
    follower_path = str(tmp_path / "follower-snapshot")
    with open(follower_path, "wb") as f:
        f.write(data)
    header = snapshot.read_header(follower_path)
    assert header["raft"] == RAFT_TUPLE_AT(compacted_at), "the tuple PySyncObj's log continues from"
    assert snapshot.has_tables(header)
    assert compacted_at <= header["state_index"] <= later
    follower_settings = make_db()
    follower = _applier(follower_settings)
    try:
        follower_hooks = SnapshotHooks(follower, follower_path)
        assert follower_hooks.deserialize(follower_path) == RAFT_TUPLE_AT(compacted_at)
        wait_until(lambda: follower.applied_index == header["state_index"], 30, message="install")
        # entries after the compacted tuple arrive from the log; those the dump holds are skipped
        for index in range(compacted_at + 1, later + 1):
            op = c.make_op(c.OP_CREATE, origin="n", origin_addr="n:1", args={"title": f"t{index}"}, ts_ms=index)
            follower.enqueue_entry(index, 1, c.make_entry([op]))
        wait_until(lambda: follower.applied_index == later, 30, message="replay")
        leader_conn = pymysql.connect(**settings.connect_kwargs())
        follower_conn = pymysql.connect(**follower_settings.connect_kwargs())
        assert queries.table_checksums(follower_conn) == queries.table_checksums(leader_conn)
    finally:
        follower.stop()

    # The next compaction writes a marker again, and the next follower gets a fresh dump.
    _compact(serializer, later)
    assert not snapshot.has_tables(snapshot.read_header(path))


def test_a_database_behind_a_marker_is_never_installed_from_it(leader_db, make_db, tmp_path):
    """A node whose database was replaced while its Raft files were kept: the marker holds no rows
    to rebuild from, so nothing is applied and the error says what to do."""
    _settings, applier = leader_db
    path = str(tmp_path / "snapshot")
    last = _write(applier, 2, 5)
    snapshot.write_marker(path, RAFT_TUPLE_AT(last), last)
    empty = pymysql.connect(**make_db().connect_kwargs())
    with pytest.raises(snapshot.SnapshotError, match="holds no tables"):
        snapshot.load_dump(empty, path)
    empty.rollback()
    assert queries.applied_index(empty) == 0


def test_a_dump_finished_after_the_snapshot_file_changed_is_dropped(leader_db, tmp_path):
    """A leader that lost its leadership during the dump may have received a newer snapshot meanwhile."""
    _settings, applier = leader_db
    path, serializer, compacted_at = _compacted(applier, tmp_path, 300)
    assert serializer.getTransmissionData("follower") is None  # the dump starts
    newer = RAFT_TUPLE_AT(compacted_at + 50)
    snapshot.write_marker(path, newer, compacted_at + 50)  # as if received from a new leader
    wait_until(lambda: serializer.checkSerializing()[0] == SERIALIZER_STATE.NOT_SERIALIZING, 30, message="dump")
    assert snapshot.read_header(path)["raft"] == newer
    assert not os.path.exists(f"{path}.seed")
