"""The cluster's configuration and the rule that makes a configuration change effective.

Pure: read by the Raft side on append (consensus/membership.py) and by the state machine on apply
(state/cluster_ops.py), which must decide alike. A change is effective only if the entry's Raft term
is the term the leader validated it in (`args.term`) and it names the newest effective configuration
entry before it as its base (`args.base`); docs/architecture.md argues why this is enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import commands as c


@dataclass(frozen=True)
class Configuration:
    voters: frozenset[str]
    learners: frozenset[str] = frozenset()

    @property
    def members(self) -> frozenset[str]:
        return self.voters | self.learners

    def role(self, address: str) -> str | None:
        if address in self.voters:
            return "voter"
        if address in self.learners:
            return "learner"
        return None

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def as_dict(self) -> dict:
        return {"voters": sorted(self.voters), "learners": sorted(self.learners)}

    @classmethod
    def from_dict(cls, value) -> Configuration | None:
        if not isinstance(value, dict):
            return None
        voters, learners = value.get("voters"), value.get("learners", [])
        if not isinstance(voters, list) or not isinstance(learners, list):
            return None
        if not all(isinstance(a, str) and a for a in voters + learners) or not voters:
            return None
        if set(voters) & set(learners):
            return None
        return cls(frozenset(voters), frozenset(learners))


def configure_op(entry) -> dict | None:
    """The configure op of a log entry (a decoded command), if it is a configuration entry."""
    if not isinstance(entry, dict):
        return None
    ops = entry.get("ops")
    if isinstance(ops, list) and len(ops) == 1 and isinstance(ops[0], dict) and ops[0].get("op") == c.OP_CONFIGURE:
        return ops[0]
    return None


def effective_change(op: dict, entry_term: int, newest_index: int) -> Configuration | None:
    """The configuration a configure op sets, if it takes effect after the newest one at `newest_index`."""
    args = op.get("args") or {}
    if args.get("term") != entry_term or args.get("base") != newest_index:
        return None
    return Configuration.from_dict(args.get("configuration"))
