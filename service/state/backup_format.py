"""The backup file: every replicated table at one applied index, as gzip-compressed JSON lines.

    {"format": "taskraft-backup", "format_version": 1, "schema_version": 4, "cluster_id": ...,
     "applied_index": N, "applied_term": T, "created_at": "...Z", "node_id": ..., "consistency": ...}
    {"table": "tasks", "columns": ["task_id", ...]}
    {"rows": [[...], ...]}                      (up to CHUNK rows a line, any number of lines)
    ...                                         (every table of schema.REPLICATED_TABLES, parents first)
    {"end": true, "rows": {"tasks": 3, ...}, "sha256": "<hex>"}
    then, after the gzip stream, the seal: SEAL and the SHA-256 of the compressed bytes (raw)

`sha256` is over every line before the end record (uncompressed), and the seal over the file
itself, so a flipped bit, a line cut out or a missing end is found by reading the file once
(`verify`), before anything is restored. `gzip -dc FILE` shows the lines (and warns of the seal as trailing garbage).
JSON rather than pickle: a backup is a file users keep, copy and restore, and loading it must
not be able to run code. Datetimes are written as MySQL's own 'YYYY-MM-DD HH:MM:SS.ffffff'.

This module knows nothing of databases or HTTP: `encode` turns records into compressed chunks,
`read` checks and yields them back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .schema import REPLICATED_TABLES, SCHEMA_VERSION

FORMAT = "taskraft-backup"
FORMAT_VERSION = 1
SUFFIX = ".backup"
CHUNK = 500  # rows a line
_READ = 1 << 16
_MAX_LINE = 64 << 20  # a line (a chunk of rows) longer than this is not ours
LEVEL = 1  # zlib's fastest: a backup is mostly raft_log JSON, which compresses well even so
# The gzip header `Encoder` writes (no name, time 0, the level's flags, Unix). zlib checks the rest of
# the stream (a CRC-32 and the length of the content); these ten bytes it does not, so `read` does.
GZIP_HEADER = bytes.fromhex("1f8b0800000000000403")
# After the gzip stream: SEAL and the SHA-256 of every compressed byte before it. The lines' own
# checksum (the end record) proves the content; the seal proves the file, to the last bit (deflate
# has bits no decompressor reads, so a flip there leaves the content, and its checksums, unchanged).
SEAL = b"\ntaskraft-backup-seal\n"


class BackupError(ValueError):
    """The file is not a backup this version can restore; the message says why."""


@dataclass(frozen=True)
class BackupInfo:
    """What a verified backup holds."""

    header: dict
    rows: dict[str, int] = field(default_factory=dict)
    sha256: str = ""
    size: int = 0  # bytes of the compressed file

    @property
    def applied_index(self) -> int:
        return int(self.header["applied_index"])

    @property
    def applied_term(self) -> int:
        return int(self.header["applied_term"])

    @property
    def tasks(self) -> int:
        return self.rows.get("tasks", 0)


def header(
    *,
    schema_version: int,
    cluster_id,
    applied_index: int,
    applied_term: int,
    node_id: str,
    consistency: str,
    created_at: dt.datetime,
) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": schema_version,
        "cluster_id": cluster_id,
        "applied_index": applied_index,
        "applied_term": applied_term,
        "created_at": created_at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "node_id": node_id,
        "consistency": consistency,
    }


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8")
    return value


class Encoder:
    """Records in, compressed chunks out; counts rows and hashes every line for the end record."""

    def __init__(self):
        self._zip = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)  # 31: a gzip stream, as `gzip -d` reads
        self._hash = hashlib.sha256()  # of the lines
        self._file_hash = hashlib.sha256()  # of the compressed bytes, for the seal
        self.rows: dict[str, int] = {}
        self._table: str | None = None
        self.size = 0

    def _line(self, record: dict) -> bytes:
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        self._hash.update(data)
        return self._out(self._zip.compress(data))

    def _out(self, data: bytes) -> bytes:
        self._file_hash.update(data)
        self.size += len(data)
        return data

    def start(self, head: dict) -> bytes:
        return self._line(head)

    def table(self, name: str, columns: list[str]) -> bytes:
        self._table = name
        self.rows[name] = 0
        return self._line({"table": name, "columns": list(columns)})

    def rows_chunk(self, rows: Iterable[Iterable[Any]]) -> bytes:
        assert self._table is not None, "rows before a table"
        values = [[_value(v) for v in row] for row in rows]
        self.rows[self._table] += len(values)
        return self._line({"rows": values}) if values else b""

    def finish(self) -> bytes:
        end = json.dumps({"end": True, "rows": self.rows, "sha256": self._hash.hexdigest()}).encode() + b"\n"
        data = self._out(self._zip.compress(end) + self._zip.flush())
        seal = SEAL + self._file_hash.digest()
        self.size += len(seal)
        return data + seal


# -- reading -----------------------------------------------------------------------------------------


def _lines(src: IO[bytes]) -> Iterator[bytes]:
    """The uncompressed lines of the gzip stream, then the seal checked; BackupError for anything that is
    not a backup, or is cut short, or differs by a single bit from what was written."""
    unzip = zlib.decompressobj(31)
    file_hash = hashlib.sha256()
    pending = b""
    started = False
    while not unzip.eof:
        try:
            data = src.read(_READ)
        except OSError as exc:
            raise BackupError(f"cannot read it: {exc}") from None
        if not data:
            break
        if not started and data[:10] != GZIP_HEADER:
            if data[:2] != GZIP_HEADER[:2]:
                raise BackupError("it is not a taskraft backup (not a gzip stream)")
            raise BackupError("it is not a taskraft backup, or it is corrupted (its gzip header differs)")
        started = True
        try:
            pending += unzip.decompress(data, _MAX_LINE)
        except zlib.error:
            raise BackupError("it is not a taskraft backup, or it is corrupted (not a valid gzip stream)") from None
        if unzip.unconsumed_tail or len(pending) > _MAX_LINE:
            raise BackupError("it is not a taskraft backup (a line is too long)")
        file_hash.update(data[: len(data) - len(unzip.unused_data)])
        *whole, pending = pending.split(b"\n")
        for line in whole:
            yield line + b"\n"
    if not started:
        raise BackupError("the file is empty")
    if not unzip.eof:
        raise BackupError("the file is truncated (the compressed stream ends early)")
    if pending:
        yield pending
    seal = unzip.unused_data + src.read(len(SEAL) + 33)
    if len(seal) < len(SEAL) + 32:
        raise BackupError("the file is truncated (its seal is missing)")
    if len(seal) > len(SEAL) + 32:
        raise BackupError("there are bytes after the end of the backup")
    if seal != SEAL + file_hash.digest():
        raise BackupError("the seal does not match: the file is corrupted")


def read(src: IO[bytes], *, known_schema: int = SCHEMA_VERSION) -> Iterator[tuple[str, Any]]:
    """Check `src` while yielding ("header", dict), ("table", (name, columns)), ("rows", (name, rows)),
    ("end", BackupInfo). Raises BackupError as soon as something is wrong; only a stream that reached
    "end" was checked whole, so a restore reads the file once to the end before it writes anything."""
    digest = hashlib.sha256()
    rows: dict[str, int] = {}
    table: str | None = None
    head: dict | None = None
    lines = _lines(src)
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            raise BackupError("it is not a taskraft backup, or it is corrupted (a line is not JSON)") from None
        if not isinstance(record, dict):
            raise BackupError("it is not a taskraft backup (a line is not an object)")
        if head is None:
            head = check_header(record, known_schema)
            digest.update(line)
            yield "header", head
            continue
        if record.get("end") is True:
            if record.get("sha256") != digest.hexdigest():
                raise BackupError("the checksum does not match: the file is corrupted")
            if record.get("rows") != rows:
                raise BackupError("the row counts do not match: the file is corrupted")
            for _extra in lines:  # and the stream must end here, gzip trailer and all
                raise BackupError("there are lines after the end record: the file is corrupted")
            yield "end", BackupInfo(head, rows, digest.hexdigest())
            return
        digest.update(line)
        if "table" in record:
            table = record["table"]
            columns = record.get("columns")
            if table not in REPLICATED_TABLES or table in rows:
                raise BackupError(f"unexpected table {table!r}: the file is corrupted")
            if not isinstance(columns, list) or not all(isinstance(col, str) for col in columns):
                raise BackupError(f"the columns of {table} are malformed: the file is corrupted")
            rows[table] = 0
            yield "table", (table, columns)
        elif "rows" in record and table is not None and isinstance(record["rows"], list):
            rows[table] += len(record["rows"])
            yield "rows", (table, record["rows"])
        else:
            raise BackupError("an unexpected line: the file is corrupted")
    if head is None:
        raise BackupError("the file is empty")
    raise BackupError("the file is truncated (no end record)")


def check_header(record: dict, known_schema: int = SCHEMA_VERSION) -> dict:
    if record.get("format") != FORMAT:
        raise BackupError("it is not a taskraft backup (no taskraft-backup header)")
    version = record.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BackupError("the header's format_version is malformed")
    if version > FORMAT_VERSION:
        raise BackupError(
            f"it is in backup format {version}, newer than this taskraft reads ({FORMAT_VERSION}): "
            "restore it with a newer taskraft"
        )
    schema = record.get("schema_version")
    if not isinstance(schema, int) or schema < 1:
        raise BackupError("the header's schema_version is malformed")
    if schema > known_schema:
        raise BackupError(
            f"it holds schema version {schema}, newer than this taskraft knows ({known_schema}): "
            "restore it with a newer taskraft"
        )
    for key in ("applied_index", "applied_term"):
        if not isinstance(record.get(key), int) or record[key] < 0:
            raise BackupError(f"the header's {key} is malformed")
    return record


def verify(path: str) -> BackupInfo:
    """Read the whole file at `path` and check it; its BackupInfo, or BackupError."""
    try:
        with open(path, "rb") as src:
            for kind, value in read(src):
                if kind == "end":
                    size = src.seek(0, 2)
                    return BackupInfo(value.header, value.rows, value.sha256, size)
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise BackupError(f"{path} is a directory") from None
    except PermissionError as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    raise BackupError("the file is truncated (no end record)")  # pragma: no cover - read() raises first
