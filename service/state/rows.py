"""Conversions between MySQL rows and API-shaped task dicts. Pure functions, no I/O."""

from __future__ import annotations

import datetime as dt

TASK_COLUMNS = "task_id, title, description, task_status, created_by, created_at, updated_at, version"


def ms_to_sql(ts_ms: int) -> str:
    """Epoch milliseconds (from the command) to a DATETIME(3) literal in UTC."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def rfc3339(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def task_from_row(row) -> dict:
    task_id, title, description, status, created_by, created_at, updated_at, version = row
    return {
        "id": int(task_id),
        "title": title,
        "description": description,
        "status": status,
        "created_by": created_by,
        "created_at": rfc3339(created_at),
        "updated_at": rfc3339(updated_at),
        "version": int(version),
    }
