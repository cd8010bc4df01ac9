"""The OpenAPI 3.1 document, built from a registry of operations and the pydantic models of models.py.

Each route is described once, as an `Operation` in operations.py: its request model, parameters,
answers (each a model, headers and links) and the error statuses it can answer. `build_document`
turns the registry into the document; the schemas are the models' own `model_json_schema`
(`models_json_schema` for all of them at once, so shared parts are defined once), never a copy.

Adding a route means adding one `Operation` (and its models). Authentication is one switch:
`REQUIRE_AUTH = True` puts `bearerAuth` on every operation marked `secured` and adds the 401, 403
and 429 answers to them; the scheme itself is already in `components.securitySchemes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .models import ErrorBody

REQUIRE_AUTH = True  # bearer tokens guard /api/v1 (every `secured` operation; api/auth.py)
AUTH_ERRORS = (401, 403, 429)
SCHEMA_REF = "#/components/schemas/{model}"
JSON = "application/json"

# Each error status, what it means, and whether Retry-After always comes with it.
ERRORS: dict[int, tuple[str, bool]] = {
    400: ("invalid_request (field details), invalid_address, last_member", False),
    401: ("unauthenticated: a missing, unknown, expired, revoked or disabled token (WWW-Authenticate: Bearer)", False),
    403: ("forbidden: the token's role may not do this; the message names the role needed", False),
    404: ("not_found, not_member", False),
    409: (
        "already_member, would_lose_quorum, change_in_progress (with Retry-After); conflict (the user exists),"
        " token_not_shown",
        False,
    ),
    412: ("precondition_failed: If-Match names another version than the current one", False),
    413: ("payload_too_large: the body is over 64 KiB", False),
    415: ("unsupported_media_type: the body must be application/json", False),
    422: ("idempotency_key_reused: the Idempotency-Key was used for a different request", False),
    428: ("precondition_required: If-Match is required here", False),
    429: ("too_many_failures: too many failed authentications from this address; retry after Retry-After", True),
    503: (
        "starting, no_quorum (a write's outcome is unknown: retry with the same Idempotency-Key), "
        "database_unavailable, not_leader, not_applied",
        True,
    ),
    504: ("gateway_timeout: the answer did not come in time", False),
}

HEADERS: dict[str, dict[str, Any]] = {  # each sent on every answer that lists it
    "ETag": {
        "description": 'the task\'s version, quoted: "3"; send it back as If-Match',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    },
    "Location": {"description": "the new task's URL", "required": True, "schema": {"type": "string"}},
    "Retry-After": {
        "description": "seconds to wait before asking again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"},
}


@dataclass(frozen=True)
class Answer:
    """One successful answer: its status, body model (None: no body) and required headers."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    headers: tuple[str, ...] = ()
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    media_type: str = JSON
    schema: dict[str, Any] | None = None  # a body that is no model (the metrics text, the document itself)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    parameters: tuple[str, ...] = ()  # names in components.parameters
    secured: bool = True  # under REQUIRE_AUTH, needs a bearer token
    description: str = ""


Mode = Literal["validation", "serialization"]


def _models(operations: list[Operation]) -> list[tuple[type[BaseModel], Mode]]:
    seen: dict[tuple[type[BaseModel], Mode], None] = {(ErrorBody, "serialization"): None}
    for op in operations:
        if op.body is not None:
            seen[(op.body, "validation")] = None
        for answer in op.answers:
            if answer.model is not None:
                seen[(answer.model, "serialization")] = None
    return list(seen)


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _error_response(status: int) -> dict[str, Any]:
    description, retry_after = ERRORS[status]
    out: dict[str, Any] = {"description": description, "content": {JSON: {"schema": _ref("ErrorBody")}}}
    if retry_after:
        out["headers"] = {"Retry-After": _ref("Retry-After", "headers")}
    return out


def _answer(answer: Answer, refs: dict[tuple[type[BaseModel], str], dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    schema = refs[(answer.model, "serialization")] if answer.model is not None else answer.schema
    if schema is not None:
        out["content"] = {answer.media_type: {"schema": schema}}
    if answer.headers:
        out["headers"] = {name: _ref(name, "headers") for name in answer.headers}
    if answer.links:
        out["links"] = answer.links
    return out


def _operation(op: Operation, refs: dict, require_auth: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    if op.parameters:
        out["parameters"] = [_ref(name, "parameters") for name in op.parameters]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": refs[(op.body, "validation")]}}}
    responses = {str(a.status): _answer(a, refs) for a in op.answers}
    errors = set(op.errors) | (set(AUTH_ERRORS) if require_auth and op.secured else set())
    for status in sorted(errors):
        responses[str(status)] = _ref(str(status), "responses")
    out["responses"] = responses
    if require_auth and op.secured:
        out["security"] = [{"bearerAuth": []}]
    return out


def build_document(
    operations: list[Operation], parameters: dict[str, dict[str, Any]], *, require_auth: bool = REQUIRE_AUTH
) -> dict[str, Any]:
    refs, defs = models_json_schema(_models(operations), ref_template=SCHEMA_REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, require_auth)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "taskraft",
            "version": _version(),
            "description": "Tasks replicated by Raft: any node accepts any request. Errors are "
            '`{"error": {"code", "message", "details"?}}`.',
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "responses": {str(status): _error_response(status) for status in ERRORS},
            "parameters": parameters,
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _version() -> str:
    try:
        return metadata.version("taskraft")
    except metadata.PackageNotFoundError:
        return "0"
