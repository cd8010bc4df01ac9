"""Leadership hand-off: on SIGTERM a leader transfers leadership to a caught-up follower before it stops.

As in the Raft thesis (3.10), the leader appends nothing new meanwhile: its own queued commands
wait, and commands forwarded by followers are dropped (their senders propose them again to the next
leader). So a follower is fully caught up within one round trip, and PySyncObj's transfer, which
refuses a target that lacks the last entry, goes through at the first or second attempt instead of
racing a stream of new entries.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from pysyncobj import FAIL_REASON

log = logging.getLogger(__name__)

RETRY_AFTER_REFUSAL = 0.002  # a refused target usually acknowledges the last entry within a millisecond or two
ELECTION_WAIT = 0.5  # after TimeoutNow went out: how long to wait for the election before trying again


class Handoff:
    def __init__(self, raft) -> None:
        self._raft = raft  # the RaftNode: status, run_on_tick, wake, core
        self._holding = False
        self._lock = threading.Lock()  # SIGTERM starts one; the node's stop may ask again meanwhile

    def holding_writes(self) -> bool:
        """Whether a hand-off is under way: append nothing new."""
        return self._holding and self._raft.core.is_leader()

    def run(self, timeout: float) -> bool:
        """If leader, transfer leadership to a caught-up follower and wait until it has moved."""
        with self._lock:
            if not self._raft.status.is_leader:
                return True
            started = time.monotonic()
            progress = {"refused": 0, "timeout_now_at": None}
            moved = self._hand_off(started + timeout, progress)
            sent = progress["timeout_now_at"]
            if not moved:
                outcome = "NOT handed off"
            elif sent is None:
                outcome = "lost without a transfer (no follower was reachable and caught up)"
            else:
                outcome = "handed off"
            log.info(
                "raft: leadership %s after %.3f s (%d transfer attempts refused; TimeoutNow sent at %s)",
                outcome,
                time.monotonic() - started,
                progress["refused"],
                "-" if sent is None else f"{sent - started:.3f} s",
            )
            return moved

    def _still_leader(self) -> bool:
        return self._raft.status.is_leader

    def _hand_off(self, deadline: float, progress: dict) -> bool:
        raft = self._raft
        self._holding = True
        try:
            while time.monotonic() < deadline:
                if not self._still_leader():
                    return True
                # Each attempt has its own queue, bound now: a late answer to an earlier attempt cannot be
                # taken for this one's.
                answer: queue.SimpleQueue = queue.SimpleQueue()
                raft.run_on_tick(lambda put=answer.put: raft.core.transferLeadership(callback=lambda _r, err: put(err)))
                raft.wake()
                try:
                    error = answer.get(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    continue
                if error != FAIL_REASON.SUCCESS:
                    progress["refused"] += 1  # the target lacks the last entries: they are on their way
                    time.sleep(RETRY_AFTER_REFUSAL)
                    continue
                progress["timeout_now_at"] = time.monotonic()
                moved_by = min(deadline, time.monotonic() + ELECTION_WAIT)
                while time.monotonic() < moved_by:
                    if not self._still_leader():
                        return True
                    time.sleep(0.005)
            return not self._still_leader()
        finally:
            self._holding = False
            raft.wake()  # commands held back go out (to the new leader if there is one)
