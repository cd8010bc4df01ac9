"""Every member's own view, gathered by one node: `GET /api/v1/cluster/nodes`.

A browser behind a Kubernetes Service or `kubectl port-forward` reaches one address, not the
members' own API URLs (pod DNS names do not resolve outside the cluster). So the node that answers
asks each member it knows (its configuration, with the API URLs of the `nodes` table) for that
member's own view, `GET /api/v1/cluster`, over the internal network, concurrently and with a short
timeout. `/api/v1/cluster` never asks anyone else, so a gathering never recurses.

A member that does not answer stays listed as unreachable, with what the answering node knows of it
(membership, Raft address, API URL, its last vote report) and the leader's seconds since last
contact. The result is kept for `max_age` seconds (1 s): however many clients poll, a node asks its
peers at most once per period; concurrent requests wait for the gathering under way instead of
starting their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

from . import metrics
from .transport import internal_session

SELF_PATH = "/api/v1/cluster"  # a member's own view; it never gathers others'
MAX_AGE = 1.0  # seconds a gathered view is served again
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.8
# the peers' own fields copied into their entry (their own claim, not the answering node's)
OWN_FIELDS = ("role", "term", "commit_index", "last_applied", "leader_id", "has_quorum")

Fetch = Callable[[str], dict]  # the API URL of a member -> its own view; raises on any failure


def fetch_own_view(api_url: str, ca_file: str | None = None, headers: dict | None = None) -> dict:
    """One member's `GET /api/v1/cluster`, with the short timeouts (the environment's proxies are not used);
    an https member's certificate is verified against `ca_file` (transport.py). `headers` carry the nodes'
    internal credential (auth/tokens.py) when authentication is on."""
    with internal_session(ca_file) as session:
        response = session.get(
            api_url.rstrip("/") + SELF_PATH, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
        )
        response.raise_for_status()
        view = response.json()
    if not isinstance(view, dict):
        raise ValueError("the answer is not a JSON object")
    return view


class ClusterOverview:
    """The gathered view of one node, cached for `max_age` seconds; safe to call from any thread."""

    def __init__(
        self,
        own_view: Callable[[], dict],
        *,
        fetch: Fetch = fetch_own_view,
        max_age: float = MAX_AGE,
        wait: float = CONNECT_TIMEOUT + READ_TIMEOUT + 0.1,
    ):
        self._own_view = own_view
        self._fetch = fetch
        self._max_age = max_age
        self._wait = wait
        self._lock = threading.Lock()
        self._cached: tuple[float, dict] | None = None  # (monotonic time gathered, view)

    def get(self) -> dict:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        with self._lock:  # one gathering at a time; whoever waited here takes its result
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            view = self._gather()
            self._cached = (time.monotonic(), view)
            return view

    def _fresh(self) -> dict | None:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self._max_age:
            return cached[1]
        return None

    def _gather(self) -> dict:
        metrics.CLUSTER_VIEW_GATHERINGS.inc()
        own = self._own_view()
        me = own.get("raft_address")
        answers: dict[str, dict | str] = {}  # raft address -> its own view, or why there is none
        lock = threading.Lock()  # a late answer may arrive while the others are merged
        threads = []
        for member in own.get("nodes") or []:
            address = member.get("raft_address")
            if not address or address == me:
                continue
            url = member.get("api_url")
            if not url:
                answers[address] = "no API address registered yet"
                continue
            thread = threading.Thread(
                target=self._ask, args=(address, url, answers, lock), name="taskraft-cluster-view", daemon=True
            )
            thread.start()
            threads.append(thread)
        end = time.monotonic() + self._wait
        for thread in threads:  # daemon threads: one stuck in a DNS lookup is left behind, not waited for
            thread.join(max(0.0, end - time.monotonic()))
        with lock:
            arrived = dict(answers)
        return merge(own, arrived, collected_at=time.time())

    def _ask(self, address: str, url: str, answers: dict[str, dict | str], lock: threading.Lock) -> None:
        answer: dict | str
        try:
            view = self._fetch(url)
        except Exception as exc:  # whatever went wrong, the member is listed as unreachable, with why
            answer = _reason(exc)
        else:
            same = view.get("raft_address") == address  # an API URL may now belong to another node
            answer = view if same else f"{url} answered as {view.get('raft_address') or 'another node'}"
        with lock:
            answers[address] = answer


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed (certificate not verified)"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"answered HTTP {exc.response.status_code}"
    return f"unusable answer ({type(exc).__name__})"


def merge(own: dict, answers: dict[str, dict | str], collected_at: float) -> dict:
    """The answering node's view `own` and its peers' answers (raft address -> own view or the reason
    there is none) as one document: the members with each one's own role, term and indexes."""
    me = own.get("raft_address")
    views: dict[str, dict] = {me: own} if me else {}
    views.update({address: view for address, view in answers.items() if isinstance(view, dict)})
    leader_view = _leader_view(views.values())
    leader = leader_view.get("leader") if leader_view else own.get("leader")
    contact = {}
    if leader is not None and leader in views:  # seconds since the leader last heard from each member
        contact = {m.get("raft_address"): m.get("last_contact_s") for m in views[leader].get("nodes") or []}
    top = max((v.get("commit_index") or 0 for v in views.values()), default=0)
    members = []
    for known in own.get("nodes") or []:
        address = known.get("raft_address")
        view = views.get(address)
        entry = {
            "node_id": (view or {}).get("node_id") or known.get("node_id"),
            "raft_address": address,
            "api_url": known.get("api_url"),
            "membership": known.get("membership"),
            "reachable": view is not None,
        }
        if view is not None:
            entry.update({name: view.get(name) for name in OWN_FIELDS})
            applied = view.get("last_applied")
            entry["lag"] = max(0, top - applied) if isinstance(applied, int) else None
            entry["can_vote"] = (view.get("voting") or {}).get("can_vote", known.get("can_vote"))
        else:
            entry.update(dict.fromkeys(OWN_FIELDS))
            entry["lag"] = None
            entry["can_vote"] = known.get("can_vote")
        entry["last_contact_s"] = None if address == leader else contact.get(address)
        entry["raft_connected"] = True if address == me else bool(known.get("reachable"))
        if view is None:
            reason = answers.get(address)
            entry["error"] = reason if isinstance(reason, str) else "did not answer in time"
        members.append(entry)
    members.sort(key=lambda m: (m["node_id"] is None, m["node_id"] or "", m["raft_address"] or ""))
    leader_id = next((m["node_id"] for m in members if leader is not None and m["raft_address"] == leader), None)
    return {
        "node_id": own.get("node_id"),
        "raft_address": me,
        "collected_at": round(collected_at, 3),
        "leader": leader,
        "leader_id": leader_id or (leader_view or own).get("leader_id"),
        "term": max((v.get("term") or 0 for v in views.values()), default=0),
        "commit_index": top,
        "answering": sum(1 for m in members if m["reachable"]),
        "configuration": own.get("configuration"),
        "nodes": members,
    }


def _leader_view(views) -> dict | None:
    """The answering view that names a leader at the highest term (the newest news of who leads)."""
    best = None
    for view in views:
        if view.get("leader") and (best is None or (view.get("term") or 0) > (best.get("term") or 0)):
            best = view
    return best
