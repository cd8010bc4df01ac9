"""`GET /api/v1/backup`: a consistent backup of this node's tables, streamed (admin or the backup role).

The node takes a read barrier first (unless `consistency=local`), so the backup holds every write
acknowledged before the request; then it opens one consistent read of its database and streams
the file (state/backup_format.py) as it reads. Writes and Raft go on meanwhile. The index, term
and cluster id come as headers too, so a client knows what it is getting before the body ends.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import validation as v
from .node_access import deadline, node

bp = Blueprint("backup", __name__)

CONTENT_TYPE = "application/vnd.taskraft.backup+gzip"


def file_name(header: dict) -> str:
    stamp = str(header["created_at"]).replace("-", "").replace(":", "").split(".")[0]
    return f"taskraft-{stamp}Z-i{header['applied_index']}.backup"


@bp.get("/api/v1/backup")
def take_backup():
    """Stream a backup; a 503 comes before the first byte (no quorum for the barrier, database down)."""
    stream = node().backup(consistency=v.consistency(request), deadline=deadline())
    header = stream.header
    return Response(
        stream.chunks,
        mimetype=CONTENT_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{file_name(header)}"',
            "Cache-Control": "no-store",
            "X-Taskraft-Backup-Index": str(header["applied_index"]),
            "X-Taskraft-Backup-Term": str(header["applied_term"]),
            "X-Taskraft-Cluster-Id": str(header.get("cluster_id") or ""),
        },
    )
