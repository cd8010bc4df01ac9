"""How far this node's database got: the applied index, the results it just produced, and waiting for an index.

The applier publishes after every transaction it commits: the new applied index and the result of
every operation it applied, by request id. A thread that needs "applied >= N" takes a `Ticket`,
arms it with N (now, or later, once N is known: a proposal learns the index of its entry when
PySyncObj answers), and waits on it. Tickets wait in a heap ordered by index, so a publish wakes
exactly the tickets it reached, each through its own event: a batch wakes the writers whose
entries it applied, not every waiting thread. A ticket can also fail (the proposal that was to
give its index was refused), which wakes its waiters early, and one ticket can be shared: every
reader of one barrier round waits on the round's ticket.

Recent results are kept in a bounded map, oldest out first. A waiter woken at its index finds its
operation's result there, unless the operation was skipped as already applied (a retried commit,
a replay, a snapshot install) or the map moved on: then the result is in `raft_log`
(`recorded.read_result`). Each result is kept with the fingerprint of the operation that produced
it, so a different request reusing the request id is never handed another request's result.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Iterable

from .machine import OpResult

log = logging.getLogger(__name__)

RECENT_RESULTS = 4096  # operations whose results stay in memory after they are applied


class Ticket:
    """One wait for "applied >= index"; the index may be given after the wait began (`arm`)."""

    __slots__ = ("_progress", "_event", "_notify", "index", "failed")

    def __init__(self, progress: Progress, notify: Callable[[], None] | None = None):
        self._progress = progress
        self._event: threading.Event | None = None
        if notify is None:
            self._event = threading.Event()
            notify = self._event.set
        self._notify = notify
        self.index: int | None = None
        self.failed = False  # the attempt that was to give the index will not (see `fail`)

    def arm(self, index: int) -> None:
        """Wake this ticket once entries up to `index` are applied. Armed twice, the lower index wins."""
        self._progress._arm(self, index)

    @property
    def armed(self) -> bool:
        return self.index is not None

    @property
    def reached(self) -> bool:
        return self.index is not None and self._progress.index >= self.index

    def fail(self) -> None:
        """No index will come from the attempt under way (a refused proposal): wake the waiters, who
        see `failed` and may try again (`retry`)."""
        self.failed = True
        self._notify()

    def retry(self) -> None:
        """A new attempt is under way: forget the failure of the last one."""
        self.failed = False

    def wake(self) -> None:
        """Wake the waiters now, whether or not the index was reached (they check `reached`)."""
        self._notify()

    def wait(self, timeout: float) -> bool:
        """Block until reached or woken (True), or `timeout` seconds (False). Event tickets only."""
        assert self._event is not None, "a ticket with its own notify has no event to wait on"
        return self._event.wait(timeout)

    def clear(self) -> None:
        """Forget an early wake-up; check `reached` after clearing, a publish may have come first."""
        assert self._event is not None, "a ticket with its own notify has no event to clear"
        self._event.clear()


class Progress:
    def __init__(self, keep_results: int = RECENT_RESULTS):
        self._lock = threading.Lock()
        self._index = 0
        self._results: collections.OrderedDict[str, tuple[str, OpResult]] = collections.OrderedDict()
        self._keep = keep_results
        self._pending: list[tuple[int, int, Ticket]] = []  # heap of armed tickets not reached yet
        self._seq = itertools.count()

    @property
    def index(self) -> int:
        """The applied index: every entry up to it is in the database (or changed nothing)."""
        return self._index

    def ticket(self, notify: Callable[[], None] | None = None) -> Ticket:
        """A new, unarmed ticket. With `notify`, reaching it (or `wake`) calls `notify` instead of
        setting an event, on the publishing thread: it must be quick and must not block."""
        return Ticket(self, notify)

    def call_when(self, index: int, fn: Callable[[], None]) -> None:
        """Call `fn` once entries up to `index` are applied (right away if they are)."""
        self.ticket(fn).arm(index)

    def publish(self, index: int, results: Iterable[tuple[str, str, OpResult]] = ()) -> None:
        """Entries up to `index` are applied; `results` are (request id, fingerprint, result) of the
        operations just applied. The index never moves back."""
        with self._lock:
            kept = self._results
            for rid, fingerprint, result in results:
                kept[rid] = (fingerprint, result)
                kept.move_to_end(rid)
            while len(kept) > self._keep:
                kept.popitem(last=False)
            if index > self._index:
                self._index = index
            due = []
            pending = self._pending
            while pending and pending[0][0] <= self._index:
                armed_at, _, ticket = heapq.heappop(pending)
                if armed_at == ticket.index:  # else armed again at a lower index, and woken then
                    due.append(ticket)
        for ticket in due:
            _wake(ticket)

    def result(self, request_id: str, fingerprint: str) -> OpResult | None:
        """The result of the operation (request id and fingerprint) if it is among the recent ones."""
        with self._lock:
            kept = self._results.get(request_id)
        if kept is None or kept[0] != fingerprint:
            return None
        return kept[1]

    def _arm(self, ticket: Ticket, index: int) -> None:
        with self._lock:
            if ticket.index is not None and ticket.index <= index:
                return
            ticket.index = index
            if index > self._index:
                heapq.heappush(self._pending, (index, next(self._seq), ticket))
                return
        _wake(ticket)


def _wake(ticket: Ticket) -> None:
    try:
        ticket.wake()
    except Exception:
        log.exception("applied-index callback failed")
