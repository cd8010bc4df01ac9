"""The client's errors, each with the CLI's exit code."""

from __future__ import annotations


class ClientError(Exception):
    exit_code = 1

    def __init__(self, message: str, status: int | None = None, code: str | None = None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.body = body


class UsageError(ClientError):
    """The request was invalid (400), or the client was given no node to talk to."""

    exit_code = 1


class NotFound(ClientError):
    exit_code = 2


class AuthError(ClientError):
    """401 (no token, or one that is unknown, expired or revoked), 403 (a role too low), 429 (too many failures)."""

    exit_code = 4


class Conflict(ClientError):
    """412 precondition_failed (stale version) or 422 idempotency_key_reused."""

    exit_code = 2


class Unavailable(ClientError):
    """No node gave a usable answer before the deadline."""

    exit_code = 3


class CertificateError(Unavailable):
    """Every node refused the TLS handshake (most often: its certificate is not verified by the CA given)."""
