"""A snapshot of Raft status, built on the tick thread and read lock-free by other threads."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import metrics
from .identity import WITHHELD_REASONS
from .membership import Configuration

ROLES = {0: "follower", 1: "candidate", 2: "leader"}


@dataclass(frozen=True)
class RaftStatus:
    role: str = "follower"
    leader: str | None = None
    term: int = 0
    commit_index: int = 0
    has_quorum: bool = False
    self_address: str = ""
    # peer address -> {"connected", "match_index" (leader only), "role"}; last contact: RaftNode.last_contacts
    peers: dict = field(default_factory=dict)
    leader_changes: int = 0
    leader_commit_index: int = 0  # the commit index the leader last announced (0 if unknown)
    can_vote: bool = True  # False while this node may not vote (see identity.py)
    vote_withheld: str | None = None  # why not
    cluster_id: str | None = None
    voters: tuple[str, ...] = ()  # the newest configuration in this node's log (or the seed)
    learners: tuple[str, ...] = ()

    @property
    def is_leader(self) -> bool:
        return self.role == "leader"

    @property
    def peers_connected(self) -> int:
        return sum(1 for p in self.peers.values() if p["connected"])


def status_from_pysyncobj(
    raw: dict,
    self_address: str,
    peers: list[str],
    leader_changes: int,
    *,
    can_vote: bool = True,
    vote_withheld: str | None = None,
    cluster_id: str | None = None,
    configuration: Configuration | None = None,
) -> RaftStatus:
    leader = raw.get("leader")
    leader = leader.id if leader is not None else None
    if leader is not None and leader != self_address and raw.get("partner_node_status_server_" + leader) != 2:
        # PySyncObj keeps naming a leader it can no longer reach (a follower cut off from everyone never
        # starts an election). A leader we cannot reach is no leader to report.
        leader = None
    return RaftStatus(
        role=ROLES.get(raw.get("state", 0), "follower"),
        leader=leader,
        term=int(raw.get("raft_term") or 0),
        commit_index=int(raw.get("commit_idx") or 0),
        has_quorum=bool(raw.get("has_quorum")),
        self_address=self_address,
        peers={
            p: {
                "connected": 2
                in (raw.get("partner_node_status_server_" + p), raw.get("readonly_node_status_server_" + p)),
                "match_index": raw.get("match_idx_server_" + p),
                "role": configuration.role(p) if configuration is not None else "voter",
            }
            for p in peers
        },
        leader_changes=leader_changes,
        leader_commit_index=int(raw.get("leader_commit_idx") or 0),
        can_vote=can_vote,
        vote_withheld=vote_withheld,
        cluster_id=cluster_id,
        voters=tuple(sorted(configuration.voters)) if configuration is not None else (self_address, *peers),
        learners=tuple(sorted(configuration.learners)) if configuration is not None else (),
    )


def publish_metrics(status: RaftStatus) -> None:
    """Set the Raft gauges from a newly published status."""
    metrics.RAFT_TERM.set(status.term)
    metrics.RAFT_COMMIT_INDEX.set(status.commit_index)
    for role in ROLES.values():
        metrics.RAFT_STATE.labels(state=role).set(1 if status.role == role else 0)
    metrics.RAFT_IS_LEADER.set(1 if status.is_leader else 0)
    metrics.RAFT_PEERS_CONNECTED.set(status.peers_connected)
    metrics.RAFT_CAN_VOTE.set(1 if status.can_vote else 0)
    metrics.RAFT_VOTERS.set(len(status.voters))
    metrics.RAFT_LEARNERS.set(len(status.learners))
    for reason in WITHHELD_REASONS:
        metrics.RAFT_VOTE_WITHHELD.labels(reason=reason).set(1 if status.vote_withheld == reason else 0)
