"""Which cluster this node belongs to, and when a node that lost its Raft state may take part again.

Raft is safe only if a node never forgets its log, its term or its vote. A node whose Raft state is
gone (a deleted volume, a replaced disk) while the cluster has history is *amnesiac*: it may have
acknowledged entries, and voted in terms, that it no longer knows of. Whether the cluster has
history does not rest on this node's empty disk: it is the cluster record (written before the
cluster id is committed, see cluster_record.py), or a peer that reports a cluster id first.

An amnesiac node (the rules, argued in docs/architecture.md):
  1. never stands for election and ignores TimeoutNow;
  2. takes no appends until it has heard the terms of a majority of the other members, and then
     raises its own term to the highest of them, marked as already voted in, so it can neither
     help a deposed leader commit nor vote a second time in a term it may have voted in;
  3. grants a vote only once it has heard from every other member, only in a term above every term
     they reported, and only to a candidate whose log is at least as up to date as every log they
     reported: the most up-to-date log among all members holds every committed entry;
  4. is itself again (rule 3 no longer applies) once a leader of the current term has brought its
     commit index up to that leader's commit index at their first contact, at an entry of the
     leader's own term: its log then holds every entry committed before it lost its state.
Peers report their position (`PeerReport`) in the first message of every link and every half second.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass

from ..durable import write_file_durably

log = logging.getLogger(__name__)

REPORT = "taskraft_status"  # our own message type, never seen by PySyncObj

CATCHING_UP = "catching up after a lost Raft state"
FOREIGN = "holds another cluster id than the cluster record"
WITHHELD_REASONS = (CATCHING_UP, FOREIGN)


@dataclass(frozen=True)
class PeerReport:
    cluster_id: str | None
    term: int
    last_index: int
    last_term: int
    commit_index: int
    amnesiac: bool

    def message(self) -> dict:
        return {
            "type": REPORT,
            "cluster_id": self.cluster_id,
            "term": self.term,
            "last": [self.last_index, self.last_term],
            "commit": self.commit_index,
            "amnesiac": self.amnesiac,
        }

    @classmethod
    def from_message(cls, message: dict) -> PeerReport | None:
        try:
            last_index, last_term = message["last"]
            return cls(
                message.get("cluster_id"),
                int(message["term"]),
                int(last_index),
                int(last_term),
                int(message["commit"]),
                bool(message["amnesiac"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class Identity:
    """This node's cluster id and amnesia, persisted in `path` (JSON, written durably) beside its Raft state."""

    def __init__(
        self,
        self_id: str,
        members: list[str],
        path: str,
        *,
        raft_state_lost: bool,
        recorded_id: str | None = None,
        database_id: str | None = None,
    ):
        self.self_id = self_id
        self._others = [m for m in members if m != self_id]
        self._path = path
        self._lock = threading.Lock()
        self._reports: dict[str, PeerReport] = {}
        self._contact: tuple[str, int, int] | None = None  # (leader, term, leader's commit index then)
        self._took_part = False
        self.recorded_id = recorded_id
        stored = _load(path)
        self.formed = threading.Event()  # set once the cluster id is known here (writes wait for it)
        self.cluster_id: str | None = stored.get("cluster_id") or None
        self.amnesiac: bool = bool(stored.get("amnesiac", False))
        self.may_learn_amnesia = raft_state_lost and not self.amnesiac
        known = self.cluster_id or database_id or recorded_id
        if raft_state_lost and known and not self.amnesiac:
            self.cluster_id = known
            self._become_amnesiac("the cluster record (or its database) says the cluster has history")
        elif self.cluster_id is None and database_id:
            self.cluster_id = database_id  # a node that ran before cluster ids were kept with the Raft state
            self._save()
        self.conflict = bool(self.cluster_id and recorded_id and self.cluster_id != recorded_id)
        if self.cluster_id is not None:
            self.formed.set()
        if self.conflict:
            log.error(
                "identity: this node's Raft state belongs to cluster %s, but the cluster record names %s; "
                "it refuses to take part (see docs/operations.md)",
                self.cluster_id,
                recorded_id,
            )

    # -- facts from the log and from peers -------------------------------------------------------

    def adopt(self, cluster_id: str) -> None:
        """The cluster id committed in the log (or carried by the snapshot this node installed)."""
        with self._lock:
            if self.cluster_id == cluster_id:
                self.formed.set()
                return
            if self.cluster_id is not None:
                log.error("identity: the log commits cluster id %s but this node holds %s", cluster_id, self.cluster_id)
                return
            self.cluster_id = cluster_id
            self.may_learn_amnesia = False
            self._save()
        self.formed.set()
        log.info("identity: cluster id %s", cluster_id)

    def on_report(self, peer: str, report: PeerReport) -> None:
        with self._lock:
            self._reports[peer] = report
        if self.may_learn_amnesia and report.cluster_id and not self._took_part and not self.is_foreign(peer):
            self.cluster_id = self.cluster_id or report.cluster_id
            self._become_amnesiac(f"{peer} reports cluster {report.cluster_id}")
            self.formed.set()

    def reported_cluster_id(self, peer: str) -> str | None:
        report = self._reports.get(peer)
        return report.cluster_id if report is not None else None

    def peer_can_vote(self, peer: str) -> bool | None:
        """What `peer` last reported (None: no report yet)."""
        report = self._reports.get(peer)
        return None if report is None else not report.amnesiac

    def took_part(self) -> None:
        """This node granted a vote or took appends as a full member: its empty state is now its own."""
        self._took_part = True
        self.may_learn_amnesia = False

    def is_foreign(self, peer: str) -> bool:
        """Whether `peer` reported a cluster id other than ours (ours: held, else the recorded one)."""
        mine = self.cluster_id or self.recorded_id
        report = self._reports.get(peer)
        return bool(mine and report is not None and report.cluster_id and report.cluster_id != mine)

    def set_voters(self, voters) -> None:
        """The configuration changed (consensus/membership.py): the rules count its voters."""
        self._others = [m for m in sorted(voters) if m != self.self_id]

    # -- the amnesia rules -----------------------------------------------------------------------

    def term_floor(self) -> int | None:
        """Rule 2: the highest term a majority of the other members reported, or None if not heard yet."""
        reports = [r for p, r in self._reports.items() if p in self._others]
        if len(reports) < len(self._others) // 2 + 1:
            return None
        return max(r.term for r in reports)

    def vote_refusal(self, candidate: str, term: int, last_index: int, last_term: int) -> str | None:
        """Rule 3: why an amnesiac node withholds its vote from `candidate` (None: no objection)."""
        if not self.amnesiac:
            return None
        missing = [p for p in self._others if p not in self._reports]
        if missing:
            return f"no report yet from {', '.join(missing)}"
        if term <= max(r.term for r in self._reports.values()):
            return f"term {term} is not above every member's term"
        for peer, report in self._reports.items():
            if peer != candidate and (last_term, last_index) < (report.last_term, report.last_index):
                return f"its log ends before {peer}'s"
        return None

    def note_contact(self, leader: str, term: int, leader_commit: int) -> None:
        """Rule 4: remember the leader's commit index at our first contact with it in `term`."""
        if self.amnesiac and (self._contact is None or self._contact[:2] != (leader, term)):
            self._contact = (leader, term, leader_commit)

    def check_cured(self, current_term: int, commit_index: int, commit_term: int | None) -> bool:
        """Rule 4: whether the amnesia is over (and if so, persist that)."""
        contact = self._contact
        if not self.amnesiac or contact is None or contact[1] != current_term:
            return False
        if commit_term != current_term or commit_index < contact[2]:
            return False
        with self._lock:
            self.amnesiac = False
            self._save()
        log.warning(
            "identity: caught up with leader %s at index %d (term %d); this node votes again",
            contact[0],
            commit_index,
            current_term,
        )
        return True

    def voting(self) -> tuple[bool, str | None]:
        """Whether this node may vote, and why not."""
        if self.conflict:
            return False, FOREIGN
        if self.amnesiac:
            return False, CATCHING_UP
        return True, None

    # -- persistence -----------------------------------------------------------------------------

    def _become_amnesiac(self, why: str) -> None:
        with self._lock:
            self.amnesiac = True
            self.may_learn_amnesia = False
            self._save()
        log.warning(
            "identity: this node lost its Raft state and %s: it neither votes nor stands until a leader "
            "has caught it up, or every member has reported",
            why,
        )

    def _save(self) -> None:
        data = {"cluster_id": self.cluster_id, "amnesiac": self.amnesiac}
        write_file_durably(self._path, json.dumps(data).encode())


def _load(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def raft_state_lost(*paths: str) -> bool:
    """Whether none of the Raft state files exists with content (a wiped or brand-new node)."""
    return not any(os.path.exists(p) and os.path.getsize(p) > 0 for p in paths)
