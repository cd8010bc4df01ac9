"""Backups of this node's database: the tables read at one applied index, and loaded back.

A backup reads inside one `START TRANSACTION WITH CONSISTENT SNAPSHOT` on a connection of its own:
InnoDB's MVCC gives it every table as of one commit of the applier, so at exactly one applied index
(the applier moves `raft_meta.applied_index` in the same transaction as the effects), and the
applier goes on writing meanwhile: a backup holds up neither writes nor Raft. Rows stream from the
server a chunk at a time (an unbuffered cursor), so memory does not grow with the tables.

A load replaces every replicated table with a backup's rows in one transaction, as the state of a
NEW cluster: the cluster id is cleared (the new cluster commits its own, cluster_formation.py),
and so is the configuration (the new members are the new cluster's peers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import IO

import pymysql

from . import backup_format as fmt
from .machine import read_meta
from .schema import PRIMARY_KEYS, REPLICATED_TABLES, SCHEMA_VERSION

# Tables whose rows a restored cluster does not take: its own configuration replaces them.
NOT_RESTORED = frozenset({"members"})


class TableSnapshot:
    """A consistent read of the tables on `conn` (its own connection, closed by `close`)."""

    def __init__(self, conn, *, node_id: str, consistency: str):
        self._conn = conn
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            self.meta = read_meta(cur, lock=False)
        self.header = fmt.header(
            schema_version=SCHEMA_VERSION,
            cluster_id=self.meta.cluster_id,
            applied_index=self.meta.applied_index,
            applied_term=self.meta.applied_term,
            node_id=node_id,
            consistency=consistency,
            created_at=dt.datetime.now(dt.UTC),
        )
        self.encoder = fmt.Encoder()

    def chunks(self) -> Iterator[bytes]:
        """The backup file's bytes, compressed, a chunk at a time."""
        enc = self.encoder
        yield enc.start(self.header)
        with self._conn.cursor(pymysql.cursors.SSCursor) as cur:
            for table in REPLICATED_TABLES:
                cur.execute(f"SELECT * FROM {table} ORDER BY {PRIMARY_KEYS[table]}")
                data = enc.table(table, [d[0] for d in cur.description])
                while True:
                    rows = cur.fetchmany(fmt.CHUNK)
                    if not rows:
                        break
                    data += enc.rows_chunk(rows)
                    if len(data) >= 1 << 16:
                        yield data
                        data = b""
                if data:
                    yield data
        yield enc.finish()

    def close(self) -> None:
        try:
            self._conn.rollback()
        except Exception:
            pass
        try:
            self._conn.close()
        except Exception:
            pass


def load(conn, src: IO[bytes]) -> fmt.BackupInfo:
    """Replace the replicated tables with the backup read from `src`, in the caller's transaction on `conn`
    (committed by the caller). The file should have been verified first: a BackupError here rolls back."""
    info: fmt.BackupInfo | None = None
    with conn.cursor() as cur:
        existing = {table: _columns(cur, table) for table in REPLICATED_TABLES}
        for table in reversed(REPLICATED_TABLES):
            cur.execute(f"DELETE FROM {table}")
        columns: dict[str, list[str]] = {}
        for kind, value in fmt.read(src):
            if kind == "table":
                name, cols = value
                unknown = [col for col in cols if col not in existing[name]]
                if unknown:
                    raise fmt.BackupError(f"{name} has columns this schema lacks: {', '.join(unknown)}")
                columns[name] = cols
            elif kind == "rows":
                name, rows = value
                if name in NOT_RESTORED or not rows:
                    continue
                cols = columns[name]
                if any(len(row) != len(cols) for row in rows):
                    raise fmt.BackupError(f"a row of {name} has the wrong number of values: the file is corrupted")
                cur.executemany(
                    f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", rows
                )
            elif kind == "end":
                info = value
        if info is None or info.rows.get("raft_meta") != 1:
            raise fmt.BackupError("the backup holds no raft_meta row: the file is corrupted")
        cur.execute(
            "UPDATE raft_meta SET applied_index = %s, applied_term = %s, cluster_id = NULL, config_index = 0"
            " WHERE id = 1",
            (info.applied_index, info.applied_term),
        )
        cur.execute("UPDATE nodes SET member_role = NULL")
    return info


def _columns(cur, table: str) -> set[str]:
    cur.execute(f"SELECT * FROM {table} LIMIT 0")
    return {d[0] for d in cur.description}


def applied_index(conn) -> int:
    with conn.cursor() as cur:
        return read_meta(cur, lock=False).applied_index
