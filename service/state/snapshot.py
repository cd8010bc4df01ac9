"""Snapshot files: PySyncObj's own tuple, and a consistent dump of the replicated tables when one is needed.

A PySyncObj snapshot carries no application data, so ours can: the file holds a header (the Raft
tuple and the index the tables are at) followed by every row of every replicated table, as a gzip
pickle stream. That full dump is what a leader streams to a follower too far behind to catch up
from the log.

Compaction itself needs no dump: every entry it drops from the journal is already committed in this
node's own database. So compaction writes a MARKER, the header alone ("tables": False), whose cost
does not grow with the database; a full dump is written only when a follower must be seeded.

    header  = {"format": 1, "raft": (last_entry, prev_entry, cluster), "state_index": N, "tables": bool}
    records = ("table", name, columns) | ("rows", name, [row, ...]) | ("end",)
"""

from __future__ import annotations

import gzip
import os
import pickle
from typing import Callable

import pymysql

from .schema import REPLICATED_TABLES

FORMAT = 1
CHUNK = 500
_PRIMARY_KEYS = {"nodes": "node_id", "tasks": "task_id", "raft_log": "log_index, op_seq", "raft_meta": "id"}


class SnapshotError(RuntimeError):
    pass


def write_dump(conn, path: str, raft_tuple, state_index: int) -> None:
    """Stream every replicated table from `conn` (already inside a consistent-snapshot transaction) to `path`."""

    def records(out) -> None:
        # Unbuffered: rows stream from the server CHUNK at a time. A buffered cursor would hold a whole
        # table (raft_log grows with every write) in memory at every snapshot.
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            for table in REPLICATED_TABLES:
                cur.execute(f"SELECT * FROM {table} ORDER BY {_PRIMARY_KEYS[table]}")
                columns = [d[0] for d in cur.description]
                pickle.dump(("table", table, columns), out, protocol=4)
                while True:
                    rows = cur.fetchmany(CHUNK)
                    if not rows:
                        break
                    pickle.dump(("rows", table, [tuple(r) for r in rows]), out, protocol=4)

    _write_file(path, {"format": FORMAT, "raft": raft_tuple, "state_index": state_index, "tables": True}, records)


def write_marker(path: str, raft_tuple, state_index: int) -> None:
    """A snapshot file without tables: the journal up to the tuple's entry may go, the database holds it."""
    header = {"format": FORMAT, "raft": raft_tuple, "state_index": state_index, "tables": False}
    _write_file(path, header, lambda out: None)


def _write_file(path: str, header: dict, records: Callable[[object], None]) -> None:
    """Header, `records(out)`, end: written to a temporary name, fsynced, then renamed into place."""
    tmp = f"{path}.writing"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
            pickle.dump(header, out, protocol=4)
            records(out)
            pickle.dump(("end",), out, protocol=4)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def has_tables(header: dict) -> bool:
    return bool(header.get("tables", True))


def read_header(path: str) -> dict:
    with gzip.open(path, "rb") as src:
        header = pickle.load(src)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotError(f"{path} is not a taskraft snapshot")
    return header


def load_dump(conn, path: str) -> int:
    """Replace the replicated tables with the dump's rows inside the caller's transaction. Returns the state index."""
    with gzip.open(path, "rb") as src, conn.cursor() as cur:
        header = pickle.load(src)
        if header.get("format") != FORMAT:
            raise SnapshotError(f"{path} is not a taskraft snapshot")
        if not has_tables(header):
            raise SnapshotError(
                f"{path} is a compaction marker at state {header['state_index']} and holds no tables; this "
                "node's database is behind it (was it replaced?). Empty the node's Raft directory so the "
                "leader seeds it with a full dump."
            )
        for table in reversed(REPLICATED_TABLES):
            cur.execute(f"DELETE FROM {table}")
        columns: dict[str, list[str]] = {}
        while True:
            record = pickle.load(src)
            if record[0] == "end":
                break
            if record[0] == "table":
                columns[record[1]] = record[2]
                continue
            _, table, rows = record
            cols = columns[table]
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", rows
            )
    return int(header["state_index"])


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
