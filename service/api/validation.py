"""Request validation with pydantic: bodies, query parameters and headers, with field-level details."""

from __future__ import annotations

import re
from typing import Literal, overload

from flask import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .. import commands as c
from ..state.machine import MAX_TASK_ID
from .errors import ApiError, invalid
from .port import Consistency

MAX_BODY = 64 * 1024
Status = Literal["todo", "in_progress", "done"]
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
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


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str
    description: str = Field(default="", max_length=c.DESCRIPTION_MAX)
    status: Status = "todo"

    _title = field_validator("title")(classmethod(lambda cls, v: _check_title(v)))
    _description = field_validator("description")(classmethod(lambda cls, v: _check_description(v)))


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str | None = None
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


def parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "payload_too_large", "request body is larger than 64 KiB")
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise invalid("the body is not valid JSON", [{"field": "body", "message": "malformed JSON"}])
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object", [{"field": "body", "message": "expected an object"}])
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
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit() or len(value) > 18:
        raise invalid(
            'If-Match must be an ETag this API issued, like "3"', [{"field": "If-Match", "message": "malformed"}]
        )
    return int(value)


def idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not _KEY_RE.match(raw):
        raise invalid(
            "Idempotency-Key must be 1..200 printable ASCII characters",
            [{"field": "Idempotency-Key", "message": "malformed"}],
        )
    return raw
