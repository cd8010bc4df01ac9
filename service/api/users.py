"""User and token routes (admin), and `GET /api/v1/whoami` (any valid token).

Users and tokens change only through the Raft log. The node that takes a request draws what apply
must not draw: the user or token id, the token itself (returned once, in the answer to its creation,
never stored, logged or replicated) and its SHA-256, which is what the op carries. A retry with the
same Idempotency-Key is recognised by what was asked (the fingerprint leaves the drawn values out);
a token created by an earlier attempt cannot be shown again, so that retry is answered 409.
"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import commands as c
from ..auth import tokens
from ..auth.verifier import INTERNAL_ROLE
from . import validation as v
from .auth import acting_user, authenticator, principal
from .errors import ApiError
from .node_access import deadline, node

bp = Blueprint("users", __name__, url_prefix="/api/v1")

_USERNAME = re.compile(c.USERNAME_PATTERN)
MAX_EXPIRES_IN = 10 * 366 * 24 * 3600  # seconds: ten years
_STATUS_OF = {c.CREATED: 201, c.UPDATED: 200}
_ERRORS_OF = {
    c.NOT_FOUND: (404, "not_found"),
    c.REJECTED: (400, "invalid_request"),
    c.CONFLICT: (409, "conflict"),
    c.KEY_REUSED: (422, "idempotency_key_reused"),
}


def _check_role(value: str | None) -> str | None:
    if value is not None and value not in c.USER_ROLES:
        raise ValueError(f"role must be one of {', '.join(c.USER_ROLES)}")
    return value


def _check_username(value: str) -> str:
    if not _USERNAME.fullmatch(value):
        raise ValueError("username must be 1..64 lowercase letters, digits, dots, dashes or underscores")
    return value


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: str
    email: str = Field(default="", max_length=c.EMAIL_MAX)
    role: str

    _username = field_validator("username")(classmethod(lambda cls, value: _check_username(value)))
    _role = field_validator("role")(classmethod(lambda cls, value: _check_role(value)))


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: str
    name: str = Field(min_length=1, max_length=c.TOKEN_NAME_MAX)
    role: str | None = None  # default: the owner's role
    expires_in: int | None = Field(default=None, ge=1, le=MAX_EXPIRES_IN)  # seconds; none: never expires

    _username = field_validator("username")(classmethod(lambda cls, value: _check_username(value)))
    _role = field_validator("role")(classmethod(lambda cls, value: _check_role(value)))


def _write(kind: str, asked: dict, drawn: dict | None = None, fp_args: dict | None = None, ts_ms: int | None = None):
    """Propose a user or token op; the record it wrote and the HTTP status (errors raised as ApiError).
    The fingerprint covers what was asked (`fp_args`, by default `asked`), never the drawn values."""
    n = node()
    key = v.idempotency_key(request)
    user = acting_user()
    op = c.make_op(
        kind,
        origin=n.node_id,
        origin_addr=n.raft_address,
        args={**asked, **(drawn or {})},
        request_id=f"key:{key}" if key else None,
        user=user,
        ts_ms=ts_ms,
    )
    op["fp"] = c.fingerprint(kind, None, asked if fp_args is None else fp_args, None, user)
    result = n.submit(op, deadline())
    if result.outcome in _ERRORS_OF:
        status, code = _ERRORS_OF[result.outcome]
        raise ApiError(status, code, result.message or code)
    if result.record is None or result.outcome not in _STATUS_OF:
        raise ApiError(500, "internal", "the operation returned no record")
    return result.record, _STATUS_OF[result.outcome]


@bp.get("/whoami")
def whoami():
    who = principal()
    if not authenticator().settings.enabled:
        return jsonify({"auth": "off", "username": None, "role": "admin", "token_id": None})
    assert who is not None and who.role != INTERNAL_ROLE  # the hook let only a user's token through
    return jsonify({"auth": "on", "username": who.username, "role": who.role, "token_id": who.token_id})


@bp.get("/users")
def list_users():
    consistency = v.consistency(request)
    return jsonify({"items": node().list_users(consistency=consistency, deadline=deadline())})


@bp.post("/users")
def add_user():
    body = v.parse_body(request, UserCreate)
    asked = body.model_dump()
    record, status = _write(c.OP_USER_ADD, asked, {"user_id": tokens.new_id("u-")})
    return jsonify(record), status


@bp.post("/users/<username>/disable")
def disable_user(username: str):
    record, status = _write(c.OP_USER_DISABLE, {"username": username})
    return jsonify(record), status


@bp.get("/tokens")
def list_tokens():
    consistency = v.consistency(request)
    username = request.args.get("username") or None
    items = node().list_tokens(username=username, consistency=consistency, deadline=deadline())
    verifier = authenticator().verifier
    return jsonify({"items": [{**t, "last_used_here": verifier.last_used(t["token_id"])} for t in items]})


@bp.post("/tokens")
def create_token():
    body = v.parse_body(request, TokenCreate)
    assert isinstance(body, TokenCreate)
    asked = {"username": body.username, "name": body.name, "role": body.role}
    now = c.now_ms()
    drawn_token = tokens.new_token()
    drawn = {
        "token_id": tokens.new_id("t-"),
        "token_hash": tokens.hash_token(drawn_token),
        "expires_at": now + body.expires_in * 1000 if body.expires_in is not None else None,
    }
    record, status = _write(c.OP_TOKEN_CREATE, asked, drawn, {**asked, "expires_in": body.expires_in}, now)
    if record["token_id"] != drawn["token_id"]:
        raise ApiError(
            409,
            "token_not_shown",
            f"an earlier attempt with this Idempotency-Key created token {record['token_id']}; a token is shown"
            " only once: revoke it and create another",
        )
    return jsonify({"token": drawn_token, **record}), status


@bp.delete("/tokens/<token_id>")
def revoke_token(token_id: str):
    record, status = _write(c.OP_TOKEN_REVOKE, {"token_id": token_id})
    return jsonify(record), status
