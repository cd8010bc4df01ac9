"""The state machine's cluster operations: the cluster id (init_cluster) and the configuration (configure_members).

A configure op applies only if the rule of taskraft/configuration.py makes it effective, exactly as
the Raft side decided on append: the `members` table then holds the new configuration, and
`raft_meta.config_index` the index of its entry. An inert change is recorded as `not_effective`.
"""

from __future__ import annotations

from .. import commands as c
from ..configuration import Configuration, effective_change

SET_NODE_ROLES = (
    "UPDATE nodes SET member_role = (SELECT m.member_role FROM members m WHERE m.raft_address = nodes.raft_address)"
)


def init_cluster(meta, args: dict) -> tuple[str, str]:
    """The first valid cluster id in the log is the cluster's; later ones change nothing. (outcome, message)"""
    proposed = args.get("cluster_id")
    if meta.cluster_id is None:
        if not c.valid_cluster_id(proposed):
            return c.REJECTED, "cluster_id must be 8..64 letters, digits or dashes"
        meta.cluster_id = proposed
    return c.CLUSTER_INITIALIZED, meta.cluster_id


def configure(meta, index: int, term: int, op: dict, writes) -> tuple[str, str]:
    """Apply a configuration change if it is effective after the one at `meta.config_index`. (outcome, message)"""
    config = effective_change(op, term, meta.config_index)
    if config is None:
        return c.NOT_EFFECTIVE, "this change was superseded, or proposed in another term"
    meta.config_index = index
    writes.add("DELETE FROM members")
    rows = [(address, config.role(address), index) for address in sorted(config.members)]
    writes.add_rows("INSERT INTO members (raft_address, member_role, config_index) VALUES ", "(%s, %s, %s)", rows)
    writes.add(SET_NODE_ROLES)
    return c.CONFIGURED, _describe(config)


def _describe(config: Configuration) -> str:
    return f"voters {', '.join(sorted(config.voters))}" + (
        f"; learners {', '.join(sorted(config.learners))}" if config.learners else ""
    )
