"""A Raft journal that is durable before it counts.

PySyncObj's FileJournal writes entries into an mmap and never fsyncs them, and writes term and
vote without fsync either (upstream issue #84). This journal appends each entry with a CRC and
fdatasyncs it before returning, so an entry is on disk before this node acknowledges it to the
leader (or, on the leader, before the next tick counts it towards the commit index). Term and
vote are written to a side file with write-to-temp, fsync, rename and a directory fsync before
any message that depends on them is sent. A torn last record (crash mid-append) is cut at open.

Record layout: <u32 payload length><u64 index><u64 term><command bytes><u32 crc32 of the above>.

The journal also sees every append, truncation and compaction first, so it keeps the log's
configuration entries (`configs`, membership.ConfigLog) and calls `on_config_change` when the newest
one changes. The configuration of compacted entries (the base) is kept in the side file.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable

from pysyncobj.journal import Journal

from ..durable import fsync_dir, write_file_durably
from .membership import ConfigLog, Configuration

_HEAD = struct.Struct("<IQQ")
_CRC = struct.Struct("<I")


def encode_record(command: bytes, idx: int, term: int) -> bytes:
    body = _HEAD.pack(len(command), idx, term) + command
    return body + _CRC.pack(zlib.crc32(body))


def read_records(path: str) -> tuple[list[tuple[bytes, int, int]], list[int], int]:
    """Return (entries, start offsets, end of the last valid record)."""
    entries: list[tuple[bytes, int, int]] = []
    offsets: list[int] = []
    if not os.path.exists(path):
        return entries, offsets, 0
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + _HEAD.size + _CRC.size <= len(data):
        size, idx, term = _HEAD.unpack_from(data, pos)
        end = pos + _HEAD.size + size
        if end + _CRC.size > len(data):
            break
        (crc,) = _CRC.unpack_from(data, end)
        if zlib.crc32(data[pos:end]) != crc:
            break
        entries.append((bytes(data[pos + _HEAD.size : end]), idx, term))
        offsets.append(pos)
        pos = end + _CRC.size
    return entries, offsets, pos


class DurableJournal(Journal):
    def __init__(self, path: str, decode: Callable[[bytes], object] | None = None):
        self._path = path
        self._meta_path = path + ".meta"
        self._entries, self._offsets, end = read_records(path)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size != end:
            os.ftruncate(self._fd, end)  # drop a torn tail
            os.fsync(self._fd)
        self._end = end
        fsync_dir(os.path.dirname(os.path.abspath(path)))
        self._meta = self._load_meta()
        self._commit_dirty = False
        base = self._meta.get("config_base") or {}
        self.configs = ConfigLog(int(base.get("index", 0)), Configuration.from_dict(base.get("configuration")), decode)
        for command, idx, term in self._entries:
            self.configs.appended(idx, term, bytes(command))
        self.on_config_change: Callable[[], None] | None = None

    def _config_changed(self) -> None:
        if self.on_config_change is not None:
            self.on_config_change()

    def set_config_base(self, index: int, config: Configuration | None) -> None:
        """A snapshot replaced the log: the configuration in force at its index becomes the base."""
        self.configs.reset(index, config)
        self._store_config_base()
        self._config_changed()

    def _store_config_base(self) -> None:
        configs = self.configs
        base = configs.base.as_dict() if configs.base is not None else None
        self._meta["config_base"] = {"index": configs.base_index, "configuration": base}
        self._store_meta()

    # -- entries -----------------------------------------------------------------------------

    def add(self, command, idx, term):
        record = encode_record(bytes(command), idx, term)
        os.pwrite(self._fd, record, self._end)
        os.fdatasync(self._fd)
        self._offsets.append(self._end)
        self._end += len(record)
        self._entries.append((command, idx, term))
        if self.configs.appended(idx, term, bytes(command)):
            self._config_changed()

    def clear(self):
        self._truncate_at(0)

    def deleteEntriesFrom(self, entryFrom):
        if entryFrom < len(self._entries):
            self._truncate_at(entryFrom)

    def _truncate_at(self, position: int) -> None:
        end = self._offsets[position] if position < len(self._offsets) else self._end
        first_removed = self._entries[position][1] if position < len(self._entries) else None
        os.ftruncate(self._fd, end)
        os.fsync(self._fd)
        del self._entries[position:]
        del self._offsets[position:]
        self._end = end
        if first_removed is not None and self.configs.truncated_from(first_removed):
            self._config_changed()

    def deleteEntriesTo(self, entryTo):
        """Drop entries before position `entryTo` (after a snapshot): rewrite the file atomically."""
        if entryTo <= 0:
            return
        entries = self._entries
        first_kept = entries[entryTo][1] if entryTo < len(entries) else entries[-1][1] + 1
        if self.configs.compacted_below(first_kept):
            self._store_config_base()  # before the entries that held it go
        keep = self._entries[entryTo:]
        write_file_durably(self._path, b"".join(encode_record(bytes(c), i, t) for c, i, t in keep))
        os.close(self._fd)
        self._entries, self._offsets, self._end = read_records(self._path)
        self._fd = os.open(self._path, os.O_RDWR)

    def __getitem__(self, item):
        return self._entries[item]

    def __len__(self):
        return len(self._entries)

    def _destroy(self):
        self._store_meta()
        try:
            os.close(self._fd)
        except OSError:
            pass

    # -- term, vote, commit index ------------------------------------------------------------------

    def _load_meta(self) -> dict:
        try:
            with open(self._meta_path, "rb") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return {}

    def _store_meta(self) -> None:
        write_file_durably(self._meta_path, json.dumps(self._meta).encode())
        self._commit_dirty = False

    def setRaftCommitIndex(self, raftCommitIndex):
        if self._meta.get("raftCommitIndex") != raftCommitIndex:
            self._meta["raftCommitIndex"] = raftCommitIndex
            self._commit_dirty = True

    def getRaftCommitIndex(self):
        return self._meta.get("raftCommitIndex", 1)

    def setCurrentTerm(self, term, votedForNodeId):
        self._meta["currentTerm"] = term
        self._meta["votedForNodeId"] = votedForNodeId
        self._store_meta()

    def getCurrentTerm(self):
        return self._meta.get("currentTerm", 0)

    def getVotedForNodeId(self):
        return self._meta.get("votedForNodeId")

    def onOneSecondTimer(self):
        # The commit index is only a hint for replay after restart; losing it is safe.
        if self._commit_dirty:
            self._store_meta()
