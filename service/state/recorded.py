"""An operation's result read back from `raft_log`, where the state machine records every one.

For the operations whose result is not among the recent ones (`progress.Progress.result`): skipped
as already applied (a retried commit, a replay, an entry a snapshot install already held), or
applied long enough ago that newer results took their place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from .. import commands as c
from .db import TRANSIENT_ERRORS
from .machine import OpResult

log = logging.getLogger(__name__)


def read_result(conn, request_id: str, fingerprint: str) -> OpResult | None:
    """The result the request id was applied with; for another request (another fingerprint) reusing
    the id, the state machine's refusal. None if the request id was never applied."""
    with conn.cursor() as cur:
        cur.execute("SELECT log_index, fingerprint, result FROM raft_log WHERE request_id = %s", (request_id,))
        row = cur.fetchone()
    if row is None:
        return None
    log_index, recorded_fingerprint, result = row
    if recorded_fingerprint != fingerprint:
        return OpResult(c.KEY_REUSED, message="this idempotency key was used for a different request")
    return OpResult.from_json(json.loads(result), int(log_index))


def reader(pool) -> Callable[[str, str], OpResult | None]:
    """`read_result` on a connection borrowed from `pool` (autocommit: it sees every applied
    transaction). None also while the database does not answer; the caller may ask again."""

    def read(request_id: str, fingerprint: str) -> OpResult | None:
        try:
            with pool.connection() as conn:
                return read_result(conn, request_id, fingerprint)
        except TRANSIENT_ERRORS as exc:
            log.warning("cannot read the result of %s back from raft_log: %s", request_id, exc)
            return None

    return read
