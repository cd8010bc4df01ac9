"""Snapshot dump and load between two real databases."""

from __future__ import annotations

import pymysql

from taskraft import commands as c
from taskraft.state import queries, snapshot
from taskraft.state.machine import LogEntry, apply_entries


def _fill(conn, n):
    ops = [
        c.make_op(c.OP_CREATE, origin="n1", origin_addr="n1:1", args={"title": f"t{i}"}, ts_ms=1_700_000_000_000 + i)
        for i in range(n)
    ]
    entries = [LogEntry(i + 2, 1, c.make_entry([o])) for i, o in enumerate(ops)]
    apply_entries(conn, entries)
    conn.commit()


def test_dump_then_load_reproduces_the_tables(make_db, tmp_path):
    src = pymysql.connect(**make_db().connect_kwargs())
    dst = pymysql.connect(**make_db().connect_kwargs())
    _fill(src, 2500)  # more than one chunk
    _fill(dst, 3)  # a diverged target gets replaced entirely
    path = str(tmp_path / "snap")
    with src.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    snapshot.write_dump(src, path, ("raft", "tuple"), 2501)
    src.rollback()
    header = snapshot.read_header(path)
    assert header["raft"] == ("raft", "tuple") and header["state_index"] == 2501
    assert snapshot.load_dump(dst, path) == 2501
    dst.commit()
    assert queries.table_checksums(dst) == queries.table_checksums(src)
    assert queries.applied_index(dst) == 2501


def test_dump_streams_the_tables_instead_of_holding_them_in_memory(make_db, tmp_path):
    import tracemalloc

    src = pymysql.connect(**make_db().connect_kwargs())
    _fill(src, 20_000)  # raft_log alone: 20,000 rows of several hundred bytes each
    with src.cursor() as cur:
        cur.execute(
            "SELECT SUM(LENGTH(payload) + LENGTH(result) + LENGTH(request_id) + LENGTH(fingerprint)) FROM raft_log"
        )
        table_bytes = int(cur.fetchone()[0])
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    tracemalloc.start()
    try:
        snapshot.write_dump(src, str(tmp_path / "snap"), None, 20_001)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    src.rollback()
    # A few chunks of rows at a time, not the table: a buffered cursor holds all of it (and more, as objects).
    assert peak < table_bytes / 2, (peak, table_bytes)


def test_dump_is_a_consistent_view_while_writes_continue(make_db, tmp_path):
    settings = make_db()
    writer = pymysql.connect(**settings.connect_kwargs())
    reader = pymysql.connect(**settings.connect_kwargs())
    _fill(writer, 10)
    with reader.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    expected = queries.table_checksums(reader)
    _fill(writer, 5)  # writes after the view was opened (indexes 2..6 again are skipped; use new ones)
    op = c.make_op(c.OP_CREATE, origin="n1", origin_addr="n1:1", args={"title": "late"}, ts_ms=1)
    apply_entries(writer, [LogEntry(100, 1, c.make_entry([op]))])
    writer.commit()
    path = str(tmp_path / "snap")
    snapshot.write_dump(reader, path, None, 11)
    reader.rollback()
    target = pymysql.connect(**make_db().connect_kwargs())
    snapshot.load_dump(target, path)
    target.commit()
    assert queries.table_checksums(target) == expected
