"""Membership requests as the API makes them: any node takes one, the leader decides it.

A request reaching a follower is forwarded to the leader's API (once: a forwarded request that finds
no leader is answered 503 `not_leader`). On the leader, `consensus.reconfigure.request_change`
validates and proposes the change on the tick thread; the answer waits until the change is applied
on this node. Removing the leader first hands leadership off, then forwards to the new leader.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

from .api.port import FORWARDED_HEADER, MembershipRefused
from .auth.tokens import internal_token
from .consensus.reconfigure import REMOVE, ChangeRefused, LeaderMustHandOff, NotLeader, request_change, valid_address
from .state import queries
from .state.db import TRANSIENT_ERRORS
from .transport import ssl_context

if TYPE_CHECKING:
    from .node import TaskraftNode

MEMBERS_PATH = "/api/v1/cluster/members"


def change_members(node: TaskraftNode, action: str, target: str, deadline: float, forwarded: bool) -> tuple[int, dict]:
    """(HTTP status, body) of a membership change asked of `node`; raises MembershipRefused."""
    address = _address_of(node, target) if action == REMOVE else target
    try:
        change, index = request_change(node.raft, action, address, max(0.1, deadline - time.monotonic()))
    except LeaderMustHandOff:
        node.raft.hand_off_leadership(min(3.0, max(0.1, deadline - time.monotonic())))
        # One more hop, even for a forwarded request: this node led, and the new leader will not hand back.
        return _forward(node, action, address, deadline, False, _new_leader(node, deadline))
    except NotLeader as refused:
        return _forward(node, action, address, deadline, forwarded, refused.leader)
    except ChangeRefused as refused:
        raise MembershipRefused(refused.status, refused.code, refused.message, refused.retry_after) from None
    ticket = node.applier.progress.ticket()
    ticket.arm(index)
    while not ticket.reached:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MembershipRefused(503, "not_applied", "the change is committed but not yet applied here", 1.0)
        ticket.wait(remaining)
        ticket.clear()
    entry_index, config = node.raft.core.journal.configs.at(index)
    if entry_index != index or config is None:
        raise MembershipRefused(409, "change_in_progress", "another change went first; ask again", 1.0)
    status = 202 if change.action == "add" else 200
    return status, {
        "action": change.action,
        "address": change.address,
        "log_index": index,
        "configuration": config.as_dict(),
    }


def _new_leader(node: TaskraftNode, deadline: float) -> str | None:
    me = node.cfg.raft_advertise
    while time.monotonic() < deadline:
        leader = node.raft.status.leader
        if leader is not None and leader != me:
            return leader
        time.sleep(0.02)
    return None


def _address_of(node: TaskraftNode, target: str) -> str:
    """A member named by its Raft address, or by its node id (looked up in the `nodes` table)."""
    if valid_address(target):
        return target
    try:
        with node.pool.connection() as conn:
            for row in queries.nodes(conn):
                if row["node_id"] == target and row["raft_address"]:
                    return row["raft_address"]
    except TRANSIENT_ERRORS:
        raise MembershipRefused(503, "database_unavailable", "this node's database is not answering", 1.0) from None
    raise MembershipRefused(404, "not_member", f"no node named {target!r} is known", None)


def _forward(
    node: TaskraftNode, action: str, address: str, deadline: float, forwarded: bool, leader: str | None
) -> tuple[int, dict]:
    url = _api_url_of(node, leader) if leader and not forwarded else None
    if url is None:
        raise MembershipRefused(503, "not_leader", f"no leader to take the change (leader: {leader or 'unknown'})", 1.0)
    if action == REMOVE:
        request = urllib.request.Request(f"{url}{MEMBERS_PATH}/{urllib.parse.quote(address, safe='')}", method="DELETE")
    else:
        body = json.dumps({"address": address}).encode()
        request = urllib.request.Request(f"{url}{MEMBERS_PATH}", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
    request.add_header(FORWARDED_HEADER, "1")
    credential = internal_token(node.cfg.raft_secret)  # the leader accepts it on this route, forwarded only
    if credential:
        request.add_header("Authorization", f"Bearer {credential}")
    timeout = max(0.1, deadline - time.monotonic())
    try:
        # an https leader's certificate is verified against the cluster's CA (transport.py)
        context = ssl_context(node.cfg.tls_ca_file) if url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as answer:
        try:
            error = json.loads(answer.read() or b"{}").get("error") or {}
        except ValueError:
            error = {}
        retry = answer.headers.get("Retry-After")
        raise MembershipRefused(
            answer.code,
            str(error.get("code") or "leader_error"),
            str(error.get("message") or "the leader refused the change"),
            float(retry) if retry else None,
        ) from None
    except (OSError, ValueError):
        raise MembershipRefused(503, "not_leader", f"the leader {leader} did not answer", 1.0) from None


def _api_url_of(node: TaskraftNode, raft_address: str) -> str | None:
    try:
        with node.pool.connection() as conn:
            for row in queries.nodes(conn):
                if row["raft_address"] == raft_address and row["api_url"]:
                    return row["api_url"].rstrip("/")
    except TRANSIENT_ERRORS:
        return None
    return None
