"""Recovery from a lost majority: make one surviving node a cluster of one, with all of its data.

When a majority of the voters is gone for good, no leader can be elected and no write can commit;
the writes only the lost nodes held are gone. `force_new_cluster` (run by `taskraft recover
--force-new-cluster` while the node is stopped, or by the node itself at startup when
TASKRAFT_FORCE_NEW_CLUSTER=1) appends to the node's own log a configuration entry naming this node
as the only voter, in a term above every term it knows, as the leader of that term would have. On
start the node elects itself and commits its whole log, including entries that were never
acknowledged (as etcd's --force-new-cluster does). The lost members are then added back empty.

It refuses while a quorum of the current configuration answers on its Raft port: then the cluster
is alive, and `taskraft cluster members remove` is the way.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from . import commands as c
from .auth.tokens import internal_token
from .config import NodeConfig
from .configuration import Configuration
from .consensus.journal import DurableJournal
from .consensus.pysyncobj_bridge import command_of, journaled_command
from .transport import scheme, ssl_context

ACTION = "force_new_cluster"


class RecoveryRefused(Exception):
    pass


@dataclass(frozen=True)
class Recovered:
    configuration: Configuration
    last_index: int
    last_term: int
    already: bool  # the log already named this node the only voter: nothing was written


def answers(address: str, timeout: float) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def live_voter(
    address: str,
    http_port: int,
    timeout: float,
    ca_file: str | None = None,
    tls: bool = False,
    credential: str | None = None,
) -> bool:
    """Whether a member could help a quorum: its Raft port answers, and its API (on `http_port`, as on
    Kubernetes where every pod uses the same one), if it answers, does not say it may not vote (a pod
    back with an empty volume is amnesiac: it counts for nothing until a leader catches it up)."""
    if not answers(address, timeout):
        return False
    host = address.rpartition(":")[0]
    try:
        request = urllib.request.Request(f"{scheme(tls)}://{host}:{http_port}/api/v1/cluster")
        if credential:  # the nodes' internal credential (auth/tokens.py)
            request.add_header("Authorization", f"Bearer {credential}")
        context = ssl_context(ca_file) if tls else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            view = json.loads(response.read())
    except (OSError, ValueError):
        return True  # no API to ask: its Raft port answers, so count it
    return bool((view.get("voting") or {}).get("can_vote", True))


def force_new_cluster(
    cfg: NodeConfig, probe: Callable[[str], bool] | None = None, probe_timeout: float = 1.0
) -> Recovered:
    """Append the one-voter configuration to this (stopped) node's log; RecoveryRefused if it must not."""
    credential = internal_token(cfg.raft_secret)
    probe = probe or (
        lambda address: live_voter(address, cfg.http_port, probe_timeout, cfg.tls_ca_file, cfg.tls, credential)
    )
    me = cfg.raft_advertise
    journal = DurableJournal(str(cfg.journal_path), decode=command_of)
    try:
        if len(journal) == 0:
            raise RecoveryRefused(f"{cfg.journal_path} holds no Raft log: there is nothing to recover from here")
        _cmd, last_index, last_term = journal[-1]
        current = journal.configs.current or Configuration(frozenset(cfg.peers))
        alone = Configuration(frozenset([me]))
        if current == alone:
            return Recovered(alone, last_index, last_term, already=True)
        others = sorted(current.voters - {me})
        alive = [peer for peer in others if probe(peer)]
        if (me in current.voters) + len(alive) >= current.quorum():
            raise RecoveryRefused(
                f"{len(alive)} of the other voters answer ({', '.join(alive)}): with this node that is a quorum of "
                f"{len(current.voters)}, so the cluster can go on by itself; remove lost members with "
                "`taskraft cluster members remove` instead"
            )
        term = max(journal.getCurrentTerm(), last_term) + 1
        op = c.make_op(
            c.OP_CONFIGURE,
            origin=cfg.node_id,
            origin_addr=me,
            args={
                "configuration": alone.as_dict(),
                "term": term,
                "base": journal.configs.current_index,
                "change": {"action": ACTION, "address": me},
            },
        )
        journal.setCurrentTerm(term, me)  # as the leader of that term: it voted for itself
        journal.add(journaled_command(c.make_entry([op])), last_index + 1, term)
        return Recovered(alone, last_index, last_term, already=False)
    finally:
        journal._destroy()
