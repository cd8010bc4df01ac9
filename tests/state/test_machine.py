"""The state machine against a real MariaDB: determinism, replay, idempotency, error results, migrations."""

from __future__ import annotations

import pymysql
import pytest

from taskraft import commands as c
from taskraft.state import queries, statements
from taskraft.state.db import connect
from taskraft.state.machine import LogEntry, apply_entries
from taskraft.state.schema import SCHEMA_VERSION, migrate


def op(kind, *, rid=None, ts=1_700_000_000_000, origin="node-a", task_id=None, if_match=None, **args):
    return c.make_op(
        kind,
        origin=origin,
        origin_addr=f"{origin}:7000",
        args=args,
        task_id=task_id,
        if_match=if_match,
        request_id=rid,
        ts_ms=ts,
    )


def entry(index, *ops, term=1):
    return LogEntry(index, term, c.make_entry(list(ops)))


def apply(conn, *entries):
    meta, results = apply_entries(conn, list(entries))
    conn.commit()
    return meta, results


def scripted_log():
    return [
        entry(2, op(c.OP_CREATE, rid="a", title="one", ts=1_700_000_000_000)),
        entry(3, op(c.OP_CREATE, rid="b", title="two", status="done", origin="node-b", ts=1_700_000_000_500)),
        entry(4, op(c.OP_UPDATE, rid="c", task_id=1, title="one!", if_match=1, ts=1_700_000_001_000)),
        entry(5, op(c.OP_UPDATE, rid="d", task_id=1, status="done", if_match=1)),  # stale: 412
        entry(6),  # a read barrier
        entry(7, op(c.OP_DELETE, rid="e", task_id=2), op(c.OP_UPDATE, rid="f", task_id=99, title="x"), term=2),
    ]


def test_same_log_gives_identical_tables_on_two_databases(make_db):
    checksums = []
    for scripts in (True, False):
        conn = connect(make_db(), scripts=scripts)
        # apply in different batch shapes and round trips: all at once in two scripts (the applier's
        # way), then one by one, statement by statement
        entries = scripted_log()
        if checksums:
            for e in entries:
                apply(conn, e)
        else:
            apply(conn, *entries)
        checksums.append(queries.table_checksums(conn))
        conn.close()
    assert checksums[0] == checksums[1]


def test_ids_timestamps_and_versions_come_from_the_log(db):
    _, results = apply(db, *scripted_log())
    assert results["a"].outcome == c.CREATED and results["a"].task["id"] == 1
    assert results["b"].task["id"] == 2
    assert results["a"].task["created_at"] == "2023-11-14T22:13:20.000Z"
    assert results["c"].task["version"] == 2 and results["c"].task["title"] == "one!"
    assert results["c"].task["updated_at"] == "2023-11-14T22:13:21.000Z"
    assert results["d"].outcome == c.PRECONDITION_FAILED
    assert results["e"].outcome == c.DELETED
    assert results["f"].outcome == c.NOT_FOUND
    task = queries.get_task(db, 1)
    assert task["version"] == 2 and task["status"] == "todo" and task["created_by"] == "node-a"
    assert queries.get_task(db, 2) is None
    assert queries.applied_index(db) == 7


def test_entries_at_or_below_applied_index_are_skipped(db):
    apply(db, *scripted_log())
    before = queries.table_checksums(db)
    meta, results = apply(db, *scripted_log())  # replay after a restart
    assert results == {}
    assert meta.applied_index == 7
    assert queries.table_checksums(db) == before
    # a new entry after the replayed ones is applied
    _, results = apply(db, *scripted_log(), entry(8, op(c.OP_CREATE, rid="g", title="three")))
    assert results["g"].task["id"] == 3


def test_same_request_id_applies_once_and_returns_the_first_result(db):
    first = op(c.OP_CREATE, rid="key:same", title="once")
    _, r1 = apply(db, entry(2, first))
    _, r2 = apply(db, entry(3, first))  # the same request proposed again (ambiguous retry)
    assert r1["key:same"].task == r2["key:same"].task
    assert r2["key:same"].log_index == 2
    items, _ = queries.list_tasks(db, status=None, limit=10, after=None)
    assert [t["title"] for t in items] == ["once"]
    with db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM raft_log WHERE request_id = 'key:same'")
        assert cur.fetchone()[0] == 1


def test_same_key_with_a_different_request_is_reported_not_applied(db):
    apply(db, entry(2, op(c.OP_CREATE, rid="key:k", title="first")))
    _, results = apply(db, entry(3, op(c.OP_CREATE, rid="key:k", title="second")))
    assert results["key:k"].outcome == c.KEY_REUSED
    items, _ = queries.list_tasks(db, status=None, limit=10, after=None)
    assert [t["title"] for t in items] == ["first"]


def test_duplicates_inside_one_batch_apply_once(db):
    dup = op(c.OP_CREATE, rid="dup", title="batch")
    _, results = apply(db, entry(2, dup, dup), entry(3, dup))
    assert results["dup"].task["id"] == 1
    assert queries.count_by_status(db) == {"todo": 1}


def mixed_log():
    """Creates, then updates and deletes of the same tasks inside one entry, a key reused inside the
    batch, and an origin whose first operation is a duplicate (it must not register the node)."""
    return [
        entry(
            2,
            op(
                c.OP_CREATE, rid="m1", title="  padded  ", description="d\u00e9j\u00e0 \U0001f600", ts=1_700_000_000_001
            ),
            op(c.OP_UPDATE, rid="m2", task_id=1, if_match=1, status="in_progress", ts=1_700_000_000_002),
            op(c.OP_CREATE, rid="m3", title="second", ts=1_700_000_000_003),
            op(c.OP_CREATE, rid="m1", title="other", origin="node-z", ts=1_600_000_000_000),  # key reused
            op(c.OP_UPDATE, rid="m4", task_id=2, title=" renamed ", ts=1_700_000_000_004),
            op(c.OP_CREATE, rid="m5", title="third", origin="node-b", ts=1_700_000_000_005),
        ),
        entry(
            3,
            op(c.OP_DELETE, rid="m6", task_id=1, if_match=2),
            op(c.OP_UPDATE, rid="m7", task_id=3, if_match=1, status="done"),
        ),
        entry(4, op(c.OP_UPDATE, rid="m8", task_id=1, title="gone"), op(c.OP_CREATE, rid="m9", title="fourth", ts=5)),
    ]


def test_results_match_the_stored_rows_in_any_batch_shape(make_db):
    one_by_one = connect(make_db())
    results_single = {}
    for e in mixed_log():
        _, r = apply(one_by_one, e)
        # the task as answered by the entry's last create or update of it is the task as stored after the entry
        last_answer = {}
        for o in e.command["ops"]:
            result = r[o["rid"]]
            if result.outcome in (c.CREATED, c.UPDATED) and result.log_index == e.index:
                last_answer[result.task["id"]] = result.task
        for task_id, task in last_answer.items():
            assert queries.get_task(one_by_one, task_id) == task, task_id
        assert last_answer
        results_single.update(r)
    together = connect(make_db(), scripts=True)
    _, results_together = apply(together, *mixed_log())

    assert results_together == results_single
    assert queries.table_checksums(together) == queries.table_checksums(one_by_one)
    outcomes = {rid: r.outcome for rid, r in results_together.items()}
    assert outcomes == {
        "m1": c.KEY_REUSED,  # the later op with the same key and another request
        "m2": c.UPDATED,
        "m3": c.CREATED,
        "m4": c.UPDATED,
        "m5": c.CREATED,
        "m6": c.DELETED,
        "m7": c.UPDATED,
        "m8": c.NOT_FOUND,
        "m9": c.CREATED,
    }
    assert results_together["m4"].task["title"] == "renamed" and results_together["m4"].task["version"] == 2
    assert (
        results_together["m9"].task["id"] == 4
        and results_together["m9"].task["created_at"] == "1970-01-01T00:00:00.005Z"
    )
    with together.cursor() as cur:
        cur.execute("SELECT node_id, first_seen FROM nodes ORDER BY node_id")
        nodes = {n: str(t) for n, t in cur.fetchall()}
        cur.execute("SELECT request_id, COUNT(*) FROM raft_log GROUP BY request_id HAVING COUNT(*) > 1")
        assert cur.fetchall() == ()
    assert set(nodes) == {"node-a", "node-b"}  # node-z only sent a duplicate
    assert nodes["node-b"].startswith("2023-11-14 22:13:20.005")
    one_by_one.close()
    together.close()


def test_a_batch_larger_than_one_script_is_sent_in_parts(make_db, monkeypatch):
    plain = connect(make_db())
    _, expected = apply(plain, *mixed_log())
    monkeypatch.setattr(statements, "MAX_SCRIPT_BYTES", 600)  # every statement, even each row, apart
    scripted = connect(make_db(), scripts=True)
    _, results = apply(scripted, *mixed_log())
    assert results == expected
    assert queries.table_checksums(scripted) == queries.table_checksums(plain)
    with scripted.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM raft_log")
        assert cur.fetchone()[0] == sum(len(e.command["ops"]) for e in mixed_log()) - 1  # one key repeated
    plain.close()
    scripted.close()


def test_values_that_look_like_sql_are_stored_as_given_in_a_script(make_db):
    conn = connect(make_db(), scripts=True)
    title = "100% done'); DROP TABLE tasks; -- %s %(x)s \\ ;"
    _, results = apply(
        conn,
        entry(2, op(c.OP_CREATE, rid="a", title=title, description="a;b\n'c'")),
        entry(3, op(c.OP_UPDATE, rid="b", task_id=1, description="%%; DELETE FROM nodes")),
    )
    stored = queries.get_task(conn, 1)
    assert stored["title"] == title and stored["description"] == "%%; DELETE FROM nodes"
    assert results["b"].task == stored
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM nodes")
        assert cur.fetchone()[0] == 1
    conn.close()


def test_a_failing_statement_in_a_script_raises_and_rolls_back(make_db):
    conn = connect(make_db(), scripts=True)
    apply(conn, entry(2, op(c.OP_CREATE, rid="a", title="one")))
    with conn.cursor() as cur:  # a row the next create's id collides with: its INSERT fails
        cur.execute(
            "INSERT INTO tasks (task_id, title, description, task_status, created_by, created_at,"
            " updated_at, version) VALUES (2, 'intruder', '', 'todo', 'node-a', NOW(3), NOW(3), 1)"
        )
    conn.commit()
    with pytest.raises(pymysql.err.IntegrityError):
        apply_entries(conn, [entry(3, op(c.OP_CREATE, rid="b", title="two", origin="node-new"))])
    conn.rollback()
    with conn.cursor() as cur:  # the statement before the failing one (the new node's row) is undone too
        cur.execute("SELECT node_id FROM nodes ORDER BY node_id")
        assert [r[0] for r in cur.fetchall()] == ["node-a"]
        cur.execute("SELECT applied_index FROM raft_meta")
        assert cur.fetchone()[0] == 2
        cur.execute("SELECT COUNT(*) FROM raft_log")
        assert cur.fetchone()[0] == 1
    conn.close()


def test_invalid_commands_become_recorded_results_not_exceptions(db):
    bad = [
        op(c.OP_CREATE, rid="t1", title=" "),
        op(c.OP_CREATE, rid="t2", title="x" * 201),
        op(c.OP_CREATE, rid="t3", title="ok", status="blocked"),
        op(c.OP_CREATE, rid="t4", title="\ud800"),
        op(c.OP_UPDATE, rid="t5", task_id=2**70, title="big"),
        op("explode", rid="t6"),
    ]
    _, results = apply(db, entry(2, *bad))
    assert [results[f"t{i}"].outcome for i in range(1, 7)] == [c.REJECTED] * 4 + [c.NOT_FOUND, c.REJECTED]
    assert queries.applied_index(db) == 2
    with db.cursor() as cur:
        cur.execute("SELECT outcome FROM raft_log ORDER BY op_seq")
        assert [r[0] for r in cur.fetchall()] == ["rejected"] * 4 + ["not_found", "rejected"]


def test_history_keeps_entries_of_deleted_tasks(db):
    apply(db, *scripted_log())
    history = queries.task_history(db, 2)
    assert [(h["op"], h["outcome"]) for h in history] == [("create", "created"), ("delete", "deleted")]
    assert [h["log_index"] for h in history] == [3, 7]
    assert history[1]["term"] == 2


def test_updated_at_never_goes_backwards(db):
    apply(db, entry(2, op(c.OP_CREATE, rid="a", title="t", ts=2_000_000_000_000)))
    _, r = apply(db, entry(3, op(c.OP_UPDATE, rid="b", task_id=1, title="u", ts=1_000_000_000_000)))
    assert r["b"].task["updated_at"] == r["b"].task["created_at"]


def test_migrations_are_versioned_and_idempotent(db):
    apply(db, *scripted_log())
    before = queries.table_checksums(db)
    assert migrate(db) == SCHEMA_VERSION
    assert migrate(db) == SCHEMA_VERSION
    assert queries.table_checksums(db) == before
    with db.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations")
        assert [r[0] for r in cur.fetchall()] == list(range(1, SCHEMA_VERSION + 1))
