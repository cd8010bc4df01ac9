"""Every /api/v1 route x every credential, against one real 3-node cluster: no token, a bogus one, an
expired one, a revoked one, a disabled user's, and a viewer's, an editor's, an admin's and a backup user's. The requests go
round the three nodes, so each node judges tokens from its own replicated tables."""

from __future__ import annotations

import itertools
import time

import pytest
import requests

from ..conftest import start_cluster
from ..helpers import TEST_ADMIN_TOKEN, wait_until

RANK = {"viewer": 0, "editor": 1, "admin": 2}
REFUSED = ("none", "bogus", "expired", "revoked", "disabled")
_names = itertools.count()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("auth"), extra_env={"TASKRAFT_AUTH_FAILURES": "100000"})
    admin = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
    url = cluster.urls[0]

    def call(method, path, **kw):
        r = requests.request(method, url + path, headers=admin, timeout=15, **kw)
        assert r.status_code < 300, r.text
        return r.json()

    for name, role in (("vera", "viewer"), ("ed", "editor"), ("ada", "admin"), ("gone", "editor"), ("bak", "backup")):
        call("POST", "/api/v1/users", json={"username": name, "role": role, "email": f"{name}@example.org"})
    tokens = {
        role: call("POST", "/api/v1/tokens", json={"username": name, "name": "t"})["token"]
        for name, role in (("vera", "viewer"), ("ed", "editor"), ("ada", "admin"), ("bak", "backup"))
    }
    tokens["disabled"] = call("POST", "/api/v1/tokens", json={"username": "gone", "name": "t"})["token"]
    revoked = call("POST", "/api/v1/tokens", json={"username": "ed", "name": "old"})
    tokens["revoked"] = revoked["token"]
    tokens["expired"] = call("POST", "/api/v1/tokens", json={"username": "ada", "name": "short", "expires_in": 1})[
        "token"
    ]
    tokens["bogus"] = "trk_" + "A" * 43
    call("DELETE", f"/api/v1/tokens/{revoked['token_id']}")
    call("POST", "/api/v1/users/gone/disable")
    task = call("POST", "/api/v1/tasks", json={"title": "for the matrix"})
    for node_url in cluster.urls:  # every node has applied every user and token change
        wait_until(
            lambda u=node_url: (
                requests.get(
                    u + "/api/v1/whoami", timeout=5, headers={"Authorization": f"Bearer {tokens['viewer']}"}
                ).ok
                and requests.get(
                    u + "/api/v1/whoami", timeout=5, headers={"Authorization": f"Bearer {tokens['revoked']}"}
                ).status_code
                == 401
            ),
            30,
            message=f"{node_url} applied the users and tokens",
        )
    time.sleep(max(0.0, 1.2))  # the 1-second token has expired
    yield cluster, tokens, task, call
    cluster.stop()


def _routes(call, task):
    """(method, path, body or a function making one, role needed)."""

    def fresh_task():
        return call("POST", "/api/v1/tasks", json={"title": "to delete"})["id"]

    return [
        ("GET", "/api/v1/tasks", None, "viewer"),
        ("GET", f"/api/v1/tasks/{task['id']}", None, "viewer"),
        ("GET", f"/api/v1/tasks/{task['id']}/history", None, "viewer"),
        ("POST", "/api/v1/tasks", {"title": "matrix"}, "editor"),
        ("PATCH", f"/api/v1/tasks/{task['id']}", {"status": "done"}, "editor"),
        ("DELETE", lambda: f"/api/v1/tasks/{fresh_task()}", None, "editor"),
        ("GET", "/api/v1/cluster", None, "viewer"),
        ("GET", "/api/v1/cluster/nodes", None, "viewer"),
        ("GET", "/api/v1/cluster/members", None, "viewer"),
        ("POST", "/api/v1/cluster/members", {"address": "not an address"}, "admin"),
        ("DELETE", "/api/v1/cluster/members/no-such-node", None, "admin"),
        ("GET", "/api/v1/users", None, "admin"),
        ("POST", "/api/v1/users", lambda: {"username": f"m{next(_names)}", "role": "viewer"}, "admin"),
        ("POST", "/api/v1/users/nobody/disable", None, "admin"),
        ("GET", "/api/v1/tokens", None, "admin"),
        ("POST", "/api/v1/tokens", {"username": "vera", "name": "m"}, "admin"),
        ("DELETE", "/api/v1/tokens/t-nonexistent", None, "admin"),
        ("GET", "/api/v1/whoami", None, "viewer"),
        ("GET", "/api/v1/backup?consistency=local", None, "admin"),
        ("GET", "/api/v1/no-such-route", None, "viewer"),
    ]


def test_every_route_with_every_credential(setup):
    cluster, tokens, task, call = setup
    checked = 0
    for n, (method, path, body, needed) in enumerate(_routes(call, task)):
        for credential in (*REFUSED, "viewer", "editor", "admin", "backup"):
            url = cluster.urls[(n + checked) % len(cluster.urls)]
            p = path() if callable(path) else path
            b = body() if callable(body) else body
            headers = {"Authorization": None if credential == "none" else f"Bearer {tokens[credential]}"}
            r = requests.request(method, url + p, json=b, headers=headers, timeout=15)
            what = f"{method} {p} with {credential} on {url}: {r.status_code} {r.text[:200]}"
            assert r.status_code < 500, what
            error = r.json().get("error") if r.headers.get("Content-Type", "").startswith("application/json") else None
            if credential in REFUSED:
                assert r.status_code == 401 and error["code"] == "unauthenticated", what
                assert r.headers["WWW-Authenticate"].startswith("Bearer"), what
            elif credential == "backup":  # backups (and whoami), nothing else
                allowed = p.startswith(("/api/v1/backup", "/api/v1/whoami"))
                assert (r.status_code not in (401, 403)) if allowed else (r.status_code == 403), what
            elif RANK[credential] < RANK[needed]:
                assert r.status_code == 403 and error["code"] == "forbidden", what
                assert needed in error["message"], what
            else:
                assert r.status_code not in (401, 403), what
            checked += 1
    assert checked == len(_routes(call, task)) * 9


def test_open_paths_need_no_token(setup):
    cluster, *_ = setup
    for path in ("/healthz", "/readyz", "/metrics", "/", "/static/app.js"):
        r = requests.get(cluster.urls[1] + path, headers={"Authorization": None}, timeout=10)
        assert r.status_code == 200, (path, r.status_code)


def test_writes_record_who_made_them(setup):
    cluster, tokens, _task, _call = setup
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    created = requests.post(cluster.urls[1] + "/api/v1/tasks", json={"title": "whose"}, headers=editor, timeout=15)
    assert created.status_code == 201
    task = created.json()
    assert task["created_by_user"] == "ed" and task["created_by"] == "node-1"
    changed = requests.patch(
        f"{cluster.urls[2]}/api/v1/tasks/{task['id']}", json={"status": "done"}, headers=admin, timeout=15
    ).json()
    assert changed["created_by_user"] == "ed" and changed["updated_by_user"] == "ada"
    history = requests.get(f"{cluster.urls[0]}/api/v1/tasks/{task['id']}/history", headers=admin, timeout=15).json()
    assert [e["user"] for e in history["entries"]] == ["ed", "ada"]
    me = requests.get(cluster.urls[0] + "/api/v1/whoami", headers=editor, timeout=15).json()
    assert me == {"auth": "on", "username": "ed", "role": "editor", "token_id": me["token_id"]}


def test_tokens_are_listed_without_secrets_and_a_revoke_is_prompt_on_every_node(setup):
    cluster, tokens, _task, call = setup
    listed = requests.get(
        cluster.urls[0] + "/api/v1/tokens", headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=15
    ).json()["items"]
    text = repr(listed)
    assert all(t not in text for t in tokens.values()) and "token_hash" not in text
    fresh = call("POST", "/api/v1/tokens", json={"username": "vera", "name": "short-lived"})
    bearer = {"Authorization": f"Bearer {fresh['token']}"}
    for url in cluster.urls:
        wait_until(
            lambda u=url: requests.get(u + "/api/v1/tasks", headers=bearer, timeout=5).ok,
            10,
            message="the new token works",
        )
    call("DELETE", f"/api/v1/tokens/{fresh['token_id']}")  # answered once applied on node-0
    assert requests.get(cluster.urls[0] + "/api/v1/tasks", headers=bearer, timeout=5).status_code == 401
    for url in cluster.urls[1:]:
        wait_until(
            lambda u=url: requests.get(u + "/api/v1/tasks", headers=bearer, timeout=5).status_code == 401,
            2,
            message=f"the revoke took effect on {url}",
        )
