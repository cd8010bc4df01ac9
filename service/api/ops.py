"""Operational routes: cluster view, liveness, readiness, metrics."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import metrics
from ..state import queries
from .node_access import node, read_connection

bp = Blueprint("ops", __name__)


@bp.get("/api/v1/cluster")
def cluster():
    return jsonify(node().cluster_view())


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "alive"})


@bp.get("/readyz")
def readyz():
    n = current_app.config["TASKRAFT_NODE"]
    if n is None or not n.started:
        metrics.NODE_READY.set(0)
        return jsonify({"ready": False, "reasons": ["starting"]}), 503
    ready, reasons = n.readiness()
    metrics.NODE_READY.set(1 if ready else 0)
    return jsonify({"ready": ready, "reasons": reasons}), (200 if ready else 503)


@bp.get("/metrics")
def prometheus_metrics():
    n = current_app.config["TASKRAFT_NODE"]
    if n is not None and n.started:
        metrics.NODE_READY.set(1 if n.readiness()[0] else 0)
        try:
            with read_connection() as conn:
                counts = queries.count_by_status(conn)
            for status in ("todo", "in_progress", "done"):
                metrics.TASKS.labels(status=status).set(counts.get(status, 0))
        except Exception:
            pass  # the database gauge is best effort; Raft metrics still matter
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

