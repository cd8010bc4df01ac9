"""The applier thread against real MariaDB servers: results to waiters, barriers, replays, outages."""

from __future__ import annotations

import threading
import time

import pymysql
import pytest

from taskraft import commands as c
from taskraft.config import MySQLSettings
from taskraft.localcluster.mysqld import MySQLServer
from taskraft.state import queries, recorded
from taskraft.state.applier import Applier
from taskraft.state.schema import migrate

from ..helpers import free_port, wait_until


def _op(rid, title):
    return c.make_op(c.OP_CREATE, origin="n", origin_addr="n:1", args={"title": title}, request_id=rid, ts_ms=1)


def _applier_unstarted(settings: MySQLSettings) -> Applier:
    applier = Applier(lambda: pymysql.connect(**settings.connect_kwargs()))
    applier.load()
    return applier


def _applier(settings: MySQLSettings) -> Applier:
    applier = _applier_unstarted(settings)
    applier.start()
    return applier


def _ticket(applier: Applier, index: int):
    ticket = applier.progress.ticket()
    ticket.arm(index)
    return ticket


def test_results_reach_waiters_and_barriers_advance_the_index(make_db):
    settings = make_db()
    applier = _applier(settings)
    try:
        op = _op("a", "first")
        ticket = _ticket(applier, 2)
        applier.enqueue_entry(2, 1, c.make_entry([op]))
        assert ticket.wait(10) and ticket.reached
        assert applier.progress.result("a", op["fp"]).task["title"] == "first"
        done = threading.Event()
        applier.call_when_applied(3, done.set)
        barrier = _ticket(applier, 3)
        assert not done.is_set() and not barrier.reached
        applier.enqueue_entry(3, 1, c.BARRIER)
        assert done.wait(10) and barrier.wait(10)
        assert applier.applied_index == 3
    finally:
        applier.stop()


def test_an_operation_skipped_as_already_applied_is_read_back_from_raft_log(make_db):
    settings = make_db()
    applier = _applier(settings)
    try:
        op = _op("r1", "once")
        first = _ticket(applier, 2)
        applier.enqueue_entry(2, 1, c.make_entry([op]))
        assert first.wait(10)
        applied = applier.progress.result("r1", op["fp"])
        # The same entry again (a retried commit whose first attempt did commit, or a replay) is skipped:
        # it produces no result, and the one published first is still the one recorded.
        again = _ticket(applier, 3)
        applier.enqueue_entry(2, 1, c.make_entry([op]))
        applier.enqueue_entry(3, 1, c.BARRIER)
        assert again.wait(10)
        conn = pymysql.connect(**settings.connect_kwargs())
        try:
            from_log = recorded.read_result(conn, "r1", op["fp"])
            assert from_log.task == applied.task and from_log.log_index == 2
            other = _op("r1", "another request with the same key")
            assert recorded.read_result(conn, "r1", other["fp"]).outcome == c.KEY_REUSED
            assert recorded.read_result(conn, "never", op["fp"]) is None
        finally:
            conn.close()
    finally:
        applier.stop()


def test_a_reused_request_id_never_hands_one_request_the_result_of_another(make_db):
    """Two requests with one idempotency key in one batch: each finds its own result (the second is
    refused), the first through raft_log since the recent one under that key is the refusal."""
    settings = make_db()
    applier = _applier_unstarted(settings)
    try:
        first, second = _op("k", "first"), _op("k", "second")
        applier.enqueue_entry(2, 1, c.make_entry([first]))
        applier.enqueue_entry(3, 1, c.make_entry([second]))
        ticket = _ticket(applier, 3)
        applier.start()
        assert ticket.wait(10)
        assert applier.progress.result("k", second["fp"]).outcome == c.KEY_REUSED
        assert applier.progress.result("k", first["fp"]) is None
        conn = pymysql.connect(**settings.connect_kwargs())
        try:
            assert recorded.read_result(conn, "k", first["fp"]).task["title"] == "first"
        finally:
            conn.close()
    finally:
        applier.stop()


@pytest.fixture
def own_server(tmp_path):
    server = MySQLServer(tmp_path / "db", free_port()).start()
    server.bootstrap("taskraft", "taskraft", "pw")
    settings = MySQLSettings(port=server.port, user="taskraft", password="pw", database="taskraft")
    conn = pymysql.connect(**settings.connect_kwargs())
    migrate(conn)
    conn.close()
    yield server, settings
    server.stop()


def test_a_database_outage_pauses_apply_and_nothing_is_skipped(own_server):
    server, settings = own_server
    applier = _applier(settings)
    try:
        before = _ticket(applier, 2)
        applier.enqueue_entry(2, 1, c.make_entry([_op("before", "before")]))
        assert before.wait(10)
        server.kill()
        ops = [_op(f"during-{i}", f"during {i}") for i in range(5)]
        tickets = [_ticket(applier, 3 + i) for i in range(5)]
        for i, op in enumerate(ops):
            applier.enqueue_entry(3 + i, 1, c.make_entry([op]))
        wait_until(lambda: not applier.healthy, 20, message="applier notices the outage")
        assert applier.applied_index == 2 and applier.last_error
        assert not any(t.reached for t in tickets)
        server.start()
        for t in tickets:
            assert t.wait(30)
        assert applier.healthy and applier.applied_index == 7
        assert [applier.progress.result(op["rid"], op["fp"]).task["title"] for op in ops] == [
            f"during {i}" for i in range(5)
        ]
        conn = pymysql.connect(**settings.connect_kwargs())
        items, _ = queries.list_tasks(conn, status=None, limit=10, after=None)
        assert [t["title"] for t in items] == ["before"] + [f"during {i}" for i in range(5)]
        assert queries.applied_index(conn) == 7
        conn.close()
    finally:
        applier.stop()


def test_stopping_cuts_a_backoff_short(own_server):
    """During an outage the applier backs off up to 2 s between attempts; a stop does not wait that out."""
    server, settings = own_server
    applier = _applier(settings)
    loaded = applier.applied_index
    server.kill()
    applier.enqueue_entry(2, 1, c.make_entry([_op("x", "x")]))
    wait_until(lambda: not applier.healthy, 20, message="applier notices the outage")
    time.sleep(4)  # 50 ms, 100, 200, ... : the backoff is now between 1.6 and 2 s
    started = time.monotonic()
    applier.stop()
    assert time.monotonic() - started < 0.5
    assert applier.applied_index == loaded


def test_the_stored_state_does_not_depend_on_how_barriers_were_batched(make_db):
    """One replica applies [write, barrier] in one batch, another one entry at a time (a barrier
    alone is skipped without touching the database): their tables, raft_meta included, are equal."""
    log = [(2, c.make_entry([_op("w1", "one")])), (3, c.BARRIER), (4, c.make_entry([_op("w2", "two")])), (5, c.BARRIER)]
    databases = [make_db(), make_db()]
    together, one_by_one = _applier_unstarted(databases[0]), _applier(databases[1])
    try:
        for index, command in log:
            together.enqueue_entry(index, 1, command)
        together.start()
        for index, command in log:
            one_by_one.enqueue_entry(index, 1, command)
            wait_until(lambda index=index: one_by_one.applied_index == index, 10)
        wait_until(lambda: together.applied_index == 5, 10)
        sums = []
        for settings in databases:
            conn = pymysql.connect(**settings.connect_kwargs())
            sums.append(queries.table_checksums(conn))
            assert queries.applied_index(conn) == 4  # the last entry that carried operations
            conn.close()
        assert sums[0] == sums[1]
    finally:
        together.stop()
        one_by_one.stop()
