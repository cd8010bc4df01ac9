"""Restoring a backup into a brand-new node, before Raft starts: the state of a new cluster at the backup's index.

`TASKRAFT_RESTORE_FROM=FILE` (set by `taskraft cluster up` on a directory `taskraft restore`
prepared, or by the chart's `restore.fromBackup`) is honoured only by a node that has nothing yet:
no Raft state, an empty database, and no cluster record (once the new cluster has formed, the
record names it, and a node that starts empty afterwards is caught up by the leader as usual).
Such a node:
  1. checks the whole file (format, checksum, schema version) and refuses to start on a bad one;
  2. writes the marker `restore.pending` (so a crash anywhere below redoes the restore at the next start);
  3. replaces its tables with the backup's in one transaction: applied index N and term T of the
     backup, no cluster id, no configuration (state/backup_tables.py);
  4. writes a Raft base at (N, T): a journal holding two empty entries at N-1 and N of term T, the
     current term T and commit index N, and a compaction marker (a snapshot without tables) at N.
     PySyncObj then starts as after a compaction at N: the log goes on at N+1, never re-applies
     anything up to N, and every node restored from the same file holds the same entry at N;
  5. removes the marker.
Every member restored from the same backup is then at the same state at the same index, and the
cluster forms as a new one from there: its first leader commits a new cluster id
(cluster_formation.py). Idempotency records are rows of `raft_log`, so they come with the backup.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from . import commands as c
from .config import NodeConfig
from .consensus.identity import raft_state_lost
from .consensus.journal import DurableJournal
from .consensus.pysyncobj_bridge import command_of, journaled_command
from .durable import write_file_durably
from .state import backup_format, backup_tables, snapshot
from .state.db import in_transaction

log = logging.getLogger(__name__)

PENDING = "restore.pending"


class RestoreFailed(RuntimeError):
    """The backup cannot be restored; the node does not start."""


def _pending_path(cfg: NodeConfig) -> Path:
    return cfg.data_dir / PENDING


def pending(cfg: NodeConfig) -> dict | None:
    try:
        data = json.loads(_pending_path(cfg).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("from") else None


def _raft_files(cfg: NodeConfig) -> list[str]:
    journal = str(cfg.journal_path)
    return [journal, journal + ".meta", str(cfg.snapshot_path), str(cfg.identity_path)]


def wanted(cfg: NodeConfig, conn) -> str | None:
    """The backup this node must restore before Raft starts, or None (with the reason logged)."""
    marker = pending(cfg)
    if marker is not None:
        return str(marker["from"])  # a restore that was interrupted
    if not cfg.restore_from:
        return None
    if cfg.cluster_id:
        log.info("restore: skipped, the cluster record names cluster %s (it has formed)", cfg.cluster_id)
        return None
    if not raft_state_lost(*_raft_files(cfg)):
        log.info("restore: skipped, this node already has Raft state in %s", cfg.data_dir)
        return None
    if backup_tables.applied_index(conn) != 0:
        log.info("restore: skipped, this node's database already holds applied entries")
        return None
    return cfg.restore_from


def restore(cfg: NodeConfig, conn, path: str) -> backup_format.BackupInfo:
    """Steps 1-5 above, on `conn` (this node's database, migrated). RestoreFailed on a bad backup."""
    try:
        info = backup_format.verify(path)
    except backup_format.BackupError as exc:
        raise RestoreFailed(f"cannot restore {path}: {exc}") from None
    if info.applied_index < 2:
        raise RestoreFailed(f"cannot restore {path}: it holds no applied entries")
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    write_file_durably(str(_pending_path(cfg)), json.dumps({"from": path, "sha256": info.sha256}).encode())

    def load():
        with open(path, "rb") as src:
            return backup_tables.load(conn, src)

    try:
        in_transaction(conn, load)
    except backup_format.BackupError as exc:
        raise RestoreFailed(f"cannot restore {path}: {exc}") from None
    write_raft_base(cfg, info.applied_index, info.applied_term)
    os.unlink(_pending_path(cfg))
    log.warning(
        "restore: loaded %s (%d tasks) at index %d, term %d; this node starts a new cluster from there",
        path,
        info.tasks,
        info.applied_index,
        info.applied_term,
    )
    return info


def write_raft_base(cfg: NodeConfig, index: int, term: int) -> None:
    """Raft state as after a compaction at (index, term): see step 4 above."""
    empty = journaled_command(c.make_entry([]))
    prev, last = (empty, index - 1, term), (empty, index, term)
    for path in (str(cfg.snapshot_path), str(cfg.identity_path)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    journal = DurableJournal(str(cfg.journal_path), decode=command_of)
    try:
        journal.clear()
        journal.add(*prev)
        journal.add(*last)
        journal.setRaftCommitIndex(index)
        journal.setCurrentTerm(term, None)  # stores the commit index too
    finally:
        journal._destroy()
    snapshot.write_marker(str(cfg.snapshot_path), (last, prev, None), index)
