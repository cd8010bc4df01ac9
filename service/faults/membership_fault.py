"""The `membership` fault: remove a member (the leader half of the time), run without it, bring it back
empty and add it again, sometimes killing another node while it catches up.

    1. remove X through the API of a node other than X (the request is forwarded to the leader; a
       leader asked to remove itself hands leadership off first);
    2. kill X and delete its database and Raft state (a removed member comes back empty, never with
       its old log), then hold: the cluster runs on the two remaining voters;
    3. start X (it waits, amnesiac, to be contacted) and add it back: it joins as a learner;
    4. half of the time, SIGKILL another node Y right after the addition, while X catches up, and
       restart Y after a second: with X not yet a voter, writes wait for Y (never for X);
    5. wait until X is a voter again.

Every step is bounded; a step that does not finish raises, and the nemesis heals everything.
"""

from __future__ import annotations

import time

import requests

MEMBERS = "/api/v1/cluster/members"
STEP_TIMEOUT = 60.0


def _ask(
    urls: list[str], method: str, path: str, body: dict | None, done_codes: set[str], timeout: float, headers: dict
) -> dict:
    """Ask the nodes in turn until one answers 2xx, or an error whose code means it is already done."""
    end, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < end:
        for url in urls:
            try:
                r = requests.request(method, url + path, json=body, headers=headers, timeout=10)
            except requests.RequestException as exc:
                last = f"{url}: {type(exc).__name__}"
                continue
            if r.status_code < 300:
                return r.json()
            try:
                code = (r.json().get("error") or {}).get("code")
            except ValueError:
                code = None
            if code in done_codes:
                return {"already": code}
            last = f"{url}: {r.status_code} {r.text[:200]}"
        time.sleep(0.3)
    raise TimeoutError(f"{method} {path}: {last}")


def _role(urls: list[str], address: str, headers: dict) -> str | None:
    """voter, learner, None (not a member, as the first node that answers says), or "unknown" (no answer)."""
    for url in urls:
        try:
            view = requests.get(url + MEMBERS, headers=headers, timeout=5).json()
        except (requests.RequestException, ValueError):
            continue
        for member in view.get("members", []):
            if member["raft_address"] == address:
                return member.get("membership")
        return None
    return "unknown"


def membership(nemesis, plan, rec, sleep) -> None:
    cluster = nemesis.cluster
    leader, known = nemesis._leader_or_pick(plan.pick)
    x = leader if plan.pick < 0.5 else nemesis._choose([i for i in range(nemesis.n) if i != leader], plan.pick)
    others = [i for i in range(nemesis.n) if i != x]
    address = cluster.nodes[x].raft_address
    urls = [cluster.nodes[i].url for i in others]
    rec.targets = [nemesis.name(x)]
    rec.details.update({"was_leader": x == leader and known, "address": address})
    rec.start = nemesis.clock()
    _ask(urls, "DELETE", f"{MEMBERS}/{address}", None, {"not_member"}, STEP_TIMEOUT, cluster.auth_headers)
    rec.details["removed_after"] = round(nemesis.clock() - rec.start, 3)
    cluster.wipe_node(x, start=False)
    sleep(plan.hold)
    rec.end = nemesis.clock()
    cluster.start_db(x)
    cluster.start_node(x)
    _ask(urls, "POST", MEMBERS, {"address": address}, {"already_member"}, STEP_TIMEOUT, cluster.auth_headers)
    if plan.pick2 < 0.5:
        y = nemesis._choose(others, plan.pick2 * 2)
        rec.details["killed_while_catching_up"] = nemesis.name(y)
        cluster.kill_node(y)
        sleep(1.0)
        cluster.start_node(y)
    deadline = time.monotonic() + 2 * STEP_TIMEOUT
    while _role([cluster.nodes[i].url for i in range(nemesis.n)], address, cluster.auth_headers) != "voter":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{address} was added back but not promoted to voter")
        time.sleep(0.3)
    rec.details["voter_again_after"] = round(nemesis.clock() - rec.end, 3)
    rec.heal = nemesis.clock()


def readd_missing(nemesis) -> list[str]:
    """Healing: add back every node that is not a member (a membership fault interrupted midway)."""
    cluster, done = nemesis.cluster, []
    urls = [node.url for node in cluster.nodes]
    for i, node in enumerate(cluster.nodes):
        role = _role(urls, node.raft_address, cluster.auth_headers)
        if role in (None, "removed"):
            try:
                _ask(
                    urls,
                    "POST",
                    MEMBERS,
                    {"address": node.raft_address},
                    {"already_member"},
                    STEP_TIMEOUT,
                    cluster.auth_headers,
                )
                done.append(f"added {nemesis.name(i)} back")
            except TimeoutError as exc:
                done.append(f"adding {nemesis.name(i)} back failed: {exc}")
    return done
