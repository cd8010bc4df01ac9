"""Authentication settings, from TASKRAFT_* variables (read by the node's WSGI app at import).

    TASKRAFT_AUTH               on (default) | off: off serves the API to anyone, as before tokens
    TASKRAFT_ADMIN_TOKEN        the bootstrap admin token, or TASKRAFT_ADMIN_TOKEN_FILE: a file holding it
    TASKRAFT_BACKUP_TOKEN       a bootstrap token that may only take backups (the chart's backup CronJob), or _FILE
    TASKRAFT_METRICS_AUTH       open (default) | token: /metrics then needs a token (any role)
    TASKRAFT_AUTH_FAILURES      failed authentications a client address may make per minute (30)
    TASKRAFT_RAFT_SECRET(_FILE) the cluster's Raft secret, from which the internal credential derives

Only hashes are kept: the bootstrap tokens are hashed as it is read and the token itself is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .tokens import hash_token, internal_token

MIN_ADMIN_TOKEN = 16  # characters; `taskraft cluster up` makes 47


class AuthConfigError(ValueError):
    """An authentication setting is malformed; the node refuses to start."""


@dataclass(frozen=True)
class AuthSettings:
    enabled: bool = False
    admin_token_hash: str | None = None
    backup_token_hash: str | None = None
    internal_token_hash: str | None = None
    metrics_need_token: bool = False
    failures_per_minute: float = 30.0

    @classmethod
    def off(cls) -> AuthSettings:
        return cls(enabled=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"TASKRAFT_{name}")
            return value if value not in (None, "") else None

        mode = (get("AUTH") or "on").strip().lower()
        if mode not in ("on", "off"):
            raise AuthConfigError(f"TASKRAFT_AUTH must be on or off, got {mode!r}")
        metrics = (get("METRICS_AUTH") or "open").strip().lower()
        if metrics not in ("open", "token"):
            raise AuthConfigError(f"TASKRAFT_METRICS_AUTH must be open or token, got {metrics!r}")
        admin = _read(get("ADMIN_TOKEN"), get("ADMIN_TOKEN_FILE"), "admin token")
        if admin is not None and len(admin) < MIN_ADMIN_TOKEN:
            raise AuthConfigError(f"the admin token must be at least {MIN_ADMIN_TOKEN} characters")
        backup = _read(get("BACKUP_TOKEN"), get("BACKUP_TOKEN_FILE"), "backup token")
        if backup is not None and len(backup) < MIN_ADMIN_TOKEN:
            raise AuthConfigError(f"the backup token must be at least {MIN_ADMIN_TOKEN} characters")
        internal = internal_token(_read(get("RAFT_SECRET"), get("RAFT_SECRET_FILE"), "Raft secret"))
        try:
            failures = float(get("AUTH_FAILURES") or "30")
        except ValueError:
            raise AuthConfigError("TASKRAFT_AUTH_FAILURES must be a number") from None
        if failures <= 0:
            raise AuthConfigError("TASKRAFT_AUTH_FAILURES must be positive")
        return cls(
            enabled=mode == "on",
            admin_token_hash=hash_token(admin) if admin else None,
            backup_token_hash=hash_token(backup) if backup else None,
            internal_token_hash=hash_token(internal) if internal else None,
            metrics_need_token=metrics == "token",
            failures_per_minute=failures,
        )


def _read(value: str | None, path: str | None, what: str) -> str | None:
    if value:
        return value.strip()
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise AuthConfigError(f"cannot read the {what} file {path}: {exc}") from exc
    return None
