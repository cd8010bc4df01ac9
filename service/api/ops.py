"""Operational routes: cluster views, liveness, readiness, metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import commands as c
from .. import metrics
from .node_access import current_port, node
from .port import DatabaseUnavailable

bp = Blueprint("ops", __name__)


@bp.get("/api/v1/cluster")
def cluster():
    """This node's own view; it never asks another node (the gathering below asks each member this)."""
    return jsonify(node().cluster_view())


@bp.get("/api/v1/cluster/nodes")
def cluster_nodes():
    """Every member's own view, gathered by this node (cluster_overview.py): one address shows them all."""
    return jsonify(node().cluster_overview())


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "alive"})


@bp.get("/readyz")
def readyz():
    port = current_port()
    if port is None or not port.started:
        metrics.NODE_READY.set(0)
        return jsonify({"ready": False, "reasons": ["starting"]}), 503
    ready, reasons = port.readiness()
    metrics.NODE_READY.set(1 if ready else 0)
    return jsonify({"ready": ready, "reasons": reasons}), (200 if ready else 503)


@bp.get("/metrics")
def prometheus_metrics():
    port = current_port()
    if port is not None and port.started:
        metrics.NODE_READY.set(1 if port.readiness().ready else 0)
        try:
            counts = port.task_counts()
        except DatabaseUnavailable:
            pass  # the database gauge is best effort; Raft metrics still matter
        else:
            for status in c.STATUSES:
                metrics.TASKS.labels(status=status).set(counts.get(status, 0))
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
