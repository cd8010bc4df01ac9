"""Authentication in the app, against the in-memory node: the error shapes, the rate limit of failures
(429 + Retry-After, bounded memory), the credential cache and its invalidation, the nodes' credential."""

from __future__ import annotations

import pytest

from taskraft.api.app import create_app
from taskraft.auth.ratelimit import FailureLimiter
from taskraft.auth.settings import AuthConfigError, AuthSettings
from taskraft.auth.tokens import hash_token, internal_token, new_token

from .memory_node import MemoryNode
from .unit_helpers import JSON, error_of

ADMIN = new_token()
SECRET = "raft-secret-for-tests"


def _app(node: MemoryNode, **settings):
    env = {"TASKRAFT_ADMIN_TOKEN": ADMIN, "TASKRAFT_RAFT_SECRET": SECRET, **settings}
    return create_app(node, AuthSettings.from_env(env)).test_client()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _viewer(node: MemoryNode, token: str, **extra) -> None:
    node.credentials[hash_token(token)] = {
        "token_hash": hash_token(token),
        "token_id": "t-1",
        "role": "viewer",
        "expires_at": None,
        "revoked": False,
        "user_id": "u-1",
        "username": "vera",
        "user_role": "viewer",
        "disabled": False,
        **extra,
    }


def test_no_token_bad_token_and_wrong_role_answer_in_the_error_shape():
    node = MemoryNode()
    client = _app(node)
    missing = client.get("/api/v1/tasks")
    error_of(missing, 401, "unauthenticated")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    error_of(client.get("/api/v1/tasks", headers={"Authorization": "Basic abc"}), 401, "unauthenticated")
    bogus = client.get("/api/v1/tasks", headers=_bearer("trk_bogus"))
    error_of(bogus, 401, "unauthenticated")
    assert 'error="invalid_token"' in bogus.headers["WWW-Authenticate"]
    viewer = new_token()
    _viewer(node, viewer)
    assert client.get("/api/v1/tasks", headers=_bearer(viewer)).status_code == 200
    forbidden = client.post("/api/v1/tasks", json={"title": "x"}, headers={**JSON, **_bearer(viewer)})
    assert "editor" in error_of(forbidden, 403, "forbidden")["message"]
    created = client.post("/api/v1/tasks", json={"title": "x"}, headers={**JSON, **_bearer(ADMIN)})
    assert created.status_code == 201 and created.get_json()["created_by_user"] == "admin"
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200
    assert client.get("/").status_code == 200  # the page itself asks for a token


def test_metrics_may_need_a_token():
    client = _app(MemoryNode(), TASKRAFT_METRICS_AUTH="token")
    error_of(client.get("/metrics"), 401, "unauthenticated")
    assert client.get("/metrics", headers=_bearer(ADMIN)).status_code == 200


def test_auth_off_serves_everyone_and_says_so():
    client = _app(MemoryNode(), TASKRAFT_AUTH="off")
    assert client.get("/api/v1/tasks").status_code == 200
    assert client.get("/api/v1/whoami").get_json()["auth"] == "off"


def test_failed_attempts_are_limited_per_address_with_retry_after():
    node = MemoryNode()
    client = _app(node, TASKRAFT_AUTH_FAILURES="3")
    for _ in range(3):
        error_of(client.get("/api/v1/tasks", headers=_bearer("trk_guess")), 401, "unauthenticated")
    lookups = node.credential_lookups
    limited = client.get("/api/v1/tasks", headers=_bearer(ADMIN))  # even a right token: no answer to guesses
    error_of(limited, 429, "too_many_failures")
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    assert node.credential_lookups == lookups
    other = client.get("/api/v1/tasks", headers=_bearer(ADMIN), environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200  # another address is not limited


def test_the_limiter_recovers_and_keeps_bounded_memory():
    now = [0.0]
    limiter = FailureLimiter(per_minute=6, max_addresses=100, clock=lambda: now[0])
    for _ in range(6):
        assert limiter.retry_after("a") is None
        limiter.failed("a")
    assert limiter.retry_after("a") == pytest.approx(10.0)
    now[0] += 10.0
    assert limiter.retry_after("a") is None
    for i in range(1000):
        limiter.failed(f"10.0.{i // 250}.{i % 250}")
    assert len(limiter) == 100


def test_a_revoke_takes_effect_when_applied_not_after_the_cache_ttl():
    node = MemoryNode()
    client = _app(node)
    token = new_token()
    _viewer(node, token)
    assert client.get("/api/v1/tasks", headers=_bearer(token)).status_code == 200
    lookups = node.credential_lookups
    assert client.get("/api/v1/tasks", headers=_bearer(token)).status_code == 200
    assert node.credential_lookups == lookups  # cached
    _viewer(node, token, revoked=True)
    node.epoch += 1  # what the applier does after applying a token op
    error_of(client.get("/api/v1/tasks", headers=_bearer(token)), 401, "unauthenticated")
    _viewer(node, token, expires_at="2001-01-01T00:00:00.000Z")
    node.epoch += 1
    assert "expired" in error_of(client.get("/api/v1/tasks", headers=_bearer(token)), 401, "unauthenticated")["message"]


def test_the_nodes_credential_opens_only_the_node_to_node_routes():
    client = _app(MemoryNode())
    internal = internal_token(SECRET)
    assert internal is not None and SECRET not in internal
    assert client.get("/api/v1/cluster", headers=_bearer(internal)).status_code == 200
    error_of(client.get("/api/v1/tasks", headers=_bearer(internal)), 401, "unauthenticated")
    members = client.post("/api/v1/cluster/members", json={"address": "h:1"}, headers=_bearer(internal))
    error_of(members, 401, "unauthenticated")  # only as a forwarded request
    forwarded = client.post(
        "/api/v1/cluster/members", json={"address": "h:1"}, headers={**_bearer(internal), "X-Taskraft-Forwarded": "1"}
    )
    assert forwarded.status_code not in (401, 403)
    assert internal_token("another secret") != internal


def test_bad_settings_refuse_to_start():
    for env in ({"TASKRAFT_AUTH": "maybe"}, {"TASKRAFT_ADMIN_TOKEN": "short"}, {"TASKRAFT_METRICS_AUTH": "x"}):
        with pytest.raises(AuthConfigError):
            AuthSettings.from_env(env)
