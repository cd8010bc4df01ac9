"""Replacing a file so that after a crash it is either the old file or the whole new one.

Write a temporary file next to it, fsync it, rename it into place, fsync the directory: the one
place taskraft does this (the Raft journal's side file, snapshots and markers, the node identity,
the rebuild marker, the cluster record and the local cluster's files).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


def fsync_dir(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replacing(path: str, *, suffix: str = ".tmp", mode: int = 0o600) -> Iterator[BinaryIO]:
    """A binary file to write the new content to; on a clean exit it replaces `path` durably.

    The file is created with `mode` (0600 by default: some of these files hold secrets), never wider.
    """
    tmp = f"{path}{suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # an older temporary file may have had another mode
    with os.fdopen(fd, "wb") as out:
        yield out
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def write_file_durably(path: str, data: bytes, mode: int = 0o600) -> None:
    with replacing(str(path), mode=mode) as out:
        out.write(data)
