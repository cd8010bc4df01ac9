"""Read-side queries the API makes against this replica's database."""

from __future__ import annotations

import hashlib
import json

from .machine import read_meta
from .rows import TASK_COLUMNS, rfc3339, task_from_row
from .schema import REPLICATED_TABLES


def get_task(conn, task_id: int) -> dict | None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = %s", (task_id,))
        row = cur.fetchone()
    return task_from_row(row) if row else None


def list_tasks(conn, *, status: str | None, limit: int, after: int | None) -> tuple[list[dict], int | None]:
    """Cursor pagination by id: returns one page and the cursor of the next page (None at the end)."""
    where: list[str] = []
    params: list[object] = []
    if status:
        where.append("task_status = %s")
        params.append(status)
    if after is not None:
        where.append("task_id > %s")
        params.append(after)
    sql = f"SELECT {TASK_COLUMNS} FROM tasks"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY task_id LIMIT %s"
    params.append(limit + 1)
    with conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    items = [task_from_row(r) for r in rows[:limit]]
    next_cursor = items[-1]["id"] if len(rows) > limit else None
    return items, next_cursor


def task_history(conn, task_id: int) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT log_index, op_seq, term, op, origin_node, request_id, payload, outcome, applied_at, acting_user"
            " FROM raft_log WHERE task_id = %s ORDER BY log_index, op_seq",
            (task_id,),
        )
        rows = cur.fetchall()
    return [
        {
            "log_index": int(r[0]),
            "op_seq": int(r[1]),
            "term": int(r[2]),
            "op": r[3],
            "origin_node": r[4],
            "request_id": r[5],
            "payload": json.loads(r[6]),
            "outcome": r[7],
            "applied_at": rfc3339(r[8]),
            "user": r[9],
        }
        for r in rows
    ]


def count_by_status(conn) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute("SELECT task_status, COUNT(*) FROM tasks GROUP BY task_status")
        return {status: int(n) for status, n in cur.fetchall()}


def applied_index(conn) -> int:
    with conn.cursor() as cur:
        return read_meta(cur, lock=False).applied_index


def cluster_id(conn) -> str | None:
    """The id the cluster committed when it formed (None before that)."""
    with conn.cursor() as cur:
        return read_meta(cur, lock=False).cluster_id


def nodes(conn) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("SELECT node_id, raft_address, api_url, first_seen FROM nodes ORDER BY node_id")
        return [
            {"node_id": r[0], "raft_address": r[1], "api_url": r[2], "first_seen": rfc3339(r[3])}
            for r in cur.fetchall()
        ]


def table_checksums(conn) -> dict[str, str]:
    """A SHA-256 per replicated table over its rows in key order: equal on replicas that converged."""
    sums = {}
    with conn.cursor() as cur:
        for table in REPLICATED_TABLES:
            cur.execute(
                f"SELECT * FROM {table} ORDER BY 1, 2" if table == "raft_log" else f"SELECT * FROM {table} ORDER BY 1"
            )
            digest = hashlib.sha256()
            for row in cur.fetchall():
                digest.update(repr(tuple(_normalise(v) for v in row)).encode())
            sums[table] = digest.hexdigest()
    return sums


def _normalise(value):
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return str(value)
