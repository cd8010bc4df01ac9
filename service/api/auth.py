"""Authentication on every `/api/v1` route: `Authorization: Bearer <token>`, then the route's role.

Open without a token: `/healthz`, `/readyz`, the page's static files, CORS preflights (OPTIONS, which
carry no credentials), `/metrics` unless TASKRAFT_METRICS_AUTH=token, and PUBLIC_PATHS. Roles:
viewer reads, editor writes tasks, admin manages users, tokens and members. The nodes' internal
credential (auth/tokens.py) is accepted only where nodes call each other: a member's own view
(`GET /api/v1/cluster`, the cluster view's fan-out) and a membership change forwarded to the leader.

401 `unauthenticated` (with `WWW-Authenticate: Bearer`) for a missing, unknown, expired or revoked
token or a disabled user; 403 `forbidden` naming the role needed; 429 `too_many_failures` with
`Retry-After` for an address that failed too often (auth/ratelimit.py).
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

from .. import commands as c
from ..auth.ratelimit import FailureLimiter
from ..auth.settings import AuthSettings
from ..auth.verifier import INTERNAL_ROLE, Principal, Refused, Verifier
from .errors import ApiError
from .node_access import node
from .port import FORWARDED_HEADER

EXTENSION = "taskraft.auth"
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})  # the API's description is no secret
# Endpoints (blueprint.function) and the role each needs; any other needs viewer to read, editor to write.
ADMIN_ENDPOINTS = frozenset({"members.add_member", "members.remove_member"})
ANY_ROLE_ENDPOINTS = frozenset({"users.whoami"})  # any valid token, the backup role's too
BACKUP_ENDPOINTS = frozenset({"backup.take_backup"})  # admin, or the backup role
INTERNAL_ENDPOINTS = frozenset({"ops.cluster", "members.add_member", "members.remove_member"})
_READS = frozenset({"GET", "HEAD"})


class Authenticator:
    """What the hook needs, kept in `app.extensions[EXTENSION]`."""

    def __init__(self, settings: AuthSettings):
        self.settings = settings
        self.limiter = FailureLimiter(settings.failures_per_minute)
        self.verifier = Verifier(
            lambda token_hash: node().credential(token_hash),
            lambda: node().auth_epoch,
            admin_hash=settings.admin_token_hash,
            backup_hash=settings.backup_token_hash,
            internal_hash=settings.internal_token_hash,
        )


def install(app: Flask, settings: AuthSettings) -> None:
    app.extensions[EXTENSION] = Authenticator(settings)
    app.before_request(_authenticate)


def authenticator() -> Authenticator:
    return current_app.extensions[EXTENSION]


def principal() -> Principal | None:
    """Who made this request (None when authentication is off)."""
    return g.get("principal")


def acting_user() -> str | None:
    """The name recorded as having made a write (None when authentication is off)."""
    who = principal()
    return who.username if who is not None and who.role != INTERNAL_ROLE else None


def required_role(endpoint: str | None, method: str) -> str:
    if endpoint in ANY_ROLE_ENDPOINTS:
        return "viewer"
    if endpoint in ADMIN_ENDPOINTS or endpoint in BACKUP_ENDPOINTS or (endpoint or "").startswith("users."):
        return "admin"
    return "viewer" if method in _READS else "editor"


def _protected(path: str, settings: AuthSettings) -> bool:
    if path in PUBLIC_PATHS:
        return False
    return path == "/api/v1" or path.startswith("/api/v1/") or (path == "/metrics" and settings.metrics_need_token)


def _authenticate() -> None:
    auth = authenticator()
    g.principal = None
    if not auth.settings.enabled or request.method == "OPTIONS" or not _protected(request.path, auth.settings):
        return
    address = request.remote_addr or "unknown"
    token = _bearer(request.headers.get("Authorization"))
    if token is None and "Authorization" not in request.headers:
        raise _unauthenticated("this needs a token: Authorization: Bearer <token>", None)
    wait = auth.limiter.retry_after(address)
    if wait is not None:
        raise ApiError(
            429,
            "too_many_failures",
            "too many failed authentications from this address; try again later",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    if token is None:
        auth.limiter.failed(address)
        raise _unauthenticated("the Authorization header must be: Bearer <token>", "invalid_request")
    try:
        who = auth.verifier.verify(token)
    except Refused as refused:
        auth.limiter.failed(address)
        raise _unauthenticated(refused.message, "invalid_token") from None
    endpoint = request.endpoint
    if who.role == INTERNAL_ROLE:
        forwarded = request.headers.get(FORWARDED_HEADER) == "1" or request.method in _READS
        if endpoint not in INTERNAL_ENDPOINTS or not forwarded:
            raise _unauthenticated("the nodes' credential is not accepted here", "invalid_token")
        g.principal = who
        return
    needed = required_role(endpoint, request.method)
    if endpoint in ANY_ROLE_ENDPOINTS or (endpoint in BACKUP_ENDPOINTS and who.role == c.BACKUP_ROLE):
        pass
    elif c.role_rank(who.role) < c.role_rank(needed):
        raise ApiError(
            403,
            "forbidden",
            f"this needs the {needed} role; the token has {who.role}",
            details=[{"field": "Authorization", "message": f"needs the {needed} role, has {who.role}"}],
        )
    g.principal = who


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 512:
        return None
    return value


def _unauthenticated(message: str, error: str | None) -> ApiError:
    challenge = 'Bearer realm="taskraft"' + (f', error="{error}"' if error else "")
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": challenge})
