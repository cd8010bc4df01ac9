"""The backup file format: what `read`/`verify` accept and refuse, without a database."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import zlib

import pytest

from taskraft.state import backup_format as fmt


def make_backup(tasks: int = 120, *, schema: int = fmt.SCHEMA_VERSION, head_changes: dict | None = None) -> bytes:
    head = fmt.header(
        schema_version=schema,
        cluster_id="c0ffee00",
        applied_index=40,
        applied_term=3,
        node_id="node-1",
        consistency="linearizable",
        created_at=dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC),
    )
    head.update(head_changes or {})
    enc = fmt.Encoder()
    out = enc.start(head)
    out += enc.table("tasks", ["task_id", "title", "created_at"])
    rows = [[i, f"task {i} ✓", dt.datetime(2026, 1, 1, 0, 0, i % 60, 123000)] for i in range(1, tasks + 1)]
    for start in range(0, len(rows), 50):
        out += enc.rows_chunk(rows[start : start + 50])
    out += enc.table("raft_meta", ["id", "applied_index", "applied_term", "next_task_id"])
    out += enc.rows_chunk([[1, 40, 3, tasks + 1]])
    out += enc.finish()
    assert enc.size == len(out)
    return out


def records(data: bytes) -> list:
    return list(fmt.read(io.BytesIO(data)))


def refused(data: bytes) -> str:
    with pytest.raises(fmt.BackupError) as info:
        records(data)
    return str(info.value)


def test_round_trip_gives_back_the_header_tables_rows_and_counts():
    got = records(make_backup(120))
    assert got[0][0] == "header" and got[0][1]["applied_index"] == 40 and got[0][1]["cluster_id"] == "c0ffee00"
    tables = [value[0] for kind, value in got if kind == "table"]
    assert tables == ["tasks", "raft_meta"]
    task_rows = [row for kind, value in got if kind == "rows" and value[0] == "tasks" for row in value[1]]
    assert len(task_rows) == 120
    assert task_rows[0] == [1, "task 1 ✓", "2026-01-01 00:00:01.123000"]  # MySQL's own datetime text
    kind, info = got[-1]
    assert kind == "end" and info.rows == {"tasks": 120, "raft_meta": 1} and info.tasks == 120


def test_the_lines_are_one_gzip_stream_then_the_seal():
    data = make_backup(3)
    unzip = zlib.decompressobj(31)
    lines = unzip.decompress(data).decode().splitlines()
    assert unzip.eof and unzip.unused_data.startswith(fmt.SEAL) and len(unzip.unused_data) == len(fmt.SEAL) + 32
    assert json.loads(lines[0])["format"] == "taskraft-backup"
    assert json.loads(lines[-1])["end"] is True


def test_every_single_byte_flip_is_refused():
    data = make_backup(60)
    missed = []
    for position in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[position] ^= mask
            try:
                records(bytes(bad))
            except fmt.BackupError:
                continue
            missed.append((position, mask))
    assert missed == []


def test_every_truncation_is_refused():
    data = make_backup(60)
    for cut in range(len(data)):
        refused(data[:cut])
    assert "truncated" in refused(data[:-5]) or "seal" in refused(data[:-5])


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"hello, world\n", "not a gzip stream"),
        (gzip.compress(b'{"format": "something-else"}\n'), "gzip header differs"),
    ],
)
def test_foreign_and_empty_files_are_refused(data, says):
    assert says in refused(data)


def test_a_foreign_file_with_our_gzip_header_is_refused_for_its_content():
    enc = fmt.Encoder()
    data = enc._line({"format": "another-tool", "rows": []}) + enc.finish()
    assert "not a taskraft backup" in refused(data)


def test_a_newer_format_or_schema_is_refused_naming_the_versions():
    assert "format 2, newer than this taskraft reads (1)" in refused(make_backup(head_changes={"format_version": 2}))
    message = refused(make_backup(schema=fmt.SCHEMA_VERSION + 1))
    assert f"schema version {fmt.SCHEMA_VERSION + 1}" in message and "newer" in message


def test_bytes_after_the_seal_are_refused():
    assert "after the end" in refused(make_backup(5) + b"\0")


def test_verify_reports_size_and_names_a_missing_file(tmp_path):
    path = tmp_path / "one.backup"
    data = make_backup(10)
    path.write_bytes(data)
    info = fmt.verify(str(path))
    assert info.size == len(data) and info.applied_index == 40 and info.applied_term == 3 and info.tasks == 10
    with pytest.raises(fmt.BackupError, match="does not exist"):
        fmt.verify(str(tmp_path / "missing.backup"))
