"""PySyncObj serializer hooks that turn its snapshots into consistent dumps of our MySQL tables.

PySyncObj calls the serializer on its tick thread and then renames the temporary file it named.
Writing a large dump there would stall Raft, so the serializer only queues a snapshot request to
the applier and returns without creating that file; PySyncObj's rename then fails, and from that
point `serializeChecker` alone reports progress (SERIALIZING until the background writer has
renamed a complete dump into place, then SUCCESS once, then NOT_SERIALIZING). Only after SUCCESS
does PySyncObj drop the journal entries the snapshot covers.

The deserializer reads just the header (on the tick thread) and hands the rows to the applier,
which replaces its tables unless its database is already at or past the dump.
"""

from __future__ import annotations

import itertools
import logging
import os

from pysyncobj.config import SERIALIZER_STATE

from ..state import snapshot
from ..state.applier import Applier, SnapshotJob
from .journal import encode_record, read_records, write_file_durably

log = logging.getLogger(__name__)
_install_seq = itertools.count()


class SnapshotHooks:
    def __init__(self, applier: Applier, snapshot_path: str):
        self._applier = applier
        self._path = snapshot_path
        self._job: SnapshotJob | None = None

    def serialize(self, tmp_path: str, raft_tuple) -> None:
        last_entry = raft_tuple[0]
        self._job = self._applier.enqueue_snapshot(last_entry[1], raft_tuple, self._path)

    def check(self):
        job = self._job
        if job is None:
            return SERIALIZER_STATE.NOT_SERIALIZING
        if job.state == "success":
            self._job = None
            return SERIALIZER_STATE.SUCCESS
        if job.state == "failed":
            self._job = None
            return SERIALIZER_STATE.FAILED
        return SERIALIZER_STATE.SERIALIZING

    def deserialize(self, path: str):
        header = snapshot.read_header(path)
        # A private hard link: PySyncObj may replace `path` before the applier gets to it.
        private = f"{self._path}.install-{os.getpid()}-{next(_install_seq)}"
        if os.path.exists(private):  # left by an earlier process with the same pid
            os.unlink(private)
        os.link(path, private)
        self._applier.enqueue_install(private, int(header["state_index"]))
        return header["raft"]


def finish_interrupted_compaction(journal_path: str, snapshot_path: str) -> None:
    """Repair the one crash window PySyncObj cannot: dump renamed, journal not yet trimmed.

    At startup PySyncObj clears the whole journal when its first two entries are not the snapshot's
    (prev, last) pair, which would throw away entries written after the snapshot. If the journal
    holds the snapshot's prev entry further down, trim it there first, exactly as the interrupted
    compaction would have.
    """
    if not (os.path.exists(journal_path) and os.path.exists(snapshot_path)):
        return
    try:
        last_entry, prev_entry, _cluster = snapshot.read_header(snapshot_path)["raft"]
    except Exception:
        log.exception("cannot read snapshot header of %s", snapshot_path)
        return
    entries, _offsets, _end = read_records(journal_path)
    for position, (_cmd, idx, term) in enumerate(entries):
        if idx == prev_entry[1] and term == prev_entry[2]:
            if position > 0:
                log.warning("finishing an interrupted compaction: trimming %d journal entries", position)
                write_file_durably(journal_path, b"".join(encode_record(c, i, t) for c, i, t in entries[position:]))
            return
