"""`taskraft users` and `taskraft tokens` as subprocesses against a real cluster: an admin adds a user and
gives it a token, the token works with the role it was given (exit 4 beyond it), is listed without its
value, and stops working once revoked; --data-dir finds a local cluster's admin token."""

from __future__ import annotations

import json

from ..helpers import wait_until
from .run import run


def _no_env_token(**extra) -> dict:
    return {"TASKRAFT_TOKEN": "", **extra}


def test_users_and_tokens_round_trip(cluster):
    url = ["--url", cluster.urls[0]]
    added = run("users", "add", "cli-ed", "--role", "editor", "--email", "ed@example.org", *url)
    assert added.returncode == 0, added.stderr
    assert "added user cli-ed (editor" in added.stdout
    listed = json.loads(run("users", "list", "--json", *url).stdout)
    assert {"username": "cli-ed", "role": "editor", "disabled": False}.items() <= next(
        u for u in listed if u["username"] == "cli-ed"
    ).items()

    created = run("tokens", "create", "cli-ed", "--name", "laptop", "--role", "viewer", "--expires-in", "30d", *url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("trk_") and "\n" not in token
    assert "viewer" in created.stderr and "expires" in created.stderr
    as_viewer = ["--url", cluster.urls[1], "--token", token]
    wait_until(
        lambda: run("tasks", "list", *as_viewer, env=_no_env_token()).returncode == 0,
        20,
        message="the viewer token works on node-1",
    )
    refused = run("tasks", "add", "not allowed", *as_viewer, env=_no_env_token())
    assert refused.returncode == 4 and "editor" in refused.stderr, refused.stderr

    tokens = json.loads(run("tokens", "list", "--user", "cli-ed", "--json", *url).stdout)
    assert [t["name"] for t in tokens] == ["laptop"] and token not in json.dumps(tokens)
    assert tokens[0]["expires_at"] is not None
    revoked = run("tokens", "revoke", tokens[0]["token_id"], *url)
    assert revoked.returncode == 0, revoked.stderr
    wait_until(
        lambda: run("tasks", "list", *as_viewer, env=_no_env_token()).returncode == 4,
        20,
        message="the revoked token is refused",
    )

    assert run("users", "disable", "cli-ed", *url).returncode == 0
    users = json.loads(run("users", "list", "--json", *url).stdout)
    assert next(u for u in users if u["username"] == "cli-ed")["disabled"] is True


def test_the_token_comes_from_the_data_dir_or_is_missing(cluster):
    by_dir = run("tasks", "list", "--data-dir", str(cluster.data_dir), env=_no_env_token())
    assert by_dir.returncode == 0, by_dir.stderr
    without = run("tasks", "list", "--url", cluster.urls[0], env=_no_env_token())
    assert without.returncode == 4 and "token" in without.stderr
    bad = run("tokens", "create", "nobody", "--expires-in", "soon", "--url", cluster.urls[0])
    assert bad.returncode == 1 and "30d" in bad.stderr
