"""WSGI entry point for gunicorn: `gunicorn -c gunicorn.conf.py taskraft.wsgi:app`.

The Raft node is a per-process singleton created after the fork (PySyncObj threads do not survive
a fork), in a background thread so a slow database cannot trip gunicorn's worker timeout. The app
reaches it through a `TaskraftNodePort`; until the node is up, the API answers 503 "starting" and
/readyz says not ready.
"""

from __future__ import annotations

import logging
import os
import threading

from .api.app import create_app
from .api.node_access import EXTENSION
from .auth.settings import AuthSettings
from .config import HttpSettings, load_config
from .node import TaskraftNode
from .node_port import TaskraftNodePort
from .restore import RestoreFailed
from .web.security import CORS_ORIGINS

log = logging.getLogger(__name__)

WORKER_BOOT_ERROR = 3  # gunicorn's: the master halts instead of starting another worker

# TASKRAFT_AUTH: on unless set to off; TASKRAFT_HTTP_JSON: the JSON provider
app = create_app(None, AuthSettings.from_env(), HttpSettings.from_env().json)
_lock = threading.Lock()
_node: TaskraftNode | None = None


def start_node() -> TaskraftNode:
    global _node
    with _lock:
        if _node is not None:
            return _node
        node = _node = TaskraftNode(load_config())
        app.config[CORS_ORIGINS] = node.cfg.cors_origins
        app.extensions[EXTENSION] = TaskraftNodePort(node)

    def _start() -> None:
        try:
            node.start()
            log.info("node %s ready to serve on port %s", node.cfg.node_id, node.cfg.http_port)
        except RestoreFailed as exc:
            log.critical("%s; the node does not start", exc)
            os._exit(WORKER_BOOT_ERROR)  # gunicorn stops: a bad backup is not retried
        except Exception:
            log.exception("node failed to start")

    threading.Thread(target=_start, name="taskraft-start", daemon=True).start()
    return node


def begin_handoff() -> None:
    if _node is not None:
        _node.begin_handoff()


def stop_node() -> None:
    if _node is not None:
        _node.stop()
