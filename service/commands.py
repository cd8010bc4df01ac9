"""Commands: what travels through the Raft log.

An HTTP write becomes one operation dict; one or more operations travel in one log entry:

    entry   = {"v": 1, "ops": [op, ...]}          (an entry with no ops is a read barrier)
    op      = {"op": "create"|"update"|"delete"|"register_node"|"init_cluster"|"configure_members"
                     |"user_add"|"user_disable"|"token_create"|"token_revoke",
               "rid": request id, "fp": request fingerprint,
               "ts": accepting node's clock in epoch milliseconds,
               "origin": accepting node id, "origin_addr": its raft address,
               "user": the acting user's name (absent when authentication is off, and in older entries),
               "args": {...}}

Everything the state machine needs to be deterministic (ids excepted, which come from the
replicated meta row) is inside the op: the timestamp, the origin and the arguments.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import time

COMMAND_FORMAT = 1

OP_CREATE = "create"
OP_UPDATE = "update"
OP_DELETE = "delete"
OP_REGISTER_NODE = "register_node"
OP_INIT_CLUSTER = "init_cluster"  # args: {"cluster_id"}; the first one in the log names the cluster
# args: {"configuration": {"voters", "learners"}, "term", "base", "change": {"action", "address"}};
# alone in its entry, effective only as consensus/membership.py says
OP_CONFIGURE = "configure_members"
# Users and API tokens (state/users.py). Their args carry everything apply needs, chosen by the
# proposing node: ids, the token's SHA-256 (never the token), expiry in epoch milliseconds.
OP_USER_ADD = "user_add"  # args: {"user_id", "username", "email", "role"}
OP_USER_DISABLE = "user_disable"  # args: {"username"}
OP_TOKEN_CREATE = "token_create"  # args: {"token_id", "token_hash", "name", "username", "role", "expires_at"}
OP_TOKEN_REVOKE = "token_revoke"  # args: {"token_id"}
AUTH_OPS = frozenset({OP_USER_ADD, OP_USER_DISABLE, OP_TOKEN_CREATE, OP_TOKEN_REVOKE})

STATUSES = ("todo", "in_progress", "done")
ROLES = ("viewer", "editor", "admin")  # each role may do what the ones before it may
BACKUP_ROLE = "backup"  # outside that order: it may take backups (GET /api/v1/backup) and nothing else
USER_ROLES = (*ROLES, BACKUP_ROLE)
USERNAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
BOOTSTRAP_USER = "admin"  # the name of the bootstrap admin token's user, kept from the users table
TOKEN_NAME_MAX = 100
EMAIL_MAX = 254
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000

# Outcomes recorded by the state machine; the API maps them to HTTP statuses.
CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
REGISTERED = "registered"
CLUSTER_INITIALIZED = "cluster_initialized"
CONFIGURED = "configured"
NOT_EFFECTIVE = "not_effective"  # a configuration change the log's rule made inert (membership.py)
NOT_FOUND = "not_found"
PRECONDITION_FAILED = "precondition_failed"
KEY_REUSED = "idempotency_key_reused"
REJECTED = "rejected"
CONFLICT = "conflict"  # a user or token id, name or hash already taken


def now_ms() -> int:
    return int(time.time() * 1000)


_request_id_prefix: str
_request_id_counter: itertools.count[int]


def _draw_request_id_prefix() -> None:
    global _request_id_prefix, _request_id_counter
    _request_id_prefix = "r-" + os.urandom(8).hex() + "-"
    _request_id_counter = itertools.count(1)


_draw_request_id_prefix()
os.register_at_fork(after_in_child=_draw_request_id_prefix)  # gunicorn forks its worker from the master


def new_request_id() -> str:
    """A request id unique across nodes and restarts: a random 64-bit prefix drawn when the process
    starts (or forks), then a counter. A uuid4 per request cost a system call on every write."""
    return f"{_request_id_prefix}{next(_request_id_counter):x}"


def fingerprint(op: str, task_id: int | None, args: dict, if_match: int | None = None, user: str | None = None) -> str:
    """A stable digest of what a request asks for: same key + different request is detectable. The acting
    user is part of it (when there is one), so one user's Idempotency-Key never answers another's request."""
    parts = [op, task_id, args, if_match] + ([user] if user is not None else [])
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_op(
    op: str,
    *,
    origin: str,
    origin_addr: str,
    args: dict,
    task_id: int | None = None,
    if_match: int | None = None,
    request_id: str | None = None,
    ts_ms: int | None = None,
    user: str | None = None,
) -> dict:
    payload = dict(args)
    if task_id is not None:
        payload["task_id"] = task_id
    if if_match is not None:
        payload["if_match"] = if_match
    op_dict = {
        "op": op,
        "rid": request_id or new_request_id(),
        "fp": fingerprint(op, task_id, args, if_match, user),
        "ts": ts_ms if ts_ms is not None else now_ms(),
        "origin": origin,
        "origin_addr": origin_addr,
        "args": payload,
    }
    if user is not None:
        op_dict["user"] = user
    return op_dict


def make_entry(ops: list[dict]) -> dict:
    return {"v": COMMAND_FORMAT, "ops": list(ops)}


BARRIER = make_entry([])


_CLUSTER_ID = re.compile(r"[A-Za-z0-9-]{8,64}")


def valid_cluster_id(value) -> bool:
    return isinstance(value, str) and _CLUSTER_ID.fullmatch(value) is not None


def cluster_id_of(entry) -> str | None:
    """The cluster id the first valid init_cluster op of a log entry names (None if it has none)."""
    if not isinstance(entry, dict):
        return None
    for op in entry.get("ops", ()):
        if isinstance(op, dict) and op.get("op") == OP_INIT_CLUSTER:
            value = (op.get("args") or {}).get("cluster_id")
            if valid_cluster_id(value):
                return value
    return None


def role_rank(role) -> int:
    """0 viewer, 1 editor, 2 admin; -1 for anything else (the backup role too: it reads no task)."""
    return ROLES.index(role) if role in ROLES else -1


def token_role_allowed(role, owner_role) -> bool:
    """A token's role is its owner's or one below it; an admin may also make a backup-only token."""
    if role == BACKUP_ROLE:
        return owner_role in (BACKUP_ROLE, "admin")
    return 0 <= role_rank(role) <= role_rank(owner_role)


def encodable(value: str) -> bool:
    """True if MySQL's utf8mb4 can store it (no lone surrogates)."""
    try:
        value.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def check_task_fields(args: dict, *, creating: bool) -> str | None:
    """Deterministic re-check of the API's validation, done at apply time. Returns a reason or None."""
    for key in ("title", "description"):
        if isinstance(args.get(key), str) and not encodable(args[key]):
            return f"{key} is not valid UTF-8 text"
    title = args.get("title")
    if creating and title is None:
        return "title is required"
    if title is not None and (not isinstance(title, str) or not (1 <= len(title.strip()) <= TITLE_MAX)):
        return f"title must be 1..{TITLE_MAX} characters"
    description = args.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > DESCRIPTION_MAX):
        return f"description must be at most {DESCRIPTION_MAX} characters"
    status = args.get("status")
    if status is not None and status not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}"
    return None
