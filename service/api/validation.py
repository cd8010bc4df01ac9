"""Request validation with pydantic: bodies, query parameters and headers, with field-level details."""

from __future__ import annotations

import re
from typing import Literal, TypeVar, overload

from flask import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import JsonDict

from .. import commands as c
from ..state.machine import MAX_TASK_ID
from .errors import ApiError, invalid
from .port import Consistency

MAX_BODY = 64 * 1024
Status = Literal["todo", "in_progress", "done"]
LIMIT_DEFAULT, LIMIT_MIN, LIMIT_MAX = 100, 1, 500  # GET /api/v1/tasks?limit=
CURSOR_MAX = 2**63 - 1  # GET /api/v1/tasks?after=
KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"  # Idempotency-Key: printable ASCII
ETAG_PATTERN = r'^(W/)?"?[0-9]{1,18}"?$'  # If-Match: an ETag this API issued
_KEY_RE = re.compile(KEY_PATTERN)
_ETAG_RE = re.compile(ETAG_PATTERN)
_CONSISTENCIES: dict[str, Consistency] = {"linearizable": "linearizable", "local": "local"}


def _clean_text(value: str, field: str) -> str:
    if not c.encodable(value):
        raise ValueError(f"{field} is not valid UTF-8 text")
    return value


def _check_title(value: str | None) -> str | None:
    if value is None:
        return None
    value = _clean_text(value, "title").strip()
    if not 1 <= len(value) <= c.TITLE_MAX:
        raise ValueError(f"title must be 1..{c.TITLE_MAX} characters after trimming")
    return value


def _check_description(value: str | None) -> str | None:
    return None if value is None else _clean_text(value, "description")


# The title is trimmed before its length is checked, so the schema states the trimmed rule as a pattern and a
# length for titles without surrounding blanks; the validator below is what decides.
_TITLE_SCHEMA: JsonDict = {"minLength": 1, "maxLength": c.TITLE_MAX, "pattern": r"\S"}


class TaskCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"title": "write the docs", "description": "README", "status": "todo"}]},
    )

    title: str = Field(json_schema_extra=_TITLE_SCHEMA)
    description: str = Field(default="", max_length=c.DESCRIPTION_MAX)
    status: Status = "todo"

    _title = field_validator("title")(classmethod(lambda cls, v: _check_title(v)))
    _description = field_validator("description")(classmethod(lambda cls, v: _check_description(v)))


def _one_field_given(schema: JsonDict) -> None:
    """The document's form of `_not_empty`: at least one of the fields is present and not null."""
    schema["anyOf"] = [
        {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
        for name in ("title", "description", "status")
    ]


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_one_field_given)

    title: str | None = Field(default=None, json_schema_extra=_TITLE_SCHEMA)
    description: str | None = Field(default=None, max_length=c.DESCRIPTION_MAX)
    status: Status | None = None

    _title = field_validator("title")(classmethod(lambda cls, v: _check_title(v)))
    _description = field_validator("description")(classmethod(lambda cls, v: _check_description(v)))

    @model_validator(mode="after")
    def _not_empty(self) -> TaskPatch:
        if self.title is None and self.description is None and self.status is None:
            raise ValueError("give at least one of title, description, status")
        return self


def _details(exc: ValidationError) -> list[dict]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"].removeprefix("Value error, ")
        out.append({"field": field, "message": message})
    return out


class MemberAdd(BaseModel):
    """POST /api/v1/cluster/members: the new member's Raft address (the leader checks it: 400 invalid_address)."""

    model_config = ConfigDict(strict=True)

    address: str = Field(description="the new member's Raft address, host:port")


M = TypeVar("M", bound=BaseModel)


def json_object(request: Request) -> dict:
    """The body as a JSON object: 413 over 64 KiB, 415 unless application/json, 400 if it is not a JSON object.

    Malformed JSON and JSON nested too deeply to parse (the parser's RecursionError) are both 400."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "payload_too_large", "request body is larger than 64 KiB")
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise invalid(
            "the body is not valid JSON", [{"field": "body", "message": "nested too deeply to parse"}]
        ) from None
    if data is None:
        raise invalid("the body is not valid JSON", [{"field": "body", "message": "malformed JSON"}])
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object", [{"field": "body", "message": "expected an object"}])
    return data


def parse_body(request: Request, model: type[M]) -> M:
    data = json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid("the request has invalid fields", _details(exc)) from None


def task_id_or_404(raw: int) -> int:
    from .errors import not_found

    if not 0 < raw <= MAX_TASK_ID:
        raise not_found()
    return raw


@overload
def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int: ...
@overload
def query_int(request: Request, name: str, default: None, lo: int, hi: int) -> int | None: ...
def query_int(request: Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be an integer", [{"field": name, "message": "not an integer"}]) from None
    if not lo <= value <= hi:
        raise invalid(f"{name} must be between {lo} and {hi}", [{"field": name, "message": f"out of range {lo}..{hi}"}])
    return value


def query_status(request: Request) -> str | None:
    status = request.args.get("status")
    if status in (None, ""):
        return None
    if status not in c.STATUSES:
        raise invalid("unknown status", [{"field": "status", "message": f"one of {', '.join(c.STATUSES)}"}])
    return status


def consistency(request: Request) -> Consistency:
    value = _CONSISTENCIES.get(request.args.get("consistency", "linearizable"))
    if value is None:
        raise invalid("unknown consistency", [{"field": "consistency", "message": "one of linearizable, local"}])
    return value


def if_match(request: Request) -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    value = raw.strip()
    if not _ETAG_RE.fullmatch(value):
        raise invalid(
            'If-Match must be an ETag this API issued, like "3"', [{"field": "If-Match", "message": "malformed"}]
        )
    return int(value.removeprefix("W/").strip('"'))


def idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not _KEY_RE.fullmatch(raw):
        raise invalid(
            "Idempotency-Key must be 1..200 printable ASCII characters",
            [{"field": "Idempotency-Key", "message": "malformed"}],
        )
    return raw
