"""gunicorn settings for a taskraft node: exactly ONE worker process, threads for HTTP concurrency.

One worker because the Raft node is a per-process singleton bound to one Raft port; a second
worker would retry binding forever. Threads serve concurrent requests inside that one process.
"""

import ctypes
import logging
import os
import signal
import sys

from taskraft.config import HttpSettings

# Threads, keep-alive, the JSON provider and the switch interval: TASKRAFT_HTTP_THREADS, TASKRAFT_HTTP_KEEPALIVE,
# TASKRAFT_HTTP_JSON, TASKRAFT_SWITCH_INTERVAL (config.HttpSettings; measured in docs/performance.md). gthread
# is the one worker class that fits: one process (Raft and the applier live in it) with real threads; the
# async classes (gevent, eventlet) would monkey-patch the threads and sockets PySyncObj and pymysql use.
http = HttpSettings.from_env()
bind = f"{os.environ.get('TASKRAFT_HTTP_HOST', '0.0.0.0')}:{os.environ.get('TASKRAFT_HTTP_PORT', '8080')}"
workers = 1
worker_class = "gthread"
threads = http.threads
timeout = 60
graceful_timeout = 15
keepalive = http.keepalive
worker_tmp_dir = os.environ.get("TASKRAFT_WORKER_TMP_DIR", "/tmp")
accesslog = None
errorlog = "-"
loglevel = os.environ.get("TASKRAFT_LOG_LEVEL", "info")
proc_name = "taskraft"
# TLS on the HTTP port when both are set (taskraft.transport); gunicorn reads them for each new connection.
certfile = os.environ.get("TASKRAFT_TLS_CERT_FILE") or None
keyfile = os.environ.get("TASKRAFT_TLS_KEY_FILE") or None


def post_fork(server, worker):
    # If the master dies (SIGKILL), take the worker down at once: a headless Raft node holding the
    # port would delay failover.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def post_worker_init(worker):
    if http.switch_interval > 0:
        sys.setswitchinterval(http.switch_interval)
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pysyncobj").setLevel(logging.WARNING)
    from taskraft.wsgi import start_node

    start_node()
    _hand_off_at_once_on_sigterm()


def _hand_off_at_once_on_sigterm():
    """gunicorn's SIGTERM handler only marks the worker as stopping: its loop notices within a second,
    then waits for the requests in flight, and only then does worker_exit stop the node. Leadership
    starts moving at the signal instead (kubectl delete pod sends SIGTERM)."""
    from taskraft.wsgi import begin_handoff

    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(sig, frame):
        begin_handoff()
        if callable(previous):
            previous(sig, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def worker_exit(server, worker):
    from taskraft.wsgi import stop_node

    stop_node()
