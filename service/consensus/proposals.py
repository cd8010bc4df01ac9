"""Proposals: getting a write, or a read barrier, through Raft and applied on THIS node, within a deadline.

PySyncObj errors do not prove that a command was not applied (Timeout, LEADER_CHANGED,
UNKNOWN_OUTCOME, a send silently dropped to a disconnected leader). So a write is proposed again
with the same request id until its result arrives or the deadline passes; the state machine
applies a request id once and answers repeats with the first result.

Linearizable reads go through a shared barrier: a read joins the next barrier round, which is
proposed only after the read began, as an empty log entry. Once that entry is applied here, every
write acknowledged before the read began is in this node's database. Concurrent reads share one
round, so N readers cost one log entry, not N (the ReadIndex idea, through the log).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Protocol

from pysyncobj import FAIL_REASON

from ..commands import BARRIER, make_entry
from ..state.applier import Applier
from ..state.machine import OpResult

REPROPOSE_AFTER = 1.0  # seconds without any answer before the same request id is proposed again
RETRY_PAUSE = 0.05


class Unavailable(Exception):
    """No quorum answered within the deadline; the outcome of a write is unknown."""


class Proposing(Protocol):
    def propose(self, command: dict, callback) -> None: ...


class _Outcome:
    def __init__(self, wake: threading.Event):
        self.error: int | None = None
        self._wake = wake

    def __call__(self, _index, error) -> None:
        if error != FAIL_REASON.SUCCESS:
            self.error = error
            self._wake.set()


class EntryBatcher:
    """Group commit: operations proposed while earlier entries are still in flight travel together.

    With nothing in flight an operation is proposed at once, alone (no added latency). While
    `max_in_flight` entries await their commit, new operations queue up and leave as ONE entry
    (up to `max_ops`) when one of them commits: one Raft entry, one journal fsync per node, one
    MySQL transaction, and still one result, one idempotency record and one raft_log row per op.
    An entry whose answer never comes stops counting as in flight after `REPROPOSE_AFTER`.
    """

    def __init__(self, raft: Proposing, max_in_flight: int = 2, max_ops: int = 128):
        self._raft = raft
        self._max_in_flight = max_in_flight
        self._max_ops = max_ops
        self._lock = threading.Lock()
        self._pending: list[tuple[dict, object]] = []
        self._in_flight: dict[int, float] = {}
        self._ids = itertools.count(1)

    def submit(self, op: dict, callback) -> None:
        with self._lock:
            self._pending.append((op, callback))
            now = time.monotonic()
            for key, started in list(self._in_flight.items()):
                if now - started > REPROPOSE_AFTER:
                    del self._in_flight[key]
            batch = self._take_locked()
        if batch:
            self._propose(*batch)

    def _take_locked(self):
        if not self._pending or len(self._in_flight) >= self._max_in_flight:
            return None
        batch, self._pending = self._pending[: self._max_ops], self._pending[self._max_ops :]
        key = next(self._ids)
        self._in_flight[key] = time.monotonic()
        return key, batch

    def _propose(self, key: int, batch: list[tuple[dict, object]]) -> None:
        def on_commit(index, error) -> None:
            for _, callback in batch:
                callback(index, error)
            with self._lock:
                self._in_flight.pop(key, None)
                following = self._take_locked()
            if following:
                self._propose(*following)

        self._raft.propose(make_entry([op for op, _ in batch]), on_commit)


class Proposer:
    def __init__(self, raft: Proposing, applier: Applier, batcher: EntryBatcher | None = None):
        self._applier = applier
        self._batcher = batcher or EntryBatcher(raft)

    def write(self, op: dict, deadline: float) -> OpResult:
        """Propose one operation; return its result once applied on this node, or raise Unavailable."""
        waiter = self._applier.register(op["rid"])
        try:
            while True:
                outcome = _Outcome(waiter.event)
                self._batcher.submit(op, outcome)
                proposed_at = time.monotonic()
                while True:
                    if waiter.result is not None:
                        return waiter.result
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise Unavailable("no quorum within the deadline")
                    waiter.event.wait(min(remaining, 0.1))
                    if waiter.result is not None:
                        return waiter.result
                    if outcome.error is not None:
                        waiter.event.clear()
                        time.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
                        break  # propose again with the same request id
                    if time.monotonic() - proposed_at > REPROPOSE_AFTER:
                        break
        finally:
            self._applier.unregister(op["rid"], waiter)


class _Round:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.started = 0.0


class ReadBarrier:
    def __init__(self, raft: Proposing, applier: Applier, round_timeout: float = 1.0):
        self._raft = raft
        self._applier = applier
        self._round_timeout = round_timeout
        self._lock = threading.Lock()
        self._in_flight: _Round | None = None
        self._next: _Round | None = None

    def wait(self, deadline: float) -> None:
        """Return once a barrier proposed after this call began is applied on this node."""
        while True:
            with self._lock:
                now = time.monotonic()
                if self._in_flight is not None and now - self._in_flight.started > self._round_timeout:
                    self._in_flight = None  # its answer was lost; stop waiting for it
                if self._next is None:
                    self._next = _Round()
                joined = self._next
                if self._in_flight is None:
                    self._launch_locked()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable("no quorum within the deadline")
            if joined.done.wait(min(remaining, self._round_timeout)) and joined.ok:
                return
            if joined.done.is_set():
                time.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))

    def _launch_locked(self) -> None:
        rnd, self._next = self._next, None
        rnd.started = time.monotonic()
        self._in_flight = rnd

        def on_commit(index, error) -> None:
            if error == FAIL_REASON.SUCCESS:
                self._applier.call_when_applied(index, lambda: self._finish(rnd, True))
            else:
                self._finish(rnd, False)

        self._raft.propose(BARRIER, on_commit)

    def _finish(self, rnd: _Round, ok: bool) -> None:
        rnd.ok = ok
        rnd.done.set()
        with self._lock:
            if self._in_flight is rnd:
                self._in_flight = None
                if self._next is not None:
                    self._launch_locked()
