"""Linearizable reads without a log entry: ReadIndex (Raft dissertation §6.4).

A read waits until this node has applied a *read index*: the leader's commit index at a moment
after the read began, confirmed by a majority of voters to still belong to the newest term.

On the leader, a round:
  1. starts only once the leader has committed an entry of its own term (PySyncObj appends a
     no-op on election), so its commit index covers every entry committed by earlier leaders;
  2. records `index = commit index`;
  3. sends a READ_PING (its term, the round number) to every other voter. A voter answers with
     its own current term, unless it lost its disk or diverged (an amnesiac node may have voted
     for a newer leader before it forgot; identity.py). The round is confirmed once voters
     making a majority, the leader among them, answered with the leader's term;
  4. every read of the round then waits until this node applied `index`.
Why it is safe: a leader elected at a higher term before the read began needed the votes of a
majority, and one of them is in the confirming majority. That voter would have answered with the
higher term, since a node's term never goes back.

A follower asks the leader (READ_INDEX), which serves it in its next round and answers with the
round's index (READ_INDEX_OK); the follower waits until it applied that index itself.

Reads that begin while a round is out join the next one, so a round costs one message per voter
however many reads share it. Everything that sends or reads PySyncObj's state runs on the tick
thread (`RaftNode.run_on_tick`); readers wait on an event. A round that is not confirmed within
`round_timeout` (a lost message, a lost leadership) fails its reads, which join the next round
until their deadline. No lease is used: a read never relies on clocks.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .. import metrics
from ..state.progress import Progress
from .proposals import RETRY_PAUSE, Unavailable

READ_PING = "taskraft_read_ping"  # leader -> voter: {term, round}
READ_PONG = "taskraft_read_pong"  # voter -> leader: {term (the voter's), round}
READ_INDEX = "taskraft_read_index"  # follower -> leader: {id}
READ_INDEX_OK = "taskraft_read_index_ok"  # leader -> follower: {id, index} ({id, index: None}: refused)
MESSAGES = frozenset({READ_PING, READ_PONG, READ_INDEX, READ_INDEX_OK})
CAPABILITY = {"reads": "read_index"}  # added to the report every link opens with (identity.PeerReport)


class Waiting(Protocol):
    def wait(self, deadline: float) -> None: ...


class RaftView(Protocol):
    """What a round needs of the Raft node (RaftCore), on the tick thread."""

    raftCurrentTerm: int
    raftCommitIndex: int

    def is_leader(self) -> bool: ...
    def entry_term(self, index: int) -> int | None: ...
    @property
    def leader_id(self) -> str | None: ...
    def send(self, peer: str, message: dict) -> bool: ...


class _Batch:
    """The reads waiting on one round: set once, with the read index or as failed."""

    __slots__ = ("event", "index", "failed")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.index: int | None = None
        self.failed = False

    def settle(self, index: int | None) -> None:
        self.index, self.failed = index, index is None
        self.event.set()


@dataclass
class _Round:
    number: int
    term: int
    index: int
    started: float
    batch: _Batch | None  # this node's own reads (None: only followers' requests)
    remote: list[tuple[str, int]]  # (follower, its request id)
    acks: set[str] = field(default_factory=set)


class ReadIndex:
    def __init__(
        self,
        core: RaftView,
        progress: Progress,
        self_id: str,
        voters: Callable[[], frozenset[str]],
        may_answer: Callable[[], bool],
        run_on_tick: Callable[[Callable[[], None]], None],
        wake: Callable[[], None],
        round_timeout: float = 0.5,
    ):
        self._core = core
        self._progress = progress
        self._self = self_id
        self._voters = voters
        self._may_answer = may_answer  # False while this node may not vouch for a term (amnesiac, diverged)
        self._run_on_tick = run_on_tick
        self._wake = wake
        self._round_timeout = round_timeout
        self._lock = threading.Lock()  # guards _next (request threads add to it, the tick thread takes it)
        self._next: _Batch | None = None
        self._scheduled = False
        # Tick thread only:
        self._numbers = itertools.count(1)
        self._in_flight: _Round | None = None  # as leader
        self._remote_next: list[tuple[str, int]] = []  # followers' requests for the next round
        self._asked: tuple[int, str, float, _Batch] | None = None  # as follower: (id, leader, when, batch)
        self._held: _Batch | None = None  # own reads taken for a round that could not start yet
        self._capable: frozenset[str] = frozenset()  # peers whose report says they take part in rounds
        self.fallback: Waiting | None = None  # the log barrier, while peers that predate ReadIndex decide

    # -- peers that predate ReadIndex (a rolling upgrade) --------------------------------------------

    def note_report(self, peer: str, report: dict) -> None:
        """A peer's report (tick thread): whether it answers pings and read-index requests."""
        capable = all(report.get(k) == v for k, v in CAPABILITY.items())
        self._capable = self._capable | {peer} if capable else self._capable - {peer}

    def use_log(self) -> bool:
        """True while this node's leader, or with this node leading a majority of the voters, would not
        answer rounds: a member running an older version ignores their messages. Reads then go through a
        barrier entry in the log (`fallback`), as before ReadIndex. Without a known leader both fail alike."""
        leader = self._core.leader_id
        if leader is None or self.fallback is None:
            return False
        if leader != self._self:
            return leader not in self._capable
        voters = self._voters()
        return sum(1 for v in voters if v == self._self or v in self._capable) * 2 <= len(voters)

    # -- request threads ---------------------------------------------------------------------------

    def wait(self, deadline: float) -> None:
        """Return once this node applied a read index taken after this call began; else raise Unavailable."""
        if self.fallback is not None and self.use_log():
            return self.fallback.wait(deadline)
        while True:
            batch = self._join()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not batch.event.wait(min(remaining, self._round_timeout * 2)):
                if time.monotonic() >= deadline:
                    raise Unavailable("no quorum confirmed a read index within the deadline")
                continue  # the round's outcome never came: join a new one
            if batch.index is not None:
                self._await_applied(batch.index, deadline)
                return
            time.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))

    def _join(self) -> _Batch:
        with self._lock:
            if self._next is None:
                self._next = _Batch()
            batch, schedule = self._next, not self._scheduled
            self._scheduled = True
        if schedule:
            self._run_on_tick(self._start)
            self._wake()
        return batch

    def _await_applied(self, index: int, deadline: float) -> None:
        ticket = self._progress.ticket()
        ticket.arm(index)
        while not ticket.reached:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable("this node did not apply the read index within the deadline")
            ticket.wait(remaining)

    # -- the tick thread ---------------------------------------------------------------------------

    def _take_own(self) -> _Batch | None:
        with self._lock:
            batch, self._next, self._scheduled = self._next, None, False
        return batch

    def _start(self) -> None:
        """Send out the reads waiting here: a round as leader, a request to the leader as follower."""
        if self._in_flight is not None or self._asked is not None:
            return  # the answer to the one out starts the next
        own = self._held or self._take_own()
        self._held = None
        core = self._core
        if core.is_leader():
            if own is None and not self._remote_next:
                return
            term, commit = core.raftCurrentTerm, core.raftCommitIndex
            if core.entry_term(commit) != term:  # no entry of this term committed yet: try at the next tick
                self._held = own
                return
            remote, self._remote_next = self._remote_next, []
            voters = self._voters()
            number = next(self._numbers)
            self._in_flight = _Round(number, term, commit, time.monotonic(), own, remote)
            if self._self in voters:
                self._in_flight.acks.add(self._self)
            for peer in voters - {self._self}:
                core.send(peer, {"type": READ_PING, "term": term, "round": number})
            self._check_confirmed()
        elif own is not None:
            leader = core.leader_id
            if leader is None:
                own.settle(None)
                return
            ask = next(self._numbers)
            self._asked = (ask, leader, time.monotonic(), own)
            if not core.send(leader, {"type": READ_INDEX, "id": ask}):
                self._asked = None
                own.settle(None)

    def _check_confirmed(self) -> None:
        current = self._in_flight
        assert current is not None
        voters = self._voters()
        if len(current.acks & voters) * 2 <= len(voters):
            return
        self._in_flight = None
        metrics.READ_INDEX_ROUNDS.labels(outcome="confirmed").inc()
        self._finish(current, current.index)

    def _finish(self, done: _Round, index: int | None) -> None:
        if done.batch is not None:
            done.batch.settle(index)
        for peer, ask in done.remote:
            self._core.send(peer, {"type": READ_INDEX_OK, "id": ask, "index": index})
        self._start()

    def on_tick(self) -> None:
        """Fail what waited too long or lost its leader; start what waits."""
        now, core = time.monotonic(), self._core
        current = self._in_flight
        if current is not None:
            lost = not core.is_leader() or core.raftCurrentTerm != current.term
            if lost or now - current.started > self._round_timeout:
                self._in_flight = None
                metrics.READ_INDEX_ROUNDS.labels(outcome="failed").inc()
                self._finish(current, None)
        if self._asked is not None:
            ask, leader, started, batch = self._asked
            if core.leader_id != leader or now - started > self._round_timeout:
                self._asked = None
                batch.settle(None)
        if not core.is_leader():
            held, self._held = self._held, None
            if held is not None:
                held.settle(None)
            refused, self._remote_next = self._remote_next, []
            for peer, ask in refused:
                core.send(peer, {"type": READ_INDEX_OK, "id": ask, "index": None})
        self._start()

    def on_message(self, peer: str, message: dict) -> None:
        """One of MESSAGES from `peer` (tick thread)."""
        kind, core = message.get("type"), self._core
        if kind == READ_PING:
            if self._may_answer():
                core.send(peer, {"type": READ_PONG, "term": core.raftCurrentTerm, "round": message.get("round")})
        elif kind == READ_PONG:
            current = self._in_flight
            fresh = current is not None and message.get("round") == current.number
            if fresh and current is not None and message.get("term") == current.term and peer in self._voters():
                current.acks.add(peer)
                self._check_confirmed()
        elif kind == READ_INDEX:
            ask = message.get("id")
            if core.is_leader() and isinstance(ask, int):
                self._remote_next.append((peer, ask))
                self._start()
            else:
                core.send(peer, {"type": READ_INDEX_OK, "id": message.get("id"), "index": None})
        elif kind == READ_INDEX_OK and self._asked is not None:
            ask, leader, _, batch = self._asked
            if message.get("id") == ask and peer == leader:
                self._asked = None
                index = message.get("index")
                batch.settle(index if isinstance(index, int) else None)
                self._start()
