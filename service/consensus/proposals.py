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


class Proposer:
    def __init__(self, raft: Proposing, applier: Applier):
        self._raft = raft
        self._applier = applier

    def write(self, op: dict, deadline: float) -> OpResult:
        """Propose one operation; return its result once applied on this node, or raise Unavailable."""
        waiter = self._applier.register(op["rid"])
        try:
            while True:
                outcome = _Outcome(waiter.event)
                self._raft.propose(make_entry([op]), outcome)
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
