"""`taskraft users add|list|disable` and `taskraft tokens create|list|revoke` (an admin token is needed).

A created token is printed once, on stdout alone (`--json` prints it with its metadata); no node
keeps it, only its hash, so it cannot be shown again: revoke it and create another.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import click

from .cli_client import CommandFailed, _client, connection_options, format_table
from .client import ClientError
from .commands import USER_ROLES

_role = click.Choice(USER_ROLES)
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """'30d', '12h', '90m', '1w', '3600s' or plain seconds -> seconds."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    match = _DURATION.fullmatch(text)
    if match is None:
        raise click.BadParameter(f"{text!r}: give a number and a unit, like 30d, 12h, 90m, 1w or 3600s")
    return int(match.group(1)) * _UNIT[match.group(2)]


def _request(method: str, path: str, body=None, params=None) -> dict:
    client = _client()
    try:
        return client.request(method, path, json_body=body, params=params, write=method != "GET").json()
    except ClientError as exc:
        raise CommandFailed(exc) from None


def _emit(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text)


@click.group("users")
@connection_options
def users() -> None:
    """Add, list and disable users (admin). Users are never deleted: a disabled user's tokens stop working."""


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=_role,
    required=True,
    help="viewer (reads), editor (task writes), admin, or backup (takes backups, nothing else).",
)
@click.option("--email", default="", help="The user's email address.")
@click.option("--json", "as_json", is_flag=True)
@connection_options
def users_add(username, role, email, as_json) -> None:
    """Add a user; then `taskraft tokens create USERNAME` gives it a token."""
    user = _request("POST", "/api/v1/users", {"username": username, "email": email, "role": role})
    _emit(user, as_json, f"added user {user['username']} ({user['role']}, id {user['user_id']})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@connection_options
def users_list(as_json) -> None:
    """List the users."""
    items = _request("GET", "/api/v1/users")["items"]
    rows = [[u["username"], u["role"], u["email"], u["disabled"], u["created_at"], u["user_id"]] for u in items]
    _emit(items, as_json, format_table(["username", "role", "email", "disabled", "created at", "id"], rows))


@users.command("disable")
@click.argument("username")
@connection_options
def users_disable(username) -> None:
    """Disable a user: every token of theirs is refused from then on."""
    _request("POST", f"/api/v1/users/{quote(username, safe='')}/disable")
    click.echo(f"disabled user {username}")


@click.group("tokens")
@connection_options
def tokens() -> None:
    """Create, list and revoke API tokens (admin)."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--role", type=_role, help="At most the user's role (default: the user's role).")
@click.option("--expires-in", help="Lifetime, like 30d, 12h or 1w (default: never expires).")
@click.option("--json", "as_json", is_flag=True, help="Print the token with its metadata as JSON.")
@connection_options
def tokens_create(username, name, role, expires_in, as_json) -> None:
    """Create a token for USERNAME and print it (once: only its hash is kept)."""
    body = {"username": username, "name": name, "role": role}
    if expires_in:
        body["expires_in"] = parse_duration(expires_in)
    created = _request("POST", "/api/v1/tokens", body)
    if as_json:
        _emit(created, True, "")
        return
    click.echo(created["token"])
    expiry = created.get("expires_at") or "never"
    click.echo(f"token {created['token_id']} for {username} ({created['role']}, expires {expiry})", err=True)


@tokens.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True)
@connection_options
def tokens_list(username, as_json) -> None:
    """List tokens (never the tokens themselves): owner, role, expiry, revoked, last use on the node asked."""
    items = _request("GET", "/api/v1/tokens", params={"username": username} if username else None)["items"]
    headers = ["id", "user", "name", "role", "expires at", "revoked", "last used here"]
    rows = [
        [t["token_id"], t["username"], t["name"], t["role"], t["expires_at"], t["revoked"], t.get("last_used_here")]
        for t in items
    ]
    _emit(items, as_json, format_table(headers, rows))


@tokens.command("revoke")
@click.argument("token_id")
@connection_options
def tokens_revoke(token_id) -> None:
    """Revoke a token by its id (see `taskraft tokens list`)."""
    _request("DELETE", f"/api/v1/tokens/{quote(token_id, safe='')}")
    click.echo(f"revoked token {token_id}")
