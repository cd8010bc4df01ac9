"""A local cluster directory prepared from a backup (`taskraft restore FILE --data-dir DIR`).

The backup is checked whole first; a bad file leaves DIR untouched. DIR then holds a copy of it as
`restore.backup` (0600) and nothing else: `taskraft cluster up --data-dir DIR` passes that file to
every node as TASKRAFT_RESTORE_FROM, and each node, brand new, loads it before Raft starts
(restore.py). Once the new cluster has formed, the cluster record in cluster.json names it and the
file is no longer read (a node added later is caught up by the leader).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..durable import fsync_dir, replacing
from ..state import backup_format as fmt

FILE = "restore.backup"


class RestoreRefused(Exception):
    pass


def restore_file(data_dir) -> Path | None:
    """The backup the nodes of `data_dir` start from, if it was prepared by `prepare`."""
    path = Path(data_dir) / FILE
    return path if path.is_file() else None


def _running(data_dir: Path) -> bool:
    try:
        pid = int(json.loads((data_dir / "cluster.json").read_text()).get("supervisor_pid") or 0)
    except (OSError, ValueError, AttributeError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(backup: str, data_dir, *, force: bool = False) -> fmt.BackupInfo:
    """Check `backup`, then make `data_dir` a new cluster's directory that starts from it."""
    try:
        info = fmt.verify(backup)
    except fmt.BackupError as exc:
        raise RestoreRefused(f"cannot restore {backup}: {exc}; nothing was written") from None
    if info.applied_index < 2:
        raise RestoreRefused(f"cannot restore {backup}: it holds no applied entries; nothing was written")
    target = Path(data_dir).resolve()
    if target in Path(backup).resolve().parents:
        raise RestoreRefused(f"{backup} is inside {target}: move it elsewhere first; nothing was written")
    if target.exists() and not target.is_dir():
        raise RestoreRefused(f"{target} is not a directory")
    if target.exists() and any(target.iterdir()):
        if not force:
            raise RestoreRefused(f"{target} is not empty: give an empty or new directory, or --force to empty it")
        if _running(target):
            raise RestoreRefused(f"a cluster is running in {target}: stop it first (taskraft cluster down)")
        for child in target.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    target.mkdir(parents=True, exist_ok=True)
    with open(backup, "rb") as src, replacing(str(target / FILE), suffix=".copying") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    fsync_dir(str(target))
    return info
