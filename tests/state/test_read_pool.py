"""The read pool against a real MariaDB: one round trip per read, and dropped connections replaced."""

from __future__ import annotations

from taskraft.state.db import read_pool


def _counters(root) -> dict[str, int]:
    with root.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_admin_commands', 'Com_rollback', 'Com_select')")
        return {name: int(value) for name, value in cur.fetchall()}


def _read(pool) -> int:
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID()")
        return int(cur.fetchone()[0])


def test_a_read_sends_its_statement_and_nothing_else(make_db, mysql_server):
    pool = read_pool(make_db(), 4)
    root = mysql_server.root_connection()
    try:
        _read(pool)  # the pool opens its connection here
        before = _counters(root)
        for _ in range(20):
            _read(pool)
        after = _counters(root)
    finally:
        root.close()
        pool.close()
    delta = {name: after[name] - before[name] for name in before}
    # no ping when a connection is borrowed (COM_PING counts as an admin command), no rollback when returned
    assert delta == {"Com_admin_commands": 0, "Com_rollback": 0, "Com_select": 20}


def test_a_connection_the_server_dropped_is_replaced_and_the_read_still_answers(make_db, mysql_server):
    pool = read_pool(make_db(), 1)
    root = mysql_server.root_connection()
    try:
        first = _read(pool)
        with root.cursor() as cur:
            cur.execute(f"KILL {first}")  # as a database restart would
        second = _read(pool)  # must not raise
        assert second != first
        assert _read(pool) == second
    finally:
        root.close()
        pool.close()
