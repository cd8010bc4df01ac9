"""ReadIndex rounds (consensus/read_index.py), driven by hand: an in-memory Raft view, no network.

Each test plays the tick thread itself (`Harness.tick`) and reads from a second thread, so the
order of messages is exact."""

from __future__ import annotations

import threading
import time

import pytest

from taskraft.consensus.proposals import Unavailable
from taskraft.consensus.read_index import READ_INDEX, READ_INDEX_OK, READ_PING, READ_PONG, ReadIndex
from taskraft.state.progress import Progress

ME, B, C = "a:1", "b:1", "c:1"


class FakeCore:
    def __init__(self, leader: bool = True, term: int = 3, commit: int = 10):
        self.leader = leader
        self.raftCurrentTerm = term
        self.raftCommitIndex = commit
        self.terms = {i: term for i in range(1, commit + 1)}
        self.leader_id = ME if leader else B
        self.sent: list[tuple[str, dict]] = []

    def is_leader(self) -> bool:
        return self.leader

    def entry_term(self, index: int) -> int | None:
        return self.terms.get(index)

    def send(self, peer: str, message: dict) -> bool:
        self.sent.append((peer, message))
        return True

    def take(self, kind: str) -> list[tuple[str, dict]]:
        found = [(p, m) for p, m in self.sent if m["type"] == kind]
        self.sent = [(p, m) for p, m in self.sent if m["type"] != kind]
        return found


class Harness:
    def __init__(self, core: FakeCore, voters=frozenset({ME, B, C}), may_answer=True, timeout=0.5):
        self.core = core
        self.progress = Progress()
        self.actions: list = []
        self.voters = voters
        self.may_answer = may_answer
        self.reads = ReadIndex(
            core,
            self.progress,
            ME,
            lambda: self.voters,
            lambda: self.may_answer,
            self.actions.append,
            lambda: None,
            round_timeout=timeout,
        )

    def tick(self) -> None:
        actions, self.actions[:] = list(self.actions), []
        for action in actions:
            action()
        self.reads.on_tick()

    def read(self, timeout: float = 5.0) -> dict:
        """Start a read on another thread; the dict gets "done" (True) or "error" when it ends."""
        outcome: dict = {}

        def run():
            try:
                self.reads.wait(time.monotonic() + timeout)
                outcome["done"] = True
            except Unavailable as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        outcome["thread"] = thread
        return outcome

    def until(self, predicate, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not reached"
            self.tick()
            time.sleep(0.002)


def test_leader_answers_after_a_majority_confirms_its_term_and_the_index_is_applied():
    core = FakeCore(commit=10)
    h = Harness(core)
    read = h.read()
    h.until(lambda: core.sent)
    pings = core.take(READ_PING)
    assert sorted(p for p, _ in pings) == [B, C]
    assert {m["term"] for _, m in pings} == {3}
    number = pings[0][1]["round"]
    h.reads.on_message(B, {"type": READ_PONG, "term": 3, "round": number})  # with the leader: 2 of 3
    time.sleep(0.05)
    assert "done" not in read  # confirmed, but index 10 is not applied here yet
    h.progress.publish(9)
    time.sleep(0.05)
    assert "done" not in read
    h.progress.publish(10)
    read["thread"].join(2)
    assert read.get("done")


def test_answers_of_an_older_or_newer_term_or_another_round_confirm_nothing():
    core = FakeCore()
    h = Harness(core)
    h.progress.publish(10)
    read = h.read(timeout=0.3)
    h.until(lambda: core.sent)
    number = core.take(READ_PING)[0][1]["round"]
    h.reads.on_message(B, {"type": READ_PONG, "term": 4, "round": number})  # B moved on: a newer leader may exist
    h.reads.on_message(C, {"type": READ_PONG, "term": 2, "round": number})
    h.reads.on_message(C, {"type": READ_PONG, "term": 3, "round": number + 1})
    h.reads.on_message("d:1", {"type": READ_PONG, "term": 3, "round": number})  # not a voter
    read["thread"].join(2)
    assert isinstance(read.get("error"), Unavailable)


def test_a_voter_that_may_not_vouch_gives_no_answer_and_others_answer_with_their_term():
    core = FakeCore(leader=False, term=5)
    h = Harness(core, may_answer=False)  # e.g. it lost its disk: it may have voted in a newer term
    h.reads.on_message(B, {"type": READ_PING, "term": 5, "round": 7})
    assert core.sent == []
    h.may_answer = True
    h.reads.on_message(B, {"type": READ_PING, "term": 4, "round": 8})
    assert core.sent == [(B, {"type": READ_PONG, "term": 5, "round": 8})]


def test_no_round_before_the_leader_committed_an_entry_of_its_own_term():
    core = FakeCore(term=4, commit=10)  # entries up to 10 are of term 3: elected, its no-op not committed yet
    core.terms = {i: 3 for i in range(1, 11)}
    h = Harness(core)
    h.progress.publish(11)
    read = h.read()
    for _ in range(5):
        h.tick()
    assert core.take(READ_PING) == []
    core.raftCommitIndex, core.terms[11] = 11, 4
    h.until(lambda: core.sent)
    ping = core.take(READ_PING)[0][1]
    h.reads.on_message(C, {"type": READ_PONG, "term": 4, "round": ping["round"]})
    read["thread"].join(2)
    assert read.get("done")


def test_reads_waiting_during_a_round_share_the_next_one():
    core = FakeCore()
    h = Harness(core)
    h.progress.publish(10)
    first = h.read()
    h.until(lambda: core.sent)
    round_one = core.take(READ_PING)
    later = [h.read() for _ in range(5)]
    time.sleep(0.05)
    for _ in range(3):
        h.tick()
    assert core.take(READ_PING) == []  # one round out at a time
    h.reads.on_message(B, {"type": READ_PONG, "term": 3, "round": round_one[0][1]["round"]})
    first["thread"].join(2)
    round_two = core.take(READ_PING)
    assert len(round_two) == 2  # the next round left at once, for all five
    h.reads.on_message(C, {"type": READ_PONG, "term": 3, "round": round_two[0][1]["round"]})
    for read in later:
        read["thread"].join(2)
        assert read.get("done")


def test_a_lost_leadership_fails_the_round_and_the_reads_retry_until_their_deadline():
    core = FakeCore()
    h = Harness(core)
    h.progress.publish(10)
    read = h.read(timeout=0.4)
    h.until(lambda: core.sent)
    core.leader, core.leader_id = False, None
    h.tick()
    read["thread"].join(2)
    assert isinstance(read.get("error"), Unavailable)


def test_a_follower_asks_the_leader_and_waits_for_the_index_it_gets():
    core = FakeCore(leader=False)
    h = Harness(core)
    h.progress.publish(5)
    read = h.read()
    h.until(lambda: core.sent)
    ((peer, ask),) = core.take(READ_INDEX)
    assert peer == B
    h.reads.on_message(C, {"type": READ_INDEX_OK, "id": ask["id"], "index": 8})  # not the leader asked
    h.reads.on_message(B, {"type": READ_INDEX_OK, "id": ask["id"], "index": 8})
    time.sleep(0.05)
    assert "done" not in read
    h.progress.publish(8)
    read["thread"].join(2)
    assert read.get("done")


def test_the_leader_serves_a_follower_in_its_next_round():
    core = FakeCore(commit=12)
    h = Harness(core)
    h.reads.on_message(B, {"type": READ_INDEX, "id": 41})
    ping = core.take(READ_PING)[0][1]
    assert core.sent == []  # no answer before the round is confirmed
    h.reads.on_message(C, {"type": READ_PONG, "term": 3, "round": ping["round"]})
    assert core.take(READ_INDEX_OK) == [(B, {"type": READ_INDEX_OK, "id": 41, "index": 12})]


def test_a_follower_asked_for_a_read_index_refuses():
    core = FakeCore(leader=False)
    h = Harness(core)
    h.reads.on_message(C, {"type": READ_INDEX, "id": 3})
    assert core.sent == [(C, {"type": READ_INDEX_OK, "id": 3, "index": None})]


@pytest.mark.parametrize("voters", [frozenset({ME}), frozenset({ME, B, C, "d:1", "e:1"})])
def test_the_majority_is_of_the_current_voters(voters):
    core = FakeCore()
    h = Harness(core, voters=voters)
    h.progress.publish(10)
    read = h.read(timeout=1.0)
    if len(voters) == 1:
        h.until(lambda: "done" in read or "error" in read)  # a cluster of one confirms by itself
        assert read.get("done")
        return
    h.until(lambda: core.sent)
    number = core.take(READ_PING)[0][1]["round"]
    h.reads.on_message(B, {"type": READ_PONG, "term": 3, "round": number})
    time.sleep(0.05)
    assert "done" not in read  # 2 of 5
    h.reads.on_message(C, {"type": READ_PONG, "term": 3, "round": number})
    read["thread"].join(2)
    assert read.get("done")


class CountingBarrier:
    def __init__(self):
        self.waits = 0

    def wait(self, deadline: float) -> None:
        self.waits += 1


def _report(capable: bool) -> dict:
    report = {"type": "taskraft_report", "term": 3}
    return report | ({"reads": "read_index"} if capable else {})


def test_reads_go_through_the_log_while_the_leader_predates_read_index():
    """A rolling upgrade: a member of the older version ignores the rounds' messages, so a follower whose
    leader is one of them, or a leader whose majority is made of them, reads through a log barrier."""
    core = FakeCore(leader=False)  # the leader is B
    h = Harness(core)
    h.reads.fallback = barrier = CountingBarrier()
    h.reads.note_report(B, _report(False))
    h.reads.wait(time.monotonic() + 1)
    assert barrier.waits == 1 and core.sent == []
    h.reads.note_report(B, _report(True))  # B restarted with ReadIndex
    assert not h.reads.use_log()
    h.reads.note_report(B, _report(False))  # and back (a rollback)
    assert h.reads.use_log()


def test_a_leader_needs_a_majority_that_answers_rounds():
    core = FakeCore()
    h = Harness(core)
    h.reads.fallback = CountingBarrier()
    assert h.reads.use_log()  # no report from B or C yet: only itself of 3
    h.reads.note_report(C, _report(True))
    assert not h.reads.use_log()  # itself and C
    h.voters = frozenset({ME, B, C, "d:1", "e:1"})
    assert h.reads.use_log()  # 2 of 5
    h.reads.fallback = None
    assert not h.reads.use_log()  # nothing to fall back to (TASKRAFT_READ_MODE=log has no rounds at all)
