"""When this node stands for election: its timeout slice, standing soon after refusing a candidate behind it,
and not standing while a peer reports commits this node's log lacks.

Only liveness depends on these: Raft's vote rules keep elections safe whatever the timeouts, and a
node that refrains from standing never endangers safety.
"""

from __future__ import annotations

from ..config import NodeConfig, RaftTimings
from .pysyncobj_bridge import RaftCore, raft_clock

REPORT_FRESH = 2.0  # seconds a peer's report counts (reports come every half second on every link)


def election_timeout_range(cfg: NodeConfig) -> tuple[float, float]:
    """This node's election timeout range: its own slice of [min, max] when ranked, else all of it.

    With one shared range, the two followers a dead leader leaves behind time out within a few
    milliseconds of each other now and then (about one failover in 25 with 0.5-1.0 s); both stand,
    each votes for itself, and the election costs another timeout. With disjoint slices taken in
    peer-list order (the same list on every node), they time out in a known order, a slice apart
    at the closest, and the first one's vote request arrives long before the second would stand.
    """
    t = cfg.timings
    low, high = t.raft_min_timeout, t.raft_max_timeout
    if not t.ranked_election_timeouts or cfg.raft_advertise not in cfg.peers or len(cfg.peers) < 2:
        return low, high
    width = (high - low) / len(cfg.peers)
    rank = cfg.peers.index(cfg.raft_advertise)
    return low + rank * width, low + (rank + 1) * width


class Elections:
    core: RaftCore  # attached (RaftNode.attach) before its tick thread starts

    def __init__(self, timings: RaftTimings) -> None:
        self._timings = timings
        self._peer_reports: dict[str, tuple[float, int, int]] = {}  # peer -> (when reported, its term, its commit)

    def note_report(self, peer: str, term: int, commit_index: int) -> None:
        self._peer_reports[peer] = (raft_clock(), term, commit_index)

    def behind(self, last_index: int, term: int) -> bool:
        """Whether a peer reported, within the last `REPORT_FRESH` seconds, a commit index above our last log
        index, at a term no lower than ours. A majority then holds entries we lack and would refuse our
        candidacy: standing could only raise our term above the leader's, after which we would ignore its
        appends (PySyncObj has no PreVote, and answers nothing to an append of an older term). So a member back
        on an old log (removed, then re-added on its kept volume) waits for the leader's appends instead. A node
        whose term is already above the reporters' (it stood while partitioned away) must stand: its vote
        request is what carries its term to the others, so that their next leader's appends reach it."""
        now = raft_clock()
        return any(
            now - when < REPORT_FRESH and commit > last_index and reported_term >= term
            for when, reported_term, commit in self._peer_reports.values()
        )

    def after_vote_request(self, message: dict) -> None:
        """Having refused a candidate whose log is behind ours, stand soon unless a leader appears.

        Under write load one follower is often an entry or two behind the other when the leader
        dies. If the one behind times out first, its candidacy is refused, and the one ahead stood
        only at its own election timeout, up to a whole timeout later. PySyncObj restarts the
        election timer at every heartbeat, so a leader that appears meanwhile still wins.
        """
        core = self.core
        delay = self._timings.stand_after_refusing
        if delay <= 0 or message.get("term", 0) < core.raftCurrentTerm or core.leader_id is not None:
            return
        if core.role != "follower":
            return
        last_index, last_term = core.log_last()
        if (message["last_log_term"], message["last_log_index"]) >= (last_term, last_index):
            return  # not behind us: granted, or refused for having voted already
        soon = raft_clock() + delay
        if core.election_deadline > soon:
            core.election_deadline = soon
