"""Browser-facing response headers: CORS (off unless origins are allowed) and the security headers.

CORS: the page is served by the node it talks to (one origin) and needs none, so by default no
response carries `Access-Control-Allow-Origin` and a preflight from another origin is not allowed.
TASKRAFT_CORS_ORIGINS (comma-separated `scheme://host[:port]`, `NodeConfig.cors_origins`) opens the API
and probe paths to exactly those origins: the matching Origin is echoed (with `Vary: Origin`, so a
cache never serves one origin's answer to another), with the request headers the API reads and the
response headers a client needs. No credentials mode: a browser sends no cookies or HTTP auth along.

Security headers, on every answer unless a view set its own: a Content-Security-Policy that allows
only this origin's scripts, styles and requests and no inline script (the page's scripts and styles
are files under static/), `frame-ancestors 'none'` and `X-Frame-Options: DENY` against framing,
`X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`. JSON answers get
`default-src 'none'`: nothing in them is ever to run.
"""

from __future__ import annotations

from flask import Response, current_app, request
from flask.sansio.app import App

CORS_ORIGINS = "TASKRAFT_CORS_ORIGINS"  # app.config key: the allowed origins (a tuple)
CORS_PREFIXES = ("/api/", "/readyz", "/healthz")
ALLOW_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, If-Match, Idempotency-Key"
EXPOSE_HEADERS = "ETag, Location, Retry-After, X-Taskraft-Node"

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def install(app: App) -> None:
    app.config.setdefault(CORS_ORIGINS, ())
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    policy = PAGE_POLICY if response.mimetype == "text/html" else DATA_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    if request.path.startswith(CORS_PREFIXES):
        _cors(response)
    return response


def _cors(response: Response) -> None:
    allowed = current_app.config.get(CORS_ORIGINS) or ()
    if not allowed:
        return
    response.vary.add("Origin")  # the answer depends on the Origin asked from, whichever it is
    origin = request.headers.get("Origin")
    if origin not in allowed:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        # Flask answers OPTIONS for every route by itself: the preflight's answer, without a body.
        response.status_code = 204
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
