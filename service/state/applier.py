"""The applier: a thread that owns the MySQL write connection and applies committed entries in order.

The Raft tick thread never touches MySQL. When PySyncObj applies an entry, it only hands the
entry to this queue (microseconds), so a slow or unavailable database can neither stall Raft nor
cause elections. The applier drains the queue in batches: each batch is ONE MySQL transaction
(`machine.apply_entries`), which is also where group commit pays.

Besides entries, the queue carries two markers that keep snapshots exact:
  - a snapshot request at index L (compaction): everything up to L is committed first, then a
    marker file records that the database holds the state at L (snapshot.write_marker); its cost
    does not grow with the database;
  - a snapshot install: the tables are replaced by a dump received from the leader (or found at
    restart) unless this database is already at or past it.
A full dump, needed only to seed a follower, is written off the queue by `dump_tables`.

If the database fails, the batch is rolled back and retried with backoff; nothing is skipped, and
`healthy` goes false so /readyz reports not ready.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .. import metrics
from . import snapshot
from .db import TRANSIENT_ERRORS
from .machine import LogEntry, OpResult, apply_entries, read_meta

log = logging.getLogger(__name__)

MAX_BATCH = 256


class Waiter:
    """Waits for the result of one request id, whichever log entry ends up carrying it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.result: OpResult | None = None

    def deliver(self, result: OpResult) -> None:
        self.result = result
        self.event.set()


@dataclass
class SnapshotJob:
    raft_index: int
    raft_tuple: tuple
    path: str
    state: str = "pending"  # pending -> writing -> success | failed
    state_index: int | None = None


@dataclass
class _Install:
    path: str
    state_index: int


@dataclass
class _Item:
    entry: LogEntry | None = None
    snapshot: SnapshotJob | None = None
    install: _Install | None = None


@dataclass(order=True)
class _IndexWatch:
    index: int
    seq: int
    fn: Callable[[], None] = field(compare=False)


class Applier:
    def __init__(self, connect: Callable[[], object], connect_snapshot_reader: Callable[[], object] | None = None):
        self._connect = connect
        self._connect_reader = connect_snapshot_reader or connect
        self._conn = None
        self._queue: collections.deque[_Item] = collections.deque()
        self._cond = threading.Condition()
        self._waiters: dict[str, Waiter] = {}
        self._watches: list[_IndexWatch] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.applied_index = 0
        self.healthy = False
        self.last_error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def load(self) -> int:
        """Read the applied index from the database (blocks until it answers). Call before Raft starts."""
        backoff = 0.2
        while True:
            try:
                conn = self._ensure_conn()
                with conn.cursor() as cur:
                    self.applied_index = read_meta(cur, lock=False).applied_index
                conn.commit()
                self.healthy = True
                return self.applied_index
            except TRANSIENT_ERRORS as exc:
                self._drop_conn(exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="taskraft-applier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout)
        self._drop_conn(None)

    # -- called from the Raft tick thread ----------------------------------------------------------

    def enqueue_entry(self, index: int, term: int, command: dict) -> None:
        self._put(_Item(entry=LogEntry(index, term, command)))

    def enqueue_snapshot(self, raft_index: int, raft_tuple: tuple, path: str) -> SnapshotJob:
        job = SnapshotJob(raft_index, raft_tuple, path)
        self._put(_Item(snapshot=job))
        return job

    def enqueue_install(self, path: str, state_index: int) -> None:
        self._put(_Item(install=_Install(path, state_index)))

    def _put(self, item: _Item) -> None:
        with self._cond:
            self._queue.append(item)
            self._cond.notify()

    # -- called from request threads -------------------------------------------------------------

    def register(self, request_id: str) -> Waiter:
        waiter = Waiter()
        with self._cond:
            self._waiters[request_id] = waiter
        return waiter

    def unregister(self, request_id: str, waiter: Waiter) -> None:
        with self._cond:
            if self._waiters.get(request_id) is waiter:
                del self._waiters[request_id]

    def call_when_applied(self, index: int, fn: Callable[[], None]) -> None:
        """Run `fn` (on the applier thread, or right now) once entries up to `index` are applied here."""
        with self._cond:
            if self.applied_index < index:
                heapq.heappush(self._watches, _IndexWatch(index, next(self._seq), fn))
                return
        fn()

    def backlog(self) -> int:
        return len(self._queue)

    # -- the applier thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                batch: list[LogEntry] = []
                marker: _Item | None = None
                while self._queue and len(batch) < MAX_BATCH:
                    item = self._queue.popleft()
                    if item.entry is None:
                        marker = item
                        break
                    batch.append(item.entry)
            if batch:
                self._retry(lambda: self._apply(batch))
            if marker is not None and marker.snapshot is not None:
                self._retry(lambda: self._start_snapshot(marker.snapshot))
            if marker is not None and marker.install is not None:
                self._retry(lambda: self._install(marker.install))

    def _retry(self, action: Callable[[], None]) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                action()
                self.healthy = True
                self.last_error = None
                return
            except TRANSIENT_ERRORS as exc:
                metrics.APPLY_ERRORS.inc()
                self._drop_conn(exc)
            except Exception as exc:  # a bug or a schema problem: never skip the entry, keep retrying loudly
                metrics.APPLY_ERRORS.inc()
                log.exception("apply failed; will retry without skipping")
                self._drop_conn(exc)
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _apply(self, batch: list[LogEntry]) -> None:
        last = batch[-1].index
        if all(not e.command.get("ops") for e in batch):
            # Read barriers only: nothing to write, the database state is already at `last`.
            self._advance(max(last, self.applied_index), {})
            return
        started = time.perf_counter()
        conn = self._ensure_conn()
        meta, results = self._in_transaction(conn, lambda: apply_entries(conn, batch))
        metrics.RAFT_APPLY_DURATION.observe(time.perf_counter() - started)
        self._recover_results(conn, batch, results)
        self._advance(max(last, meta.applied_index, self.applied_index), results)

    def _recover_results(self, conn, batch: list[LogEntry], results: dict[str, OpResult]) -> None:
        """Results of ops someone waits for that were skipped as already applied (a retried commit
        whose first attempt did commit, or a replay): read them back from raft_log."""
        with self._cond:
            missing = [
                op["rid"]
                for e in batch
                for op in e.command.get("ops", ())
                if op["rid"] in self._waiters and op["rid"] not in results
            ]
        if not missing:
            return
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT request_id, log_index, result FROM raft_log WHERE request_id IN ({', '.join(['%s'] * len(missing))})",
                missing,
            )
            for rid, log_index, result in cur.fetchall():
                results[rid] = OpResult.from_json(json.loads(result), int(log_index))
        conn.commit()

    def _advance(self, index: int, results: dict[str, OpResult]) -> None:
        due: list[Callable[[], None]] = []
        with self._cond:
            self.applied_index = index
            for rid, result in results.items():
                waiter = self._waiters.pop(rid, None)
                if waiter is not None:
                    waiter.deliver(result)
            while self._watches and self._watches[0].index <= index:
                due.append(heapq.heappop(self._watches).fn)
        metrics.RAFT_LAST_APPLIED.set(index)
        for fn in due:
            try:
                fn()
            except Exception:
                log.exception("applied-index callback failed")

    def _start_snapshot(self, job: SnapshotJob) -> None:
        """Compaction at index L: every entry up to L is committed in the database, so a marker will do.

        Entries that carried no ops (read barriers) do not move the stored applied index, but they
        change nothing either: the database is at L.
        """
        job.state_index = max(self.applied_index, job.raft_index)
        started = time.monotonic()
        try:
            snapshot.write_marker(job.path, job.raft_tuple, job.state_index)
        except OSError:
            log.exception("compaction marker write failed")
            job.state = "failed"
            return
        job.state = "success"
        log.info(
            "compaction marker at raft index %s (state %s) written in %.3fs",
            job.raft_index, job.state_index, time.monotonic() - started,
        )

    def dump_tables(self, path: str, raft_tuple: tuple) -> SnapshotJob:
        """Write a full dump of the tables for the snapshot whose Raft tuple is `raft_tuple`, in the background.

        For seeding a follower. The database is at or past the tuple's last entry (that snapshot's
        compaction ran after it was applied), so the dump's state index may be ahead of its Raft tuple: the
        follower that installs it skips the entries it already holds, as on any replay. The dump
        goes to `path`; putting it in place of the snapshot file is the caller's (SnapshotHooks).
        """
        job = SnapshotJob(raft_tuple[0][1], raft_tuple, path, state="writing")
        threading.Thread(target=self._write_snapshot, args=(job,), name="taskraft-snapshot", daemon=True).start()
        return job

    def _write_snapshot(self, job: SnapshotJob) -> None:
        started = time.monotonic()
        reader = None
        try:
            reader = self._connect_reader()
            with reader.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                job.state_index = max(read_meta(cur, lock=False).applied_index, job.raft_index)
            snapshot.write_dump(reader, job.path, job.raft_tuple, job.state_index)
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

    def _install(self, install: _Install) -> None:
        if install.state_index > self.applied_index:
            conn = self._ensure_conn()
            started = time.monotonic()
            state_index = self._in_transaction(conn, lambda: snapshot.load_dump(conn, install.path))
            log.info("installed snapshot at %s in %.2fs", state_index, time.monotonic() - started)
            self._advance(state_index, {})
        else:
            log.info("snapshot at %s not needed: database already at %s", install.state_index, self.applied_index)
        try:
            os.unlink(install.path)
        except OSError:
            pass

    # -- connection ------------------------------------------------------------------------------

    @staticmethod
    def _in_transaction(conn, work: Callable[[], object]):
        """Run `work` and commit; roll back (best effort) and re-raise if anything fails."""
        try:
            result = work()
            conn.commit()
            return result
        except BaseException:
            try:
                conn.rollback()
            except Exception:
                pass
            raise

    def _ensure_conn(self):
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _drop_conn(self, exc: BaseException | None) -> None:
        if exc is not None:
            self.healthy = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("database error in applier: %s", self.last_error)
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
