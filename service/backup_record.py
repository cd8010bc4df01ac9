"""The record a node keeps of the backups it served: the metrics, and a file so they outlive a restart.

A backup is served as a stream (api/backup.py); `serve` wraps it. When the last byte has gone out
the node writes `backup.last` (JSON: when, index, size, duration; durably, 0600) in its data
directory and sets the `taskraft_backup_*` gauges, which a restart reloads from that file. A stream
cut short (the client went away, the database failed) counts as a failure and changes no gauge.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from . import metrics
from .durable import write_file_durably

log = logging.getLogger(__name__)

FILE = "backup.last"


class Source(Protocol):
    header: dict

    def chunks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class BackupRecord:
    def __init__(self, data_dir: Path, clock=time.time):
        self._path = Path(data_dir) / FILE
        self._clock = clock
        self.last: dict | None = None
        try:
            last = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(last, dict) and isinstance(last.get("finished_at"), int | float):
            self._publish(last)

    def _publish(self, last: dict) -> None:
        self.last = last
        metrics.BACKUP_LAST_SUCCESS.set(last["finished_at"])
        metrics.BACKUP_DURATION.set(last.get("duration_s", 0))
        metrics.BACKUP_SIZE.set(last.get("size_bytes", 0))

    def serve(self, source: Source) -> Iterator[bytes]:
        """`source`'s bytes; recorded as a success once all are out, as a failure if cut short."""
        started = time.monotonic()
        size = 0
        done = False
        try:
            for chunk in source.chunks():
                size += len(chunk)
                yield chunk
            done = True
        finally:
            source.close()
            if done:
                self._succeeded(source.header, size, time.monotonic() - started)
            else:
                metrics.BACKUPS.labels(outcome="failure").inc()
                log.warning("backup at index %s cut short after %d bytes", source.header.get("applied_index"), size)

    def _succeeded(self, header: dict, size: int, duration: float) -> None:
        last = {
            "finished_at": round(self._clock(), 3),
            "applied_index": header.get("applied_index"),
            "size_bytes": size,
            "duration_s": round(duration, 3),
            "consistency": header.get("consistency"),
        }
        metrics.BACKUPS.labels(outcome="success").inc()
        self._publish(last)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            write_file_durably(str(self._path), json.dumps(last).encode())
        except OSError as exc:
            log.warning("cannot record the backup in %s: %s", self._path, exc)
        log.info("backup at index %s served: %d bytes in %.2fs", last["applied_index"], size, duration)
