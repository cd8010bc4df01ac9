"""The Flask application: routes, error mapping, request metrics and the web page."""

from __future__ import annotations

import time

from flask import Flask, g, request

from .. import metrics
from ..auth.settings import AuthSettings
from ..config import HttpSettings
from ..web import bp as web_bp
from . import auth, backup, contract, errors, json_provider, members, ops, tasks, users
from .node_access import EXTENSION, current_port
from .port import NodePort
from .validation import MAX_BODY

NODE_HEADER = "X-Taskraft-Node"  # on every answer: the node that gave it (behind one address, which one did)


def create_app(
    node: NodePort | None = None, auth_settings: AuthSettings | None = None, json_impl: str = HttpSettings.json
) -> Flask:
    """The app for one node. `node` may be None (or not started yet) while the node starts: the API
    then answers 503 `starting`; set `app.extensions["taskraft"]` once it exists. `auth_settings`
    None serves without authentication (the node's WSGI app passes TASKRAFT_AUTH's, on by default).
    `json_impl`: the JSON provider, "msgspec" or "stdlib" (the node's WSGI app passes TASKRAFT_HTTP_JSON's)."""
    app = Flask(__name__, static_folder=None)
    app.extensions[EXTENSION] = node
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    json_provider.install(app, json_impl)
    errors.install(app)
    auth.install(app, auth_settings or AuthSettings.off())
    app.register_blueprint(tasks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(members.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(backup.bp)
    app.register_blueprint(contract.bp)
    app.register_blueprint(web_bp)

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.HTTP_DURATION.labels(route=rule, method=request.method, status=str(response.status_code)).observe(
            time.perf_counter() - getattr(g, "started", time.perf_counter())
        )
        port = current_port()
        if port is not None:
            response.headers[NODE_HEADER] = port.node_id
        return response

    return app
