"""MySQL connections: one dedicated connection for the applier, a pool for API reads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import pymysql
from dbutils.pooled_db import PooledDB
from pymysql.constants import CLIENT
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from ..config import MySQLSettings

T = TypeVar("T")

log = logging.getLogger(__name__)

# Errors that mean "the database is unreachable or broke the session": retry, never skip.
TRANSIENT_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError, pymysql.err.InternalError, OSError)


def connect(
    settings: MySQLSettings, *, autocommit: bool = False, scripts: bool = False
) -> pymysql.connections.Connection:
    """`scripts`: allow several statements per round trip (the applier's batches, see statements.py)."""
    kwargs = settings.connect_kwargs()
    kwargs["autocommit"] = autocommit
    if scripts:
        kwargs["client_flag"] = CLIENT.MULTI_STATEMENTS
    return pymysql.connect(**kwargs)


def wait_for_database(settings: MySQLSettings, timeout: float) -> None:
    """Block until the database accepts connections, or raise the last error after `timeout` seconds."""
    Retrying(
        retry=retry_if_exception_type(TRANSIENT_ERRORS),
        wait=wait_fixed(0.5),
        stop=stop_after_delay(timeout),
        before_sleep=lambda state: log.info(
            "waiting for MySQL at %s:%s: %s", settings.host, settings.port, state.outcome and state.outcome.exception()
        ),
        reraise=True,
    )(lambda: connect(settings).close())


def read_pool(settings: MySQLSettings, size: int) -> PooledDB:
    """Autocommit connections, so every read sees the latest applied transaction.

    One round trip per read: no ping when a connection is borrowed (`ping=0`) and no rollback when it
    is returned (`reset=False`; every read is one autocommit statement, so there is nothing to roll
    back). A connection the server dropped fails its next statement, and DBUtils then reconnects and
    runs the statement again once, which is safe for reads.
    """
    kwargs = settings.connect_kwargs()
    kwargs["autocommit"] = True
    return PooledDB(
        pymysql, mincached=0, maxcached=size, maxconnections=size * 2, blocking=True, ping=0, reset=False, **kwargs
    )


def in_transaction(conn: pymysql.connections.Connection, work: Callable[[], T]) -> T:
    """Run `work` and commit; roll back (best effort) and re-raise if anything fails."""
    try:
        result = work()
        conn.commit()
        return result
    except BaseException:
        try:
            conn.rollback()
        except Exception:
            pass
        raise
