"""One error shape for every failure: {"error": {"code", "message", "details"?}}. No tracebacks, ever."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .. import metrics
from .port import DatabaseUnavailable, MembershipRefused, QuorumUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details=None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def invalid(message: str, details=None) -> ApiError:
    return ApiError(400, "invalid_request", message, details)


def not_found(message: str = "task not found") -> ApiError:
    return ApiError(404, "not_found", message)


def no_quorum(retry_after: int = 1) -> ApiError:
    return ApiError(
        503,
        "no_quorum",
        "the cluster has no quorum right now; a write may or may not have been applied, "
        "retry with the same Idempotency-Key",
        headers={"Retry-After": str(retry_after)},
    )


def database_unavailable() -> ApiError:
    return ApiError(503, "database_unavailable", "this node's database is not answering", headers={"Retry-After": "1"})


def error_response(status: int, code: str, message: str, details=None, headers: dict | None = None):
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    metrics.HTTP_ERRORS.labels(code=code).inc()
    response = jsonify({"error": body})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(QuorumUnavailable)
    def _no_quorum(_exc: QuorumUnavailable):
        return _api_error(no_quorum())

    @app.errorhandler(DatabaseUnavailable)
    def _database_unavailable(_exc: DatabaseUnavailable):
        return _api_error(database_unavailable())

    @app.errorhandler(MembershipRefused)
    def _membership_refused(exc: MembershipRefused):
        retry = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after is not None else None
        return error_response(exc.status, exc.code, exc.message, headers=retry)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        message = {
            404: "no such resource",
            405: "method not allowed on this resource",
            413: "request body is larger than 64 KiB",
        }.get(status, exc.description or exc.name)
        allowed = exc.valid_methods if isinstance(exc, MethodNotAllowed) else None  # werkzeug's 405
        headers = {"Allow": allowed and ", ".join(allowed)} if status == 405 else None
        return error_response(status, code, message, headers={k: v for k, v in (headers or {}).items() if v})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error")
        return error_response(500, "internal", "internal error")
