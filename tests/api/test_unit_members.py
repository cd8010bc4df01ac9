"""Membership routes on an in-memory node: the leader's checks (consensus/reconfigure.plan) as HTTP answers."""

from __future__ import annotations

from .unit_helpers import JSON, error_of

ME = "127.0.0.1:8180"


def add(client, address, **kwargs):
    return client.post("/api/v1/cluster/members", json={"address": address}, **kwargs)


def test_a_new_member_joins_as_a_learner(client, memory_node):
    r = add(client, "10.0.0.2:8180")
    assert r.status_code == 202, r.get_data(as_text=True)
    assert r.get_json()["configuration"] == {"voters": [ME], "learners": ["10.0.0.2:8180"]}
    listed = client.get("/api/v1/cluster/members").get_json()
    assert sorted(m["raft_address"] for m in listed["members"]) == ["10.0.0.2:8180", ME]


def test_adding_a_member_twice_is_a_conflict(client):
    assert add(client, "10.0.0.2:8180").status_code == 202
    error_of(add(client, "10.0.0.2:8180"), 409, "already_member")
    error_of(add(client, ME), 409, "already_member")


def test_an_address_must_be_host_and_port(client):
    for bad in ("10.0.0.2", "10.0.0.2:0", "10.0.0.2:70000", "a b:1", "", "x" * 300 + ":1"):
        error_of(add(client, bad), 400, "invalid_address")


def test_a_body_without_an_address_is_refused(client):
    error_of(client.post("/api/v1/cluster/members", data="nope", headers=JSON), 400, "invalid_request")
    error_of(client.post("/api/v1/cluster/members", json={"address": 5}), 400, "invalid_request")
    error_of(client.post("/api/v1/cluster/members", json=["10.0.0.2:8180"]), 400, "invalid_request")


def test_removing_the_last_voter_is_refused(client):
    error_of(client.delete(f"/api/v1/cluster/members/{ME}"), 400, "last_member")


def test_removing_a_stranger_is_not_found(client):
    error_of(client.delete("/api/v1/cluster/members/10.9.9.9:1"), 404, "not_member")


def test_a_removal_that_would_leave_no_reachable_quorum_is_refused(client, memory_node):
    from taskraft.configuration import Configuration

    b, c = "10.0.0.2:8180", "10.0.0.3:8180"
    memory_node.configuration = Configuration(frozenset([ME, b, c]))
    memory_node.reachable = {ME, b}  # c is down: removing b leaves {ME, c} with one of two reachable
    error = error_of(client.delete(f"/api/v1/cluster/members/{b}"), 409, "would_lose_quorum")
    assert "1 of the 2" in error["message"]
    r = client.delete(f"/api/v1/cluster/members/{c}")  # removing the dead one is fine
    assert r.status_code == 200 and r.get_json()["configuration"]["voters"] == sorted([ME, b])


def test_removing_a_learner_never_needs_a_quorum_check(client, memory_node):
    from taskraft.configuration import Configuration

    memory_node.configuration = Configuration(frozenset([ME, "10.0.0.3:1"]), frozenset(["10.0.0.4:1"]))
    memory_node.reachable = {ME}
    assert client.delete("/api/v1/cluster/members/10.0.0.4:1").status_code == 200


def test_a_change_while_another_is_pending_is_409_with_retry_after(client, memory_node):
    memory_node.change_pending = True
    r = add(client, "10.0.0.2:8180")
    error_of(r, 409, "change_in_progress")
    assert r.headers["Retry-After"] == "1"


def test_without_a_leader_a_change_is_503_with_retry_after(client, memory_node):
    memory_node.quorum = False
    r = client.delete("/api/v1/cluster/members/10.0.0.2:1")
    error_of(r, 503, "not_leader")
    assert r.headers["Retry-After"] == "1"
