"""Judging a presented token: who it belongs to and with which role, or why it is refused.

The bootstrap admin token and the nodes' internal credential are compared with their configured
hashes; any other token is found by its hash in this node's replicated tables (`lookup`, a local
read: the tables are the log's, applied here). What a lookup found, or that it found nothing, is
cached for `ttl` seconds and only while the applier's `auth_epoch` has not moved: applying any
user or token op moves it, so a revoke or a disable takes effect on a node as soon as it applies
the entry. Expiry is judged at each request against this node's clock.

`last_used` is kept here, per node and in memory, not replicated: recording it through the log
would cost a Raft write for every request. `GET /api/v1/tokens` shows the answering node's.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import commands as c
from .tokens import hash_token, same_hash

INTERNAL_ROLE = "internal"  # the nodes' own credential: accepted on the node-to-node routes only
BOOTSTRAP_TOKEN_ID = "bootstrap"
BOOTSTRAP_BACKUP_TOKEN_ID = "bootstrap-backup"


@dataclass(frozen=True)
class Principal:
    username: str
    role: str  # viewer | editor | admin | backup | internal
    token_id: str
    user_id: str | None = None


class Refused(Exception):
    """The token does not authenticate; `reason` says why (unknown, expired, revoked, disabled)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


class Verifier:
    def __init__(
        self,
        lookup: Callable[[str], dict | None],
        epoch: Callable[[], int],
        *,
        admin_hash: str | None = None,
        backup_hash: str | None = None,
        internal_hash: str | None = None,
        ttl: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ):
        self._lookup = lookup
        self._epoch = epoch
        self._admin_hash = admin_hash
        self._backup_hash = backup_hash
        self._internal_hash = internal_hash
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, float, dict | None]] = {}  # hash -> (epoch, monotonic time, row)
        self._last_used: dict[str, int] = {}  # token id -> epoch ms

    def verify(self, token: str) -> Principal:
        """The principal `token` stands for; raises Refused. A lookup's own errors propagate."""
        token_hash = hash_token(token)
        if self._admin_hash is not None and same_hash(token_hash, self._admin_hash):
            return self._used(Principal(c.BOOTSTRAP_USER, "admin", BOOTSTRAP_TOKEN_ID))
        if self._backup_hash is not None and same_hash(token_hash, self._backup_hash):
            return self._used(Principal("backup", c.BACKUP_ROLE, BOOTSTRAP_BACKUP_TOKEN_ID))
        if self._internal_hash is not None and same_hash(token_hash, self._internal_hash):
            return Principal("node", INTERNAL_ROLE, "internal")
        row = self._credential(token_hash)
        if row is None or not same_hash(str(row.get("token_hash", "")), token_hash):
            raise Refused("unknown", "the token is not valid")
        if row["revoked"]:
            raise Refused("revoked", "the token was revoked")
        if row["disabled"]:
            raise Refused("disabled", f"the user {row['username']} is disabled")
        expires = row.get("expires_at")
        if expires is not None and _ms(expires) <= self._clock() * 1000:
            raise Refused("expired", "the token has expired")
        # The token's role, never above its owner's.
        role = min(row["role"], row["user_role"], key=c.role_rank)
        return self._used(Principal(row["username"], role, row["token_id"], row["user_id"]))

    def last_used(self, token_id: str) -> str | None:
        ms = self._last_used.get(token_id)
        return (
            None
            if ms is None
            else dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    def _used(self, principal: Principal) -> Principal:
        with self._lock:
            if len(self._last_used) >= self._max and principal.token_id not in self._last_used:
                self._last_used.clear()
            self._last_used[principal.token_id] = int(self._clock() * 1000)
        return principal

    def _credential(self, token_hash: str) -> dict | None:
        epoch = self._epoch()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(token_hash)
        if cached is not None and cached[0] == epoch and now - cached[1] < self._ttl:
            return cached[2]
        row = self._lookup(token_hash)
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()  # bounded: a flood of bogus tokens costs lookups, not memory
            self._cache[token_hash] = (epoch, now, row)
        return row


def _ms(rfc3339: str) -> int:
    parsed = dt.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)
