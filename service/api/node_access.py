"""How request handlers reach the node: the `NodePort` that create_app keeps in `app.extensions`."""

from __future__ import annotations

import time

from flask import current_app

from .errors import ApiError
from .port import NodePort

EXTENSION = "taskraft"


def current_port() -> NodePort | None:
    """The port as given to create_app (None or not started: the node is still starting)."""
    return current_app.extensions.get(EXTENSION)


def node() -> NodePort:
    port = current_port()
    if port is None or not port.started:
        raise ApiError(503, "starting", "this node is still starting", headers={"Retry-After": "1"})
    return port


def deadline() -> float:
    """When the request stops waiting for the cluster (`request_timeout` from now)."""
    return time.monotonic() + node().request_timeout
