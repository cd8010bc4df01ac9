"""The web page: a task board with a live cluster panel, served by every node at `/`.

Plain HTML, CSS and ES modules from `static/` (package data), no build step and nothing from a CDN.

One origin: the page sends every request, relative, to the address it was loaded from, so it works
behind a Kubernetes Service, an ingress or `kubectl port-forward`, where the members' own API URLs
do not resolve. The cluster panel polls `/api/v1/cluster/nodes`: the node that answers gathers every
member's own view (`taskraft.cluster_overview`). A request that fails (network error, timeout, 5xx)
is retried at the same address, whose next connection may reach another node; writes keep their
Idempotency-Key across the retries.

CORS: the page itself needs none. Other browser clients of the API may call it cross-origin, so
this blueprint adds a minimal CORS allowance to the API and probe paths only (/api/..., /readyz,
/healthz): any origin, the request headers a client sends (Content-Type, If-Match,
Idempotency-Key) and the response headers it reads (ETag, Location, Retry-After, X-Taskraft-Node).
No cookies or credentials are involved, so `*` opens nothing that a plain HTTP client could not
already do. Flask answers OPTIONS for every route by itself; the hook turns those preflight answers
into 204 No Content with the CORS headers.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, request, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"

bp = Blueprint("web", __name__, static_folder=str(STATIC), static_url_path="/static")

_CORS_PREFIXES = ("/api/", "/readyz", "/healthz")


@bp.get("/")
def index():
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.after_app_request
def _cors(response):
    if not request.path.startswith(_CORS_PREFIXES):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Location, Retry-After, X-Taskraft-Node"
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        response.status_code = 204
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, If-Match, Idempotency-Key"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
