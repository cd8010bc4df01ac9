"""Users and API tokens in the replicated state: the apply of their ops, and the reads of them.

The ops carry everything apply needs, chosen by the node that proposed them: the user and token ids,
the token's SHA-256 (never the token itself), the expiry as epoch milliseconds. Apply reads the rows
it checks on the batch's own connection after flushing what the batch wrote so far, so an op sees
every op before it, in this batch or an earlier one; it uses no clock, no randomness and no
AUTO_INCREMENT. Failures (a taken name, a missing user, a role above the owner's) are results, like
a task's. These ops are rare, so the flush and the reads cost round trips only to batches that hold one.
"""

from __future__ import annotations

import re

from .. import commands as c
from .rows import ms_to_sql, rfc3339

_USERNAME = re.compile(c.USERNAME_PATTERN)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HASH = re.compile(r"[0-9a-f]{64}")
MAX_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z, the last DATETIME

USER_COLUMNS = "user_id, username, email, user_role, created_at, created_by_user, disabled, disabled_at"
TOKEN_COLUMNS = (
    "t.token_id, t.token_name, u.username, t.token_role, t.created_at, t.expires_at, t.revoked, t.revoked_at"
)


def apply(kind: str, args: dict, ts_ms: int, acting_user: str | None, writes) -> tuple[str, str | None, dict | None]:
    """Apply one user or token op after the batch's writes so far. (outcome, message, record)"""
    writes.flush()  # the reads below must see every op before this one
    cur = writes.cursor
    if kind == c.OP_USER_ADD:
        return _user_add(cur, args, ts_ms, acting_user)
    if kind == c.OP_USER_DISABLE:
        return _user_disable(cur, args, ts_ms)
    if kind == c.OP_TOKEN_CREATE:
        return _token_create(cur, args, ts_ms)
    return _token_revoke(cur, args, ts_ms)


def _text(args: dict, key: str) -> str | None:
    value = args.get(key)
    return value if isinstance(value, str) and c.encodable(value) else None


def _user_add(cur, args: dict, ts_ms: int, acting_user: str | None):
    user_id, username, email, role = (_text(args, k) for k in ("user_id", "username", "email", "role"))
    if user_id is None or not _ID.fullmatch(user_id):
        return c.REJECTED, "user_id must be 1..64 letters, digits, dashes or underscores", None
    if username is None or not _USERNAME.fullmatch(username):
        return c.REJECTED, "username must be 1..64 lowercase letters, digits, dots, dashes or underscores", None
    if username == c.BOOTSTRAP_USER:
        return c.CONFLICT, f"the username {c.BOOTSTRAP_USER!r} belongs to the bootstrap token", None
    email = email or ""
    if len(email) > c.EMAIL_MAX:
        return c.REJECTED, f"email must be at most {c.EMAIL_MAX} characters", None
    if role not in c.USER_ROLES:
        return c.REJECTED, f"role must be one of {', '.join(c.USER_ROLES)}", None
    cur.execute("SELECT user_id, username FROM users WHERE user_id = %s OR username = %s", (user_id, username))
    if cur.fetchall():
        return c.CONFLICT, f"a user named {username!r} (or with id {user_id}) exists", None
    by = acting_user if isinstance(acting_user, str) and c.encodable(acting_user) else None
    row = (user_id, username, email, role, ms_to_sql(ts_ms), by and by[:64], 0, None)
    cur.execute(f"INSERT INTO users ({USER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", row)
    return c.CREATED, None, user_from_row(row)


def _user_disable(cur, args: dict, ts_ms: int):
    username = _text(args, "username")
    cur.execute(f"SELECT {USER_COLUMNS} FROM users WHERE username = %s", (username or "",))
    row = cur.fetchone()
    if row is None:
        return c.NOT_FOUND, "user not found", None
    if not row[6]:  # disabling twice keeps the first time
        cur.execute("UPDATE users SET disabled = 1, disabled_at = %s WHERE user_id = %s", (ms_to_sql(ts_ms), row[0]))
        row = (*row[:6], 1, ms_to_sql(ts_ms))
    return c.UPDATED, None, user_from_row(row)


def _token_create(cur, args: dict, ts_ms: int):
    token_id, token_hash, name = _text(args, "token_id"), _text(args, "token_hash"), _text(args, "name")
    username, role, expires_at = _text(args, "username"), _text(args, "role"), args.get("expires_at")
    if token_id is None or not _ID.fullmatch(token_id):
        return c.REJECTED, "token_id must be 1..64 letters, digits, dashes or underscores", None
    if token_hash is None or not _HASH.fullmatch(token_hash):
        return c.REJECTED, "token_hash must be 64 lowercase hex digits", None
    if name is None or not 1 <= len(name) <= c.TOKEN_NAME_MAX:
        return c.REJECTED, f"name must be 1..{c.TOKEN_NAME_MAX} characters", None
    if expires_at is not None and (
        not isinstance(expires_at, int) or isinstance(expires_at, bool) or not ts_ms < expires_at <= MAX_MS
    ):
        return c.REJECTED, "expires_at must be a time after the request's, in epoch milliseconds", None
    cur.execute("SELECT user_id, user_role, disabled FROM users WHERE username = %s", (username or "",))
    owner = cur.fetchone()
    if owner is None:
        return c.NOT_FOUND, "user not found", None
    if owner[2]:
        return c.REJECTED, f"the user {username} is disabled", None
    if role is None:
        role = owner[1]
    if not c.token_role_allowed(role, owner[1]):
        return c.REJECTED, f"a token's role is at most its owner's ({owner[1]})", None
    cur.execute("SELECT 1 FROM api_tokens WHERE token_id = %s OR token_hash = %s", (token_id, token_hash))
    if cur.fetchall():
        return c.CONFLICT, "a token with this id or hash exists", None
    expires = ms_to_sql(expires_at) if expires_at is not None else None
    cur.execute(
        "INSERT INTO api_tokens (token_id, token_hash, token_name, user_id, token_role, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (token_id, token_hash, name, owner[0], role, ms_to_sql(ts_ms), expires),
    )
    return c.CREATED, None, token_from_row((token_id, name, username, role, ms_to_sql(ts_ms), expires, 0, None))


def _token_revoke(cur, args: dict, ts_ms: int):
    token_id = _text(args, "token_id") or ""
    row = _token_row(cur, token_id)
    if row is None:
        return c.NOT_FOUND, "token not found", None
    if not row[6]:  # revoking twice keeps the first time
        cur.execute(
            "UPDATE api_tokens SET revoked = 1, revoked_at = %s WHERE token_id = %s", (ms_to_sql(ts_ms), token_id)
        )
        row = (*row[:6], 1, ms_to_sql(ts_ms))
    return c.UPDATED, None, token_from_row(row)


def _token_row(cur, token_id: str):
    cur.execute(
        f"SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_id = %s",
        (token_id,),
    )
    return cur.fetchone()


def user_from_row(row) -> dict:
    user_id, username, email, role, created_at, created_by_user, disabled, disabled_at = row
    return {
        "user_id": user_id,
        "username": username,
        "email": email,
        "role": role,
        "created_at": rfc3339(created_at),
        "created_by_user": created_by_user,
        "disabled": bool(disabled),
        "disabled_at": rfc3339(disabled_at),
    }


def token_from_row(row) -> dict:
    """A token as the API shows it: never its hash."""
    token_id, name, username, role, created_at, expires_at, revoked, revoked_at = row
    return {
        "token_id": token_id,
        "name": name,
        "username": username,
        "role": role,
        "created_at": rfc3339(created_at),
        "expires_at": rfc3339(expires_at),
        "revoked": bool(revoked),
        "revoked_at": rfc3339(revoked_at),
    }


# -- reads (the API's, on this replica's database) ---------------------------------------------------


def list_users(conn) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY username")
        return [user_from_row(r) for r in cur.fetchall()]


def list_tokens(conn, username: str | None = None) -> list[dict]:
    sql = f"SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.user_id = t.user_id"
    params: tuple = ()
    if username is not None:
        sql, params = sql + " WHERE u.username = %s", (username,)
    with conn.cursor() as cur:
        cur.execute(sql + " ORDER BY t.created_at, t.token_id", params)
        return [token_from_row(r) for r in cur.fetchall()]


def credential(conn, token_hash: str) -> dict | None:
    """What a node needs to judge a presented token, found by its hash: the token's and its owner's
    state (None if no token has this hash). Expiry is judged by the caller, against its clock."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT t.token_hash, t.token_id, t.token_role, t.expires_at, t.revoked, u.user_id, u.username,"
            " u.user_role, u.disabled FROM api_tokens t JOIN users u ON u.user_id = t.user_id"
            " WHERE t.token_hash = %s",
            (token_hash,),
        )
        row = cur.fetchone()
    if row is None:
        return None
    token_hash, token_id, role, expires_at, revoked, user_id, username, user_role, disabled = row
    return {
        "token_hash": token_hash,
        "token_id": token_id,
        "role": role,
        "expires_at": rfc3339(expires_at),
        "revoked": bool(revoked),
        "user_id": user_id,
        "username": username,
        "user_role": user_role,
        "disabled": bool(disabled),
    }
