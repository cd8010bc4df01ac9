"""Link upkeep: every peer link carries this node's report often enough never to look idle; stuck connects are dropped.

PySyncObj drops a connection on which nothing was READ for connectionTimeout, and checks that only
when it sends. Two followers send each other nothing while a leader is alive, so when the leader
died, the first candidate's vote request found its link to the other follower "timed out": the
connection was dropped with the request in it and a split vote followed (failover 1.3-1.8 s instead
of one election timeout). Every link now carries this node's report (identity.PeerReport) each
period; the receiver reads it, keeps it, and never hands it to PySyncObj.

PySyncObj also checks a connection's timeout only when its socket has an event. A connect to an
address nothing answers any more (a pod back under a new IP) waited for the kernel's SYN retries,
about two minutes, while the name already resolved to the new address. Dropping such connects lets
PySyncObj retry and resolve the name again.
"""

from __future__ import annotations

from collections.abc import Callable

from .pysyncobj_bridge import RaftCore, raft_clock

STUCK_CHECK_EVERY = 0.5


class Links:
    core: RaftCore  # attached (RaftNode.attach) before its tick thread starts

    def __init__(self, connection_timeout: float, report: Callable[[], dict]) -> None:
        self._connection_timeout = connection_timeout
        self._report = report
        self._period = min(0.5, connection_timeout / 4)
        self._last_check = 0.0
        self._last_report = 0.0

    def on_tick(self) -> None:
        now = raft_clock()  # the clock PySyncObj stamps its connections with
        if now - self._last_check >= STUCK_CHECK_EVERY:
            self._last_check = now
            self.core.drop_stuck_connects(self._connection_timeout)
        if now - self._last_report >= self._period:
            self._last_report = now
            message = self._report()
            for peer in self.core.peers():
                self.core.send(peer, message)
