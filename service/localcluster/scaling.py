"""Grow or shrink a running local cluster safely: one membership change at a time, through the API.

Growing starts each new node empty (it waits, amnesiac, to be contacted), adds it as a learner and
waits until the leader has promoted it; then the next. Shrinking removes the highest-numbered
members first, each before its process stops (a removed leader hands off first). The members are
made exactly the nodes the cluster runs, whatever the order of earlier interruptions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..client import Client, ClientError, Conflict
from .cluster import LocalCluster

PROMOTION_TIMEOUT = 120.0


def members(client: Client) -> dict[str, str]:
    """Raft address -> membership (voter or learner), as the answering node's log says."""
    view = client.members()
    return {m["raft_address"]: m["membership"] for m in view["members"] if m.get("membership") in ("voter", "learner")}


def change(client: Client, action: str, address: str, timeout: float) -> None:
    """One change; a change still in progress (409) is asked again until `timeout`."""
    end = time.monotonic() + timeout
    while True:
        try:
            client.change_member(action, address)
            return
        except Conflict as exc:
            if exc.code == "already_member" and action == "add":
                return
            if exc.code != "change_in_progress" or time.monotonic() >= end:
                raise
        except ClientError as exc:
            if exc.code == "not_member" and action == "remove":
                return
            raise
        time.sleep(0.3)


def wait_voter(client: Client, address: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while members(client).get(address) != "voter":
        if time.monotonic() >= end:
            raise TimeoutError(f"{address} was added but not promoted to voter within {timeout:g}s")
        time.sleep(0.3)


def scale(local: LocalCluster, nodes: int, say: Callable[[str], None] = print, timeout: float = 120.0) -> None:
    """Make the cluster `nodes` voters: the nodes 0..nodes-1 of `local`, started and members."""
    if nodes < 1:
        raise ValueError("a cluster needs at least one node")
    while len(local.nodes) < nodes:
        i = local.add_node()
        say(f"started {local.nodes[i].node_id} (raft {local.nodes[i].raft_address}); it waits to be added")
    reconcile(local, nodes, say, timeout)
    while len(local.nodes) > nodes:
        node = local.nodes[-1]
        local.stop_node(node.index)
        node.db.stop()
        local.nodes.pop()
        local.write_manifest()
        say(f"stopped {node.node_id}")


def reconcile(local: LocalCluster, nodes: int, say: Callable[[str], None] = print, timeout: float = 120.0) -> None:
    """Add the running nodes 0..nodes-1 that are not members, then remove every other member."""
    wanted = [n.raft_address for n in local.nodes[:nodes]]
    urls = [n.url for n in local.nodes[: min(nodes, len(local.nodes))]]
    ca_file = local.verify if isinstance(local.verify, str) else None
    client = Client(urls, deadline=timeout, ca_file=ca_file, token=local.admin_token)
    for address in wanted:
        if members(client).get(address) != "voter":
            say(f"adding {address} as a learner")
            change(client, "add", address, timeout)
            wait_voter(client, address, PROMOTION_TIMEOUT)
            say(f"{address} caught up and is a voter")
    for address in sorted(set(members(client)) - set(wanted), reverse=True):
        say(f"removing {address}")
        change(client, "remove", address, timeout)
