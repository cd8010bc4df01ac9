"""Conversions between MySQL rows and API-shaped task dicts. Pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
import json

TASK_COLUMNS = (
    "task_id, title, description, task_status, created_by, created_at, updated_at, version,"
    " created_by_user, updated_by_user"
)


def ms_to_sql(ts_ms: int) -> str:
    """Epoch milliseconds (from the command) to a DATETIME(3) literal in UTC."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


_EPOCH = dt.datetime(1970, 1, 1)


def ms_to_rfc3339(ts_ms: int) -> str:
    """Epoch milliseconds to the API's timestamp form, as `rfc3339` renders a stored DATETIME(3)."""
    return _render(_EPOCH + dt.timedelta(milliseconds=ts_ms))


def rfc3339_to_ms(value: str) -> int:
    """The API's timestamp form (always UTC, millisecond precision) back to epoch milliseconds."""
    parsed = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    return (parsed - _EPOCH) // dt.timedelta(milliseconds=1)


def rfc3339(value: dt.datetime | str | None) -> str | None:
    if value is None:
        return None
    return _render(dt.datetime.fromisoformat(value) if isinstance(value, str) else value)


def _render(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def task_from_row(row) -> dict:
    """A task from the columns of TASK_COLUMNS (the acting users may be missing: a row built before them)."""
    task_id, title, description, status, created_by, created_at, updated_at, version = row[:8]
    created_by_user, updated_by_user = (tuple(row[8:10]) + (None, None))[:2]
    return {
        "id": int(task_id),
        "title": title,
        "description": description,
        "status": status,
        "created_by": created_by,
        "created_at": rfc3339(created_at),
        "updated_at": rfc3339(updated_at),
        "version": int(version),
        "created_by_user": created_by_user,
        "updated_by_user": updated_by_user,
    }


def _storable(obj):
    """Replace what utf8mb4 and JSON columns refuse (lone surrogates) so a bad command can be recorded."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            return obj.encode("utf-8", "replace").decode("utf-8")
    if isinstance(obj, dict):
        return {k: _storable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_storable(v) for v in obj]
    return obj


def dumps_storable(obj) -> str:
    """Compact JSON of `obj` that a utf8mb4 JSON column takes whatever the command held."""
    return json.dumps(_storable(obj), separators=(",", ":"), ensure_ascii=False)
