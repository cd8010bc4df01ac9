"""Replication policy: where a leader resumes sending to a follower, and how a follower points it there.

Three decisions PySyncObj makes in ways that cost time or resent entries (docs/architecture.md,
"Raft settings and the fast path"):
  - the follower answers a log conflict with "try prevLogIdx", so a leader walked back one entry per
    round trip; we add a hint: the first entry of the conflicting term (never below our commit + 1);
  - in batch mode the leader advances nextIndex when it sends, so the acknowledgement of an older
    append moved it back and the next append overlapped what the follower held (PySyncObj's
    follower then truncates entries without checking terms): a success never moves nextIndex back;
  - a follower behind the leader rejects every append in flight, each naming the same index: the
    leader acts on the first rejection and ignores the ones naming that index or later until a
    success arrives (a new link or a new term forgets this).
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pysyncobj_bridge import RaftCore

HINT_REPEAT_AFTER = 1.0  # seconds before the same hint for the same conflict is sent again


class Replication:
    core: RaftCore  # attached (RaftNode.attach) before its tick thread starts

    def __init__(self) -> None:
        self._last_hint: tuple | None = None
        self._last_hint_at = 0.0
        self._rewound_to: dict[str, tuple[int, int]] = {}  # peer -> (term, index) nextIndex was moved back to
        self.sent_upto: tuple[int, int] | None = (0, 0)  # (last log index, commit index) last sent eagerly

    # -- follower side ---------------------------------------------------------------------------

    def conflict_hint(self, prev_index: int, prev_term: int) -> int | None:
        """Where the leader should resume when our entry at prev_index has another term, else None."""
        core = self.core
        first, _ = core.log_first()
        last, _ = core.log_last()
        if not first < prev_index <= last:
            return None
        conflict_term = core.entry_term(prev_index)
        if conflict_term == prev_term:
            return None
        index = prev_index
        while index - 1 > first and core.entry_term(index - 1) == conflict_term:
            index -= 1
        hint = max(index, core.raftCommitIndex + 1, first + 1)
        return hint if hint < prev_index else None

    def send_hint(self, leader: str, term: int, hint: int) -> None:
        """Send `hint` once per conflict: every append in flight is rejected, and a repeated hint would
        move the leader back after it already resent from there."""
        key = (leader, term, hint)
        if key != self._last_hint or time.monotonic() - self._last_hint_at > HINT_REPEAT_AFTER:
            self._last_hint, self._last_hint_at = key, time.monotonic()
            self.core.send_next_index_hint(leader, hint)

    # -- leader side -----------------------------------------------------------------------------

    def settle_next_index(self, peer: str, message: dict, before: int, after: int) -> int:
        """The nextIndex to keep for `peer` after PySyncObj moved it from `before` to `after` on `message`."""
        success, reset = bool(message.get("success")), bool(message.get("reset"))
        if success:
            self._rewound_to.pop(peer, None)  # it took an append: its next rejection is news
        if after == before:
            return after
        if after > before:
            # a rejection of an older, further-ahead message would undo a move back (and ping-pong
            # with the conflict hint): going forward needs a success
            return before if reset and not success else after
        if success and not reset:
            return before  # an older acknowledgement: do not resend what is in flight
        # A rejection may move nextIndex back, even below matchIndex: a wiped or restarted follower can
        # hold less than it once acknowledged. Our resend from `t` can only be answered by a success or
        # a rejection naming an index below `t`, so until a success, one naming `t` or more is stale.
        term = self.core.raftCurrentTerm
        stored_term, rewound = self._rewound_to.get(peer, (None, None))
        if stored_term == term and rewound is not None and after >= rewound:
            return before
        self._rewound_to[peer] = (term, after)
        self.sent_upto = None  # resend from there at the next tick, not at the next heartbeat
        return after

    def forget(self, peer: str) -> None:
        """A new link: nothing of the old one is in flight."""
        self._rewound_to.pop(peer, None)

    def send_new_entries(self) -> None:
        """Eager append: a leader whose last index or commit index moved sends at once, not at the next
        heartbeat (the difference between a 2 ms and a 20-40 ms commit)."""
        core = self.core
        upto = (core.log_last()[0], core.raftCommitIndex)
        if upto != self.sent_upto:
            self.sent_upto = upto
            core.send_append_entries_now()


def applied_entry_conflict(core: RaftCore, message: dict) -> str | None:
    """Why an append would replace an entry this node has applied with one of another term (the log and this
    node's database diverged: stop before PySyncObj truncates it), or None."""
    applied = core.raftLastApplied
    claims = [(message["prevLogIdx"], message["prevLogTerm"])]
    claims += itertools.takewhile(
        lambda claim: claim[0] <= applied, ((i, t) for _c, i, t in message.get("entries", ()))
    )
    for index, term in claims:
        ours = core.entry_term(index) if index <= applied else None
        if ours is not None and ours != term:
            return f"the leader replaces applied entry {index} (term {ours}) with one of term {term}"
    return None
