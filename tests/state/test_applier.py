"""The applier thread against real MariaDB servers: results to waiters, barriers, replays, outages."""

from __future__ import annotations

import threading

import pymysql
import pytest

from taskraft import commands as c
from taskraft.config import MySQLSettings
from taskraft.localcluster.mysqld import MySQLServer
from taskraft.state import queries
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


def test_results_reach_waiters_and_barriers_advance_the_index(make_db):
    settings = make_db()
    applier = _applier(settings)
    try:
        waiter = applier.register("a")
        applier.enqueue_entry(2, 1, c.make_entry([_op("a", "first")]))
        assert waiter.event.wait(10) and waiter.result.task["title"] == "first"
        done = threading.Event()
        applier.call_when_applied(3, done.set)
        assert not done.is_set()
        applier.enqueue_entry(3, 1, c.BARRIER)
        assert done.wait(10)
        assert applier.applied_index == 3
    finally:
        applier.stop()


def test_a_waiter_for_an_already_applied_entry_gets_the_recorded_result(make_db):
    settings = make_db()
    applier = _applier(settings)
    try:
        first = applier.register("r1")
        applier.enqueue_entry(2, 1, c.make_entry([_op("r1", "once")]))
        assert first.event.wait(10)
        again = applier.register("r1")  # e.g. the same entry replayed after a retried commit
        applier.enqueue_entry(2, 1, c.make_entry([_op("r1", "once")]))
        applier.enqueue_entry(3, 1, c.BARRIER)
        assert again.event.wait(10)
        assert again.result.task == first.result.task and again.result.log_index == 2
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
        w = applier.register("before")
        applier.enqueue_entry(2, 1, c.make_entry([_op("before", "before")]))
        assert w.event.wait(10)
        server.kill()
        waiters = [applier.register(f"during-{i}") for i in range(5)]
        for i in range(5):
            applier.enqueue_entry(3 + i, 1, c.make_entry([_op(f"during-{i}", f"during {i}")]))
        wait_until(lambda: not applier.healthy, 20, message="applier notices the outage")
        assert applier.applied_index == 2 and applier.last_error
        server.start()
        for w in waiters:
            assert w.event.wait(30)
        assert applier.healthy and applier.applied_index == 7
        conn = pymysql.connect(**settings.connect_kwargs())
        items, _ = queries.list_tasks(conn, status=None, limit=10, after=None)
        assert [t["title"] for t in items] == ["before"] + [f"during {i}" for i in range(5)]
        assert queries.applied_index(conn) == 7
        conn.close()
    finally:
        applier.stop()


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
            wait_until(lambda: one_by_one.applied_index == index, 10)
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
