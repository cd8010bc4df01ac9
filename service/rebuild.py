"""Rebuilding a node whose database diverged from the cluster's log, from the leader, as a node that lost its disk.

A diverged database is never served. Divergence is found by the applier (state.machine.Diverged: a
replayed entry's term differs from the row it left in raft_log) or by the Raft node (an append would
replace an applied entry with one of another term). Then:
  1. the node stops applying and taking part in Raft; /readyz and reads answer 503 with the reason;
  2. `request` writes the marker `raft.rebuild` (durably, with the reason), deletes the Raft journal,
     its side file and the snapshot (the identity, with the cluster id, stays), and the worker process
     exits; gunicorn starts a new one;
  3. at start, a node that finds the marker empties its replicated tables before Raft starts
     (`reset_database`). It is then a node that lost its Raft state, amnesiac (consensus/identity.py),
     and the leader sends it the log or a snapshot. The reason is reported until it has caught up.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .config import NodeConfig
from .durable import write_file_durably

log = logging.getLogger(__name__)

MARKER = "raft.rebuild"


def _marker(cfg: NodeConfig) -> Path:
    return cfg.data_dir / MARKER


def request(cfg: NodeConfig, reason: str) -> None:
    """Record why, then drop the Raft state (call with the Raft node stopped)."""
    write_file_durably(str(_marker(cfg)), json.dumps({"reason": reason, "database_reset": False}).encode())
    for path in (cfg.journal_path, Path(f"{cfg.journal_path}.meta"), cfg.snapshot_path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    log.critical("rebuild: %s; Raft state dropped, the node restarts empty and the leader rebuilds it", reason)


def pending(cfg: NodeConfig) -> dict | None:
    """The marker of a rebuild under way, if any."""
    try:
        data = json.loads(_marker(cfg).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def reset_database(cfg: NodeConfig, conn) -> None:
    """Empty the replicated tables, once per rebuild (before Raft starts)."""
    marker = pending(cfg)
    if marker is None or marker.get("database_reset"):
        return
    with conn.cursor() as cur:
        for statement in (
            "DELETE FROM raft_log",
            "DELETE FROM tasks",
            "DELETE FROM nodes",
            "DELETE FROM members",
            "UPDATE raft_meta SET applied_index = 0, applied_term = 0, next_task_id = 1, cluster_id = NULL,"
            " config_index = 0 WHERE id = 1",
        ):
            cur.execute(statement)
    conn.commit()
    marker["database_reset"] = True
    write_file_durably(str(_marker(cfg)), json.dumps(marker).encode())
    log.warning("rebuild: replicated tables emptied (%s)", marker.get("reason"))


def finish(cfg: NodeConfig) -> None:
    """The node has caught up with a leader: the rebuild is over."""
    try:
        os.unlink(_marker(cfg))
        log.warning("rebuild: finished")
    except FileNotFoundError:
        pass
