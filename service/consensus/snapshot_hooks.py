"""PySyncObj serializer hooks: compaction writes a marker, a follower to seed gets a full dump of our tables.

PySyncObj calls the serializer on its tick thread and then renames the temporary file it named.
The serializer only queues a snapshot request to the applier and returns without creating that
file; PySyncObj's rename then fails, and from that point `serializeChecker` alone reports progress
(SERIALIZING until the applier has written the file at its place in the log, then SUCCESS once,
then NOT_SERIALIZING). Only after SUCCESS does PySyncObj drop the journal entries the snapshot covers.

For compaction the applier writes a marker (snapshot.write_marker): the database already holds
every entry the journal drops, so nothing grows with the database. When PySyncObj starts streaming
the snapshot file to a follower too far behind for the log, `transmission_data` first has the file
replaced by a full dump of the tables for the same Raft tuple (Applier.dump_tables), and reports
SERIALIZING meanwhile so no compaction replaces the file under it.

The deserializer reads just the header (on the tick thread) and hands the rows to the applier,
which replaces its tables unless its database is already at or past the dump.
"""

from __future__ import annotations

import itertools
import logging
import os

from pysyncobj.config import SERIALIZER_STATE

from ..durable import fsync_dir, write_file_durably
from ..state import snapshot
from ..state.applier import Applier
from ..state.snapshot import SnapshotJob
from .journal import encode_record, read_records

log = logging.getLogger(__name__)
_install_seq = itertools.count()


class SnapshotHooks:
    def __init__(self, applier: Applier, snapshot_path: str):
        self._applier = applier
        self._path = snapshot_path
        self._seed_path = f"{snapshot_path}.seed"
        self._job: SnapshotJob | None = None  # compaction
        self._seed: SnapshotJob | None = None  # a full dump for a follower
        self._header_of: tuple | None = None  # (file identity, header) of the last header read
        # The configuration in force at the last snapshot loaded ({"index", "configuration"}, or None
        # for a snapshot written before configurations were kept in the log)
        self.installed_configuration: object = None

    def serialize(self, tmp_path: str, raft_tuple) -> None:
        last_entry = raft_tuple[0]
        self._job = self._applier.enqueue_snapshot(last_entry[1], raft_tuple, self._path)

    def check(self):
        job = self._job
        if job is None:
            if self._seed_running():
                return SERIALIZER_STATE.SERIALIZING  # no compaction until the dump is in place
            return SERIALIZER_STATE.NOT_SERIALIZING
        if job.state == "success":
            self._job = None
            return SERIALIZER_STATE.SUCCESS
        if job.state == "failed":
            self._job = None
            return SERIALIZER_STATE.FAILED
        return SERIALIZER_STATE.SERIALIZING

    def transmission_data(self, read_chunk, transmission_id):
        """PySyncObj's Serializer.getTransmissionData (`read_chunk`), once the snapshot file holds tables.

        Until then None: PySyncObj then sends nothing to seed the follower with and tries again at
        its next heartbeat.
        """
        return read_chunk(transmission_id) if self.snapshot_ready() else None

    def snapshot_ready(self) -> bool:
        """Whether the snapshot file holds tables to stream; if it is a marker, start dumping them.

        Called on PySyncObj's tick thread, like `check` and PySyncObj's own writes of this file.
        """
        if self._job is not None or self._seed_running():
            return False  # a compaction, or the dump, is under way
        header = self._current_header()
        if header is None:
            return False
        if snapshot.has_tables(header):
            return True
        raft_tuple = header["raft"]
        log.info("seeding a follower: dumping the tables for the snapshot at raft index %s", raft_tuple[0][1])
        self._seed = self._applier.dump_tables(self._seed_path, raft_tuple)
        return False

    def _seed_running(self) -> bool:
        """Whether a dump for a follower is being written; a finished one is put in place first."""
        seed = self._seed
        if seed is None:
            return False
        if seed.state not in ("success", "failed"):
            return True
        self._seed = None
        self._finish_seed(seed)
        return False

    def _finish_seed(self, seed: SnapshotJob) -> None:
        """Put a finished dump in place of the marker it was written for (on the tick thread).

        Unless the snapshot file changed meanwhile: a snapshot received from a new leader, for
        instance, when this node lost its leadership during the dump. Then the dump is dropped.
        """
        if seed.state != "success":
            return
        header = self._current_header()
        if header is not None and header["raft"] == seed.raft_tuple and not snapshot.has_tables(header):
            os.replace(self._seed_path, self._path)
            fsync_dir(os.path.dirname(os.path.abspath(self._path)))
            log.info("snapshot at raft index %s now holds the tables (state %s)", seed.raft_index, seed.state_index)
        else:
            try:
                os.unlink(self._seed_path)
            except FileNotFoundError:
                pass

    def _current_header(self) -> dict | None:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return None
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._header_of is None or self._header_of[0] != identity:
            try:
                self._header_of = (identity, snapshot.read_header(self._path))
            except Exception:
                log.exception("cannot read the snapshot header of %s", self._path)
                return None
        return self._header_of[1]

    def deserialize(self, path: str):
        header = snapshot.read_header(path)
        # A private hard link: PySyncObj may replace `path` before the applier gets to it.
        private = f"{self._path}.install-{os.getpid()}-{next(_install_seq)}"
        if os.path.exists(private):  # left by an earlier process with the same pid
            os.unlink(private)
        os.link(path, private)
        self._applier.enqueue_install(private, int(header["state_index"]))
        raft_tuple = header["raft"]
        self.installed_configuration = raft_tuple[2] if len(raft_tuple) > 2 else None
        return raft_tuple


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
