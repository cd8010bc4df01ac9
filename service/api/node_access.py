"""How request handlers reach the running node (set on the app by create_app)."""

from __future__ import annotations

from contextlib import contextmanager

from flask import current_app

from ..state.db import TRANSIENT_ERRORS
from .errors import ApiError


def node():
    n = current_app.config["TASKRAFT_NODE"]
    if n is None or not n.started:
        raise ApiError(503, "starting", "this node is still starting", headers={"Retry-After": "1"})
    return n


@contextmanager
def read_connection():
    try:
        conn = node().pool.connection()
    except TRANSIENT_ERRORS:
        raise ApiError(
            503, "database_unavailable", "this node's database is not answering", headers={"Retry-After": "1"}
        ) from None
    try:
        yield conn
    except TRANSIENT_ERRORS:
        raise ApiError(
            503, "database_unavailable", "this node's database is not answering", headers={"Retry-After": "1"}
        ) from None
    finally:
        try:
            conn.close()
        except Exception:
            pass
