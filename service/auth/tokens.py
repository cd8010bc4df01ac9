"""API tokens: how they are made, hashed and told apart.

A token is 32 random bytes from the OS (`secrets`), so it cannot be guessed, and SHA-256 of it is
all a node stores or replicates. A fast unsalted hash is enough for such a token: salting and slow
hashes (bcrypt, argon2) protect low-entropy passwords against dictionary attacks, and there is no
dictionary for 256 random bits; a slow hash would only cost every request CPU time. Whoever reads a
database, a snapshot or the Raft log learns hashes, which do not authenticate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "trk_"  # API tokens: easy to recognise in a leaked file or a secret scanner
INTERNAL_PREFIX = "tri_"  # the nodes' own credential (internal_token)
_INTERNAL_LABEL = b"taskraft internal API credential v1"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of the token, as 64 lowercase hex digits (what `api_tokens.token_hash` holds)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hashes."""
    return hmac.compare_digest(a.encode(), b.encode())


def new_id(prefix: str) -> str:
    """A user or token id, drawn by the proposing node (apply never draws anything)."""
    return prefix + secrets.token_hex(8)


def internal_token(raft_secret: str | None) -> str | None:
    """The credential nodes present to each other (the cluster view's fan-out, a membership change
    forwarded to the leader): an HMAC of a fixed label under the cluster's Raft secret, so every node
    derives the same one and nobody without the secret can. None without a Raft secret."""
    if not raft_secret:
        return None
    return INTERNAL_PREFIX + hmac.new(raft_secret.encode(), _INTERNAL_LABEL, hashlib.sha256).hexdigest()
