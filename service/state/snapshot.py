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

The jobs that write and install these files run on the applier's behalf (state/applier.py): a
compaction marker at its place in the queue (`write_compaction_marker`), a full dump in the
background off the queue (`dump_tables`), and an install on the applier's connection (`install`).
A `SnapshotJob` is how the Raft side (consensus/snapshot_hooks.py) follows a marker or a dump.
"""

from __future__ import annotations

import gzip
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pymysql
from pymysql.connections import Connection

from ..durable import replacing
from .db import in_transaction
from .machine import read_meta
from .schema import PRIMARY_KEYS, REPLICATED_TABLES

log = logging.getLogger(__name__)

FORMAT = 1
CHUNK = 500


class SnapshotError(RuntimeError):
    pass


def write_dump(conn, path: str, raft_tuple, state_index: int) -> None:
    """Stream every replicated table from `conn` (already inside a consistent-snapshot transaction) to `path`."""

    def records(out) -> None:
        # Unbuffered: rows stream from the server CHUNK at a time. A buffered cursor would hold a whole
        # table (raft_log grows with every write) in memory at every snapshot.
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            for table in REPLICATED_TABLES:
                cur.execute(f"SELECT * FROM {table} ORDER BY {PRIMARY_KEYS[table]}")
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
    with replacing(path, suffix=".writing") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
            pickle.dump(header, out, protocol=4)
            records(out)
            pickle.dump(("end",), out, protocol=4)


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
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", rows)
    return int(header["state_index"])


# -- the jobs ----------------------------------------------------------------------------------------


@dataclass
class SnapshotJob:
    raft_index: int
    raft_tuple: tuple
    path: str
    state: str = "pending"  # pending -> writing -> success | failed
    state_index: int | None = None


@dataclass
class Install:
    path: str
    state_index: int


def write_compaction_marker(job: SnapshotJob, applied_index: int) -> None:
    """Compaction at index L, run once every entry up to L is committed in the database: a marker will do.

    Entries that carried no ops (read barriers) do not move the stored applied index, but they
    change nothing either: the database is at L.
    """
    job.state_index = max(applied_index, job.raft_index)
    started = time.monotonic()
    try:
        write_marker(job.path, job.raft_tuple, job.state_index)
    except OSError:
        log.exception("compaction marker write failed")
        job.state = "failed"
        return
    job.state = "success"
    log.info(
        "compaction marker at raft index %s (state %s) written in %.3fs",
        job.raft_index,
        job.state_index,
        time.monotonic() - started,
    )


def dump_tables(connect: Callable[[], Connection], path: str, raft_tuple: tuple) -> SnapshotJob:
    """Write a full dump of the tables for the snapshot whose Raft tuple is `raft_tuple`, in the background.

    For seeding a follower, on a connection of its own (`connect()`). The database is at or past the
    tuple's last entry (that snapshot's compaction ran after it was applied), so the dump's state index
    may be ahead of its Raft tuple: the follower that installs it skips the entries it already holds,
    as on any replay. The dump goes to `path`; putting it in place of the snapshot file is the
    caller's (SnapshotHooks).
    """
    job = SnapshotJob(raft_tuple[0][1], raft_tuple, path, state="writing")
    threading.Thread(target=_write_dump_job, args=(connect, job), name="taskraft-snapshot", daemon=True).start()
    return job


def _write_dump_job(connect: Callable[[], Connection], job: SnapshotJob) -> None:
    started = time.monotonic()
    reader = None
    try:
        reader = connect()
        with reader.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            job.state_index = max(read_meta(cur, lock=False).applied_index, job.raft_index)
        write_dump(reader, job.path, job.raft_tuple, job.state_index)
        job.state = "success"
        log.info(
            "snapshot at raft index %s (state %s) written in %.2fs",
            job.raft_index,
            job.state_index,
            time.monotonic() - started,
        )
    except Exception:
        log.exception("snapshot write failed")
        job.state = "failed"
    finally:
        try:
            if reader is not None:
                reader.rollback()
                reader.close()
        except Exception:
            pass


def install(conn, job: Install, applied_index: int) -> int | None:
    """Replace the tables with the dump at `job.path` in one transaction on `conn`, unless the database
    (at `applied_index`) is already at or past it. Returns the new state index, or None if not needed.

    The file is removed once done with; if the load fails it is rolled back and the error raised,
    and the file stays for the next attempt.
    """
    state_index = None
    if job.state_index > applied_index:
        started = time.monotonic()
        state_index = in_transaction(conn, lambda: load_dump(conn, job.path))
        log.info("installed snapshot at %s in %.2fs", state_index, time.monotonic() - started)
    else:
        log.info("snapshot at %s not needed: database already at %s", job.state_index, applied_index)
    try:
        os.unlink(job.path)
    except OSError:
        pass
    return state_index
