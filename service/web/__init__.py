"""The web page: a task board with a live cluster panel, served by every node at `/`.

Plain HTML, CSS and ES modules from `static/` (package data), no build step and nothing from a CDN.

One origin: the page sends every request, relative, to the address it was loaded from, so it works
behind a Kubernetes Service, an ingress or `kubectl port-forward`, where the members' own API URLs
do not resolve. The cluster panel polls `/api/v1/cluster/nodes`: the node that answers gathers every
member's own view (`taskraft.cluster_overview`). A request that fails (network error, timeout, 5xx)
is retried at the same address, whose next connection may reach another node; writes keep their
Idempotency-Key across the retries.

CORS and the security headers (Content-Security-Policy without inline script, no framing, nosniff,
no referrer) are added by `web.security`, installed with this blueprint. CORS is off unless
TASKRAFT_CORS_ORIGINS allows origins: the page needs none.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory

from . import security

STATIC = Path(__file__).resolve().parent / "static"

bp = Blueprint("web", __name__, static_folder=str(STATIC), static_url_path="/static")

bp.record_once(lambda state: security.install(state.app))


@bp.get("/")
def index():
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
