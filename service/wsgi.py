"""WSGI entry point for gunicorn: `gunicorn -c gunicorn.conf.py taskraft.wsgi:app`.

The Raft node is a per-process singleton created after the fork (PySyncObj threads do not survive
a fork), in a background thread so a slow database cannot trip gunicorn's worker timeout. Until it
is up, the API answers 503 "starting" and /readyz says not ready.
"""

from __future__ import annotations

import logging
import threading

from .api.app import create_app
from .config import load_config
from .node import TaskraftNode

log = logging.getLogger(__name__)

app = create_app(None)
_lock = threading.Lock()


def start_node() -> TaskraftNode:
    with _lock:
        node = app.config.get("TASKRAFT_NODE")
        if node is not None:
            return node
        node = TaskraftNode(load_config())
        app.config["TASKRAFT_NODE"] = node

    def _start() -> None:
        try:
            node.start()
            log.info("node %s ready to serve on port %s", node.cfg.node_id, node.cfg.http_port)
        except Exception:
            log.exception("node failed to start")

    threading.Thread(target=_start, name="taskraft-start", daemon=True).start()
    return node


def begin_handoff() -> None:
    node = app.config.get("TASKRAFT_NODE")
    if node is not None:
        node.begin_handoff()


def stop_node() -> None:
    node = app.config.get("TASKRAFT_NODE")
    if node is not None:
        node.stop()
