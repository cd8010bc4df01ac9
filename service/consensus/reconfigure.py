"""Membership changes, decided by the leader on the tick thread, one at a time.

The leader checks each request against what consensus/membership.py needs for a change to be safe
and effective: it leads, an entry of its term is committed (the 2015 single-server rule), and the
newest configuration entry is committed (one change at a time). It then proposes the whole new
configuration with its term and its base. The same tick-thread duty records the seed configuration
once (a log that never held one) and promotes a learner once its log has caught up, so a new member
counts towards the quorum only once it can keep up (etcd's learners, hashicorp/raft's non-voters).
"""

from __future__ import annotations

import logging
import queue
import re
import time
from dataclasses import dataclass

from pysyncobj import FAIL_REASON

from .. import commands as c
from .membership import ConfigLog, Configuration

log = logging.getLogger(__name__)

ADD, REMOVE, PROMOTE, SEED = "add", "remove", "promote", "seed"
PROPOSE_AGAIN_AFTER = 2.0  # s without the proposed change in the log: propose it again (same base)
PROMOTE_WITHIN = 64  # a learner whose match index is this close to the leader's last index is caught up
CONTACT_WITHIN = 2.0  # s: a voter heard from this recently counts as reachable for a removal's quorum check
_ADDRESS = re.compile(r"[A-Za-z0-9._-]{1,253}:\d{1,5}")


class ChangeRefused(Exception):
    """A membership request that cannot go ahead: `code` and `status` are what the API answers."""

    def __init__(self, code: str, message: str, status: int = 409, retry_after: float | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after


class NotLeader(ChangeRefused):
    def __init__(self, leader: str | None):
        super().__init__("not_leader", f"this node does not lead; the leader is {leader or 'unknown'}", 503, 1.0)
        self.leader = leader


class LeaderMustHandOff(ChangeRefused):
    def __init__(self):
        super().__init__("handing_off", "the leader hands leadership off before it is removed", 503, 1.0)


@dataclass(frozen=True)
class Change:
    action: str
    address: str
    configuration: Configuration


def valid_address(address) -> bool:
    if not isinstance(address, str) or _ADDRESS.fullmatch(address) is None:
        return False
    return 0 < int(address.rpartition(":")[2]) < 65536


def plan(action: str, address: str, current: Configuration, self_id: str, reachable: set[str]) -> Change:
    """The configuration after `action` on `address`, or ChangeRefused; `reachable` are the voters this
    leader hears from (itself included)."""
    if not valid_address(address):
        raise ChangeRefused("invalid_address", "a member is named by its Raft address, host:port", 400)
    if action == ADD:
        if address in current.members:
            raise ChangeRefused("already_member", f"{address} is already a member ({current.role(address)})")
        return Change(ADD, address, Configuration(current.voters, current.learners | {address}))
    if action != REMOVE:
        raise ChangeRefused("invalid_action", f"unknown membership action {action!r}", 400)
    if address not in current.members:
        raise ChangeRefused("not_member", f"{address} is not a member", 404)
    if address in current.learners:
        return Change(REMOVE, address, Configuration(current.voters, current.learners - {address}))
    voters = current.voters - {address}
    if not voters:
        raise ChangeRefused("last_member", "the last voter cannot be removed", 400)
    after = Configuration(voters, current.learners)
    live = len(voters & reachable)
    if live < after.quorum():
        raise ChangeRefused(
            "would_lose_quorum",
            f"after removing {address}, {live} of the {len(voters)} remaining voters are reachable; "
            f"a quorum needs {after.quorum()}",
        )
    if address == self_id:
        raise LeaderMustHandOff
    return Change(REMOVE, address, after)


class Reconfiguration:
    """The leader's side of membership; every method runs on the tick thread except `seed`."""

    def __init__(self, core, configs: ConfigLog, seed: Configuration, origin: str):
        self._core = core
        self._configs = configs
        self.seed = seed
        self._origin = origin
        self._proposed: tuple[int, float] | None = None  # (base it was proposed on, when)

    @property
    def current(self) -> Configuration:
        return self._configs.current or self.seed

    def may_change(self) -> None:
        core = self._core
        if not core.is_leader():
            raise NotLeader(core.leader_id)
        term, commit = core.raftCurrentTerm, core.raftCommitIndex
        if core.entry_term(commit) != term:
            raise ChangeRefused("change_in_progress", "the new leader has not committed an entry of its term", 409, 1.0)
        if self._configs.pending(commit):
            raise ChangeRefused("change_in_progress", "another membership change is not committed yet", 409, 1.0)

    def request(self, action: str, address: str, reachable: set[str]) -> Change:
        """Validate and propose; the caller waits for the change to be applied (index via the callback)."""
        self.may_change()
        change = plan(action, address, self.current, self._core.selfNode.id, reachable)
        return change

    def command(self, change: Change) -> dict:
        configs = self._configs
        op = c.make_op(
            c.OP_CONFIGURE,
            origin=self._origin,
            origin_addr=self._core.selfNode.id,
            args={
                "configuration": change.configuration.as_dict(),
                "term": self._core.raftCurrentTerm,
                "base": configs.current_index,
                "change": {"action": change.action, "address": change.address},
            },
        )
        self._proposed = (configs.current_index, time.monotonic())
        return c.make_entry([op])

    def duty(self, formed: bool) -> dict | None:
        """On the leader's tick: the seed to record, or a learner to promote (a command to propose)."""
        try:
            self.may_change()
        except ChangeRefused:
            return None
        proposed = self._proposed
        if proposed is not None and proposed[0] == self._configs.current_index:
            if time.monotonic() - proposed[1] < PROPOSE_AGAIN_AFTER:
                return None  # ours is on its way (or was made inert: then again after the pause)
        if self._configs.current is None:
            return self.command(Change(SEED, "", self.seed)) if formed else None
        last = self._core.log_last()[0]
        for learner in sorted(self.current.learners):
            match = self._core.match_index(learner)
            if match and match >= last - PROMOTE_WITHIN and self._core.is_connected(learner):
                cfg = self.current
                promoted = Configuration(cfg.voters | {learner}, cfg.learners - {learner})
                log.info("membership: promoting %s (match index %d, last %d)", learner, match, last)
                return self.command(Change(PROMOTE, learner, promoted))
        return None


def request_change(raft, action: str, address: str, timeout: float) -> tuple[Change, int]:
    """From a request thread: have the tick thread validate and propose the change; return it with the
    index of its entry once the leader appended it. Raises ChangeRefused (NotLeader, LeaderMustHandOff, ...)."""
    answers: queue.SimpleQueue = queue.SimpleQueue()
    reconfig, core = raft.reconfig, raft.core

    def on_tick() -> None:
        try:
            voters = reconfig.current.voters
            heard = {p for p in voters if core.is_connected(p) and (core.last_contact(p) or 0.0) < CONTACT_WITHIN}
            change = reconfig.request(action, address, heard | {core.selfNode.id})
            command = reconfig.command(change)
        except ChangeRefused as refused:
            answers.put(refused)
            return
        core.apply_entry(command, callback=lambda index, error: answers.put((change, index, error)))

    raft.run_on_tick(on_tick)
    raft.wake()
    try:
        answer = answers.get(timeout=timeout)
    except queue.Empty:
        raise ChangeRefused("no_quorum", "the change was not appended in time", 503, 1.0) from None
    if isinstance(answer, ChangeRefused):
        raise answer
    change, index, error = answer
    if error != FAIL_REASON.SUCCESS:
        raise ChangeRefused("no_quorum", f"the change was not committed (PySyncObj error {error})", 503, 1.0)
    return change, index
