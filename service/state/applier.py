"""The applier: a thread that owns the MySQL write connection and applies committed entries in order.

The Raft tick thread never touches MySQL. When PySyncObj applies an entry, it only hands the
entry to this queue (microseconds), so a slow or unavailable database can neither stall Raft nor
cause elections. The applier drains the queue in batches: each batch is ONE MySQL transaction
(`machine.apply_entries`), which is also where group commit pays. After each, it publishes the new
applied index and the results of the operations it applied (`progress.Progress`), which wakes the
threads waiting for them.

Besides entries, the queue carries two markers that keep snapshots exact (the jobs themselves are
in snapshot.py):
  - a snapshot request at index L (compaction): everything up to L is committed first, then a
    marker file records that the database holds the state at L; its cost does not grow with the
    database;
  - a snapshot install: the tables are replaced by a dump received from the leader (or found at
    restart) unless this database is already at or past it.
A full dump, needed only to seed a follower, is written off the queue by `dump_tables`.

If the database fails, the batch is rolled back and retried with backoff (up to 2 s between
attempts); nothing is skipped, and `healthy` goes false so /readyz reports not ready.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pymysql.connections import Connection
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from .. import commands as c
from .. import metrics
from . import snapshot
from .db import TRANSIENT_ERRORS, in_transaction
from .machine import Diverged, LogEntry, OpResult, apply_entries, read_meta
from .progress import Progress
from .snapshot import Install, SnapshotJob

log = logging.getLogger(__name__)

MAX_BATCH = 256
FIRST_BACKOFF = 0.05  # seconds after the first failed attempt at a batch; doubled after each failure
MAX_BACKOFF = 2.0  # seconds between two attempts, at most


@dataclass
class _Item:
    entry: LogEntry | None = None
    snapshot: SnapshotJob | None = None
    install: Install | None = None


class Applier:
    def __init__(self, connect: Callable[[], Connection]):
        self._connect = connect
        self._conn: Connection | None = None
        self._queue: collections.deque[_Item] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.progress = Progress()
        self.healthy = False
        self.last_error: str | None = None
        self.diverged: str | None = None  # set once: nothing more is applied (see rebuild.py)
        # Moves after a batch that applied a user or token op, and after a snapshot install: a cache of
        # credentials (auth/verifier.py) kept at another value is stale, so a revoke takes effect here
        # as soon as it is applied.
        self.auth_epoch = 0
        # After a failed attempt: until the action succeeds or the applier stops (a stop also cuts
        # a backoff short), waiting 2 x FIRST_BACKOFF, then twice as long each time, up to MAX_BACKOFF.
        self._until_done = Retrying(
            wait=wait_exponential(multiplier=2 * FIRST_BACKOFF, max=MAX_BACKOFF),
            stop=lambda _state: self._stopping.is_set(),
            sleep=self._pause,
            retry_error_callback=lambda _state: None,
        )

    @property
    def applied_index(self) -> int:
        return self.progress.index

    def _pause(self, seconds: float) -> None:
        """Tenacity's sleep between attempts: cut short by a stop."""
        self._stopping.wait(seconds)

    # -- lifecycle ---------------------------------------------------------------------------

    def load(self) -> int:
        """Read the applied index from the database (blocks until it answers). Call before Raft starts."""
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            wait=wait_exponential(multiplier=0.2, max=MAX_BACKOFF),
            stop=lambda _state: self._stopping.is_set(),
            sleep=self._pause,
            reraise=True,
        )
        return retrying(self._load_once)

    def _load_once(self) -> int:
        try:
            conn = self._ensure_conn()
            with conn.cursor() as cur:
                index = read_meta(cur, lock=False).applied_index
            conn.commit()
        except TRANSIENT_ERRORS as exc:
            self._drop_conn(exc)
            raise
        self._publish(index)
        self.healthy = True
        return index

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="taskraft-applier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping.set()
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
        self._put(_Item(install=Install(path, state_index)))

    def _put(self, item: _Item) -> None:
        with self._cond:
            self._queue.append(item)
            self._cond.notify()

    def dump_tables(self, path: str, raft_tuple: tuple) -> SnapshotJob:
        """A full dump of the tables for the snapshot at `raft_tuple`, written in the background on a
        connection of its own (snapshot.dump_tables)."""
        return snapshot.dump_tables(self._connect, path, raft_tuple)

    # -- called from any thread ------------------------------------------------------------------

    def call_when_applied(self, index: int, fn: Callable[[], None]) -> None:
        """Run `fn` (on the applier thread, or right now) once entries up to `index` are applied here."""
        self.progress.call_when(index, fn)

    # -- the applier thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping.is_set():
                    self._cond.wait()
                if self._stopping.is_set():
                    return
                batch: list[LogEntry] = []
                marker: _Item | None = None
                while self._queue and len(batch) < MAX_BATCH:
                    item = self._queue.popleft()
                    if item.entry is None:
                        marker = item
                        break
                    batch.append(item.entry)
            self._process(batch, marker)

    def _process(self, batch: list[LogEntry], marker: _Item | None) -> None:
        if batch:
            self._retry(lambda: self._apply(batch))
        if marker is not None and marker.snapshot is not None:
            job = marker.snapshot
            self._retry(lambda: snapshot.write_compaction_marker(job, self.applied_index))
        if marker is not None and marker.install is not None:
            install = marker.install
            self._retry(lambda: self._install(install))

    def _retry(self, action: Callable[[], None]) -> None:
        """Run `action` until it succeeds, backing off from 50 ms to 2 s; give up only when stopping.

        The first attempt runs bare: tenacity's bookkeeping (some 20 us) is paid only after a failure.
        """
        try:
            self._attempt(action)
        except Exception:
            if not self._stopping.wait(FIRST_BACKOFF):
                self._until_done(self._attempt, action)

    def _attempt(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Diverged as exc:  # never apply on top of it: the node is rebuilt from the leader
            self.diverged = self.last_error = f"diverged: {exc}"
            self.healthy = False
            log.critical("applier: %s; applying stops", exc)
            self._stopping.set()
            raise
        except TRANSIENT_ERRORS as exc:
            metrics.APPLY_ERRORS.inc()
            self._drop_conn(exc)
            raise
        except Exception as exc:  # a bug or a schema problem: never skip the entry, keep retrying loudly
            metrics.APPLY_ERRORS.inc()
            log.exception("apply failed; will retry without skipping")
            self._drop_conn(exc)
            raise
        self.healthy = True
        self.last_error = None

    def _apply(self, batch: list[LogEntry]) -> None:
        last = batch[-1].index
        if all(not e.command.get("ops") for e in batch):
            # Read barriers only: nothing to write, the database state is already at `last`.
            self._publish(last)
            return
        started = time.perf_counter()
        conn = self._ensure_conn()
        meta, results = in_transaction(conn, lambda: apply_entries(conn, batch))
        metrics.RAFT_APPLY_DURATION.observe(time.perf_counter() - started)
        if any(op.get("op") in c.AUTH_OPS for entry in batch for op in entry.command.get("ops", ())):
            self.auth_epoch += 1
        self._publish(max(last, meta.applied_index), _by_operation(batch, results))

    def _install(self, install: Install) -> None:
        state_index = snapshot.install(self._ensure_conn(), install, self.applied_index)
        if state_index is not None:
            self.auth_epoch += 1
            self._publish(state_index)

    def _publish(self, index: int, results: list[tuple[str, str, OpResult]] | None = None) -> None:
        self.progress.publish(index, results or ())
        metrics.RAFT_LAST_APPLIED.set(self.progress.index)

    # -- connection ------------------------------------------------------------------------------

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


def _by_operation(batch: list[LogEntry], results: dict[str, OpResult]) -> list[tuple[str, str, OpResult]]:
    """(request id, fingerprint, result) for each operation of the batch that has a result.

    In order: when one request id comes with several fingerprints (a reused idempotency key), the
    state machine's result is that of its last operation, and so is the last triple published.
    Operations of entries skipped as already applied have no result; their waiters read it back.
    """
    return [
        (op["rid"], op["fp"], result)
        for entry in batch
        for op in entry.command.get("ops", ())
        if (result := results.get(op["rid"])) is not None
    ]
