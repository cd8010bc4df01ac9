"""Backups of a real database: one applied index while the applier goes on, and a load that gives the rows back.

Also the node-start restore (taskraft/restore.py): when a node takes a backup, what it writes for
Raft, and that an interrupted restore is redone.
"""

from __future__ import annotations

import io
import json

import pymysql
import pytest

from taskraft import commands as c
from taskraft import restore
from taskraft.consensus.journal import DurableJournal
from taskraft.consensus.pysyncobj_bridge import command_of
from taskraft.state import backup_format as fmt
from taskraft.state import backup_tables, queries, snapshot
from taskraft.state.machine import LogEntry, apply_entries

from ..consensus.configs import raft_config


def op(kind, rid, **args):
    return c.make_op(
        kind, origin="node-a", origin_addr="node-a:7000", args=args, request_id=rid, ts_ms=1_700_000_000_000
    )


def apply(conn, index, *ops, term=2):
    apply_entries(conn, [LogEntry(index, term, c.make_entry(list(ops)))])
    conn.commit()


def fill(conn, tasks: int, first_index: int = 2) -> int:
    apply(conn, first_index, op(c.OP_INIT_CLUSTER, "init", cluster_id="source-cluster-1"))
    apply(conn, first_index + 1, op(c.OP_REGISTER_NODE, "reg-a", api_url="http://node-a"))
    apply(conn, first_index + 2, op(c.OP_USER_ADD, "u1", user_id="u-1", username="ann", email="", role="editor"))
    index = first_index + 3
    for i in range(tasks):
        apply(conn, index, op(c.OP_CREATE, f"t{i}", title=f"task {i}"))
        index += 1
    return index - 1


def backup_bytes(settings, node_id="node-a") -> tuple[bytes, dict]:
    source = backup_tables.TableSnapshot(
        pymysql.connect(**settings.connect_kwargs()), node_id=node_id, consistency="local"
    )
    try:
        return b"".join(source.chunks()), source.header
    finally:
        source.close()


def view_at(conn, index: int) -> dict:
    """What a backup at `index` must give back: the rows the log up to it made (raft_log up to it only)."""
    out = {}
    with conn.cursor() as cur:
        for name, sql in {
            "tasks": "SELECT * FROM tasks ORDER BY task_id",
            "users": "SELECT * FROM users ORDER BY user_id",
            "api_tokens": "SELECT * FROM api_tokens ORDER BY token_id",
            "raft_log": f"SELECT * FROM raft_log WHERE log_index <= {int(index)} ORDER BY log_index, op_seq",
            "nodes": "SELECT node_id, first_seen FROM nodes ORDER BY node_id",
            "meta": "SELECT next_task_id FROM raft_meta",
        }.items():
            cur.execute(sql)
            out[name] = [tuple(str(v) for v in row) for row in cur.fetchall()]
    return out


def test_a_backup_holds_one_applied_index_while_the_applier_goes_on(make_db):
    settings = make_db()
    conn = pymysql.connect(**settings.connect_kwargs())
    index = fill(conn, 30)
    before = view_at(conn, index)
    assert len(before["users"]) == 1 and len(before["tasks"]) == 30 and len(before["nodes"]) == 1
    source = backup_tables.TableSnapshot(pymysql.connect(**settings.connect_kwargs()), node_id="n", consistency="local")
    try:
        chunks = source.chunks()
        first = next(chunks)  # the stream has begun ...
        for i in range(10):  # ... and the applier commits more meanwhile, never blocked by it
            apply(conn, index + 1 + i, op(c.OP_CREATE, f"late{i}", title="late"))
        data = first + b"".join(chunks)
    finally:
        source.close()
    assert source.header["applied_index"] == index
    target = pymysql.connect(**make_db().connect_kwargs())
    info = backup_tables.load(target, io.BytesIO(data))
    target.commit()
    assert info.applied_index == index and info.tasks == 30
    assert view_at(target, index) == before  # the late tasks are not in it
    assert queries.cluster_id(target) is None  # a restored cluster commits its own id


def test_load_replaces_everything_and_clears_the_configuration(make_db):
    source, target = make_db(), make_db()
    src = pymysql.connect(**source.connect_kwargs())
    index = fill(src, 5)
    data, _header = backup_bytes(source)
    dst = pymysql.connect(**target.connect_kwargs())
    fill(dst, 12, first_index=2)  # rows the load must replace
    with dst.cursor() as cur:
        cur.execute("INSERT INTO members (raft_address, member_role, config_index) VALUES ('old:1', 'voter', 3)")
    dst.commit()
    backup_tables.load(dst, io.BytesIO(data))
    dst.commit()
    assert view_at(dst, index) == view_at(src, index)
    with dst.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM members")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT applied_index, applied_term, cluster_id, config_index FROM raft_meta")
        assert cur.fetchone() == (index, 2, None, 0)


def test_a_bad_file_changes_nothing(make_db):
    source, target = make_db(), make_db()
    fill(pymysql.connect(**source.connect_kwargs()), 5)
    data, _ = backup_bytes(source)
    dst = pymysql.connect(**target.connect_kwargs())
    index = fill(dst, 3)
    before = view_at(dst, index)
    with pytest.raises(fmt.BackupError):
        backup_tables.load(dst, io.BytesIO(data[: len(data) // 2]))
    dst.rollback()
    assert view_at(dst, index) == before


# -- a node that starts from a backup -----------------------------------------------------------------


def node_cfg(tmp_path, settings, **changes):
    import dataclasses

    cfg = raft_config(["127.0.0.1:1"], 0, tmp_path / "raft")
    return dataclasses.replace(cfg, mysql=settings, **changes)


def test_a_brand_new_node_restores_and_starts_its_log_after_the_backup(tmp_path, make_db):
    source = make_db()
    index = fill(pymysql.connect(**source.connect_kwargs()), 4)
    path = tmp_path / "b.backup"
    path.write_bytes(backup_bytes(source)[0])
    target = make_db()
    conn = pymysql.connect(**target.connect_kwargs())
    cfg = node_cfg(tmp_path, target, restore_from=str(path))
    assert restore.wanted(cfg, conn) == str(path)
    restore.restore(cfg, conn, str(path))
    assert backup_tables.applied_index(conn) == index
    journal = DurableJournal(str(cfg.journal_path), decode=command_of)
    try:
        assert [(i, t) for _cmd, i, t in journal] == [(index - 1, 2), (index, 2)]
        assert journal.getCurrentTerm() == 2 and journal.getRaftCommitIndex() == index
    finally:
        journal._destroy()
    header = snapshot.read_header(str(cfg.snapshot_path))
    assert header["state_index"] == index and not snapshot.has_tables(header)
    assert header["raft"][0][1:] == (index, 2) and header["raft"][1][1:] == (index - 1, 2)
    assert restore.pending(cfg) is None
    assert restore.wanted(cfg, conn) is None  # it has Raft state now: a restart does not restore again


@pytest.mark.parametrize("why", ["record", "raft_state", "database"])
def test_a_node_that_is_not_brand_new_does_not_restore(tmp_path, make_db, why):
    source = make_db()
    fill(pymysql.connect(**source.connect_kwargs()), 2)
    path = tmp_path / "b.backup"
    path.write_bytes(backup_bytes(source)[0])
    target = make_db()
    conn = pymysql.connect(**target.connect_kwargs())
    cfg = node_cfg(tmp_path, target, restore_from=str(path), cluster_id="formed-cluster" if why == "record" else None)
    if why == "raft_state":
        cfg.data_dir.mkdir(parents=True)
        cfg.identity_path.write_text(json.dumps({"cluster_id": "x"}))
    if why == "database":
        fill(conn, 1)
    assert restore.wanted(cfg, conn) is None


def test_an_interrupted_restore_is_redone_at_the_next_start(tmp_path, make_db):
    source = make_db()
    index = fill(pymysql.connect(**source.connect_kwargs()), 3)
    path = tmp_path / "b.backup"
    path.write_bytes(backup_bytes(source)[0])
    target = make_db()
    conn = pymysql.connect(**target.connect_kwargs())
    cfg = node_cfg(tmp_path, target, restore_from=str(path))
    original = restore.write_raft_base
    try:
        restore.write_raft_base = lambda *_a: (_ for _ in ()).throw(OSError("crash before the Raft base"))
        with pytest.raises(OSError):
            restore.restore(cfg, conn, str(path))
    finally:
        restore.write_raft_base = original
    # The database holds the backup but there is no Raft state: without the marker this node would start
    # a log at 1 under a database at `index` and skip every entry up to it.
    assert backup_tables.applied_index(conn) == index and restore.pending(cfg) is not None
    assert restore.wanted(cfg, conn) == str(path)
    restore.restore(cfg, conn, str(path))
    assert restore.pending(cfg) is None and cfg.snapshot_path.exists()


def test_a_bad_backup_stops_the_node_before_anything_is_written(tmp_path, make_db):
    path = tmp_path / "bad.backup"
    path.write_bytes(b"\x1f\x8b" + b"\0" * 40)
    target = make_db()
    conn = pymysql.connect(**target.connect_kwargs())
    cfg = node_cfg(tmp_path, target, restore_from=str(path))
    with pytest.raises(restore.RestoreFailed, match="cannot restore"):
        restore.restore(cfg, conn, str(path))
    assert restore.pending(cfg) is None and not cfg.journal_path.exists()
    assert backup_tables.applied_index(conn) == 0
