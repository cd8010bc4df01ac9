"""Proposals: getting a write, or a read barrier, through Raft and applied on THIS node, within a deadline.

A proposal learns the index of its log entry from PySyncObj's answer (SUCCESS carries what
`apply_entry` returned: the index), then waits until this node's applied index reaches it
(`state.progress`: one ticket per write or per barrier round, woken by the applier's publish of
that index and by nobody else). A write then takes its operation's result from the applier's
recent results, or, if the operation was skipped there as already applied (a retried commit, a
replay, a snapshot install), reads it back from `raft_log` by request id.

PySyncObj errors do not prove that a command was not applied (Timeout, LEADER_CHANGED,
UNKNOWN_OUTCOME, a send silently dropped to a disconnected leader). So a write is proposed again
with the same request id on an error, or after REPROPOSE_AFTER without any answer, until an
answer gives it an index or the deadline passes; the state machine applies a request id once and
answers repeats with the first result. Once an entry carrying the write is committed, only its
apply on this node is awaited.

With TASKRAFT_READ_MODE=log (not the default: see read_index.py), linearizable reads go through a
shared barrier: a read joins the next barrier round, which is proposed only after the read began,
as an empty log entry. Once that entry is applied here, every write acknowledged before the read
began is in this node's database. Concurrent reads share one round and its one ticket, so N
readers cost one log entry, not N. The next round is proposed as soon as the one in flight is
answered.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from pysyncobj import FAIL_REASON

from ..commands import BARRIER, make_entry
from ..state.machine import OpResult
from ..state.progress import Progress, Ticket

if TYPE_CHECKING:
    from .raft import Callback

REPROPOSE_AFTER = 1.0  # seconds without any answer before the same request id is proposed again
RETRY_PAUSE = 0.05


class Unavailable(Exception):
    """No quorum answered within the deadline; the outcome of a write is unknown."""


class Proposing(Protocol):
    def propose(self, command: dict, callback: Callback) -> None: ...


def _answering(ticket: Ticket) -> Callback:
    """PySyncObj's answer to a proposal: SUCCESS arms the ticket with the entry's index (what
    `apply_entry` returned); an error fails it, which wakes its waiters early."""

    def answer(index, error) -> None:
        if error == FAIL_REASON.SUCCESS:
            ticket.arm(index)
        else:
            ticket.fail()

    return answer


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
        self._pending: list[tuple[dict, Callback]] = []
        self._in_flight: dict[int, float] = {}
        self._ids = itertools.count(1)

    def submit(self, op: dict, callback: Callback) -> None:
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

    def _propose(self, key: int, batch: list[tuple[dict, Callback]]) -> None:
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
    """`read_back(request_id, fingerprint)`: the result recorded in raft_log, None if it cannot be read now."""

    def __init__(
        self,
        raft: Proposing,
        progress: Progress,
        read_back: Callable[[str, str], OpResult | None],
        batcher: EntryBatcher | None = None,
    ):
        self._progress = progress
        self._read_back = read_back
        self._batcher = batcher or EntryBatcher(raft)

    def write(self, op: dict, deadline: float) -> OpResult:
        """Propose one operation; return its result once applied on this node, or raise Unavailable."""
        ticket = self._progress.ticket()  # every attempt arms it; the first index known wins
        self._batcher.submit(op, _answering(ticket))
        proposed_at = time.monotonic()
        while not ticket.reached:
            now = time.monotonic()
            if now >= deadline:
                raise Unavailable("no quorum within the deadline")
            if ticket.armed:
                timeout = deadline - now  # committed: only its apply here is awaited
            elif ticket.failed or now - proposed_at >= REPROPOSE_AFTER:
                if ticket.failed:
                    time.sleep(min(RETRY_PAUSE, deadline - now))
                ticket.retry()
                self._batcher.submit(op, _answering(ticket))  # again, with the same request id
                proposed_at = time.monotonic()
                continue
            else:
                timeout = min(deadline, proposed_at + REPROPOSE_AFTER) - now
            if ticket.wait(timeout):
                ticket.clear()  # reached, or an answer's error: both are looked at above
        return self._result(op, deadline)

    def _result(self, op: dict, deadline: float) -> OpResult:
        """The result of an operation applied on this node: a recent one, else the one in raft_log."""
        result = self._progress.result(op["rid"], op["fp"])
        while result is None:
            result = self._read_back(op["rid"], op["fp"])
            if result is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Unavailable("the result could not be read back within the deadline")
                time.sleep(min(RETRY_PAUSE, remaining))
        return result


class ReadBarrier:
    def __init__(self, raft: Proposing, progress: Progress, round_timeout: float = 1.0):
        self._raft = raft
        self._progress = progress
        self._round_timeout = round_timeout
        self._lock = threading.Lock()
        # A round is one ticket, shared by every reader who joined it; the one in flight, with when it left.
        self._in_flight: tuple[Ticket, float] | None = None
        self._next: Ticket | None = None

    def wait(self, deadline: float) -> None:
        """Return once a barrier proposed after this call began is applied on this node."""
        while True:
            ticket = self._join()
            while not ticket.reached:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Unavailable("no quorum within the deadline")
                if ticket.failed:
                    time.sleep(min(RETRY_PAUSE, remaining))
                    break  # join the next round
                if ticket.armed:
                    ticket.wait(remaining)  # committed: only its apply here is awaited
                elif not ticket.wait(min(remaining, self._round_timeout)) and not ticket.armed:
                    break  # no answer within the round timeout: join the next round
            else:
                return

    def _join(self) -> Ticket:
        with self._lock:
            if self._in_flight is not None and time.monotonic() - self._in_flight[1] > self._round_timeout:
                self._in_flight = None  # its answer was lost; stop waiting for it
            if self._next is None:
                self._next = self._progress.ticket()
            joined = self._next
            if self._in_flight is None:
                self._launch_locked()
        return joined

    def _launch_locked(self) -> None:
        ticket, self._next = self._next, None
        assert ticket is not None  # launched right after a round was made, or when one is waiting
        self._in_flight = (ticket, time.monotonic())
        answer = _answering(ticket)

        def on_commit(index, error) -> None:
            answer(index, error)
            self._answered(ticket)

        self._raft.propose(BARRIER, on_commit)

    def _answered(self, ticket: Ticket) -> None:
        with self._lock:
            if self._in_flight is not None and self._in_flight[0] is ticket:
                self._in_flight = None
                if self._next is not None:
                    self._launch_locked()
