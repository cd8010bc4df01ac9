"""`taskraft backup verify` and `taskraft restore` on files, with no cluster: bad files are refused, nothing written."""

from __future__ import annotations

import pytest

from ..state.test_backup_format import make_backup
from .run import run


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.backup"
    path.write_bytes(make_backup(25))
    return path


def _bad_files(good_bytes: bytes) -> dict[str, bytes]:
    flipped = bytearray(good_bytes)
    flipped[len(flipped) // 2] ^= 0x01
    return {
        "truncated": good_bytes[: len(good_bytes) - 100],
        "one byte flipped": bytes(flipped),
        "wrong format version": make_backup(25, head_changes={"format_version": 9}),
        "empty": b"",
        "foreign": b"PK\x03\x04 not ours",
    }


def test_verify_accepts_a_good_file_and_names_what_it_holds(good):
    checked = run("backup", "verify", str(good))
    assert checked.returncode == 0, checked.stderr
    assert "valid; index 40 (term 3), cluster c0ffee00" in checked.stdout and "25 tasks" in checked.stdout


@pytest.mark.parametrize("kind", ["truncated", "one byte flipped", "wrong format version", "empty", "foreign"])
def test_bad_files_are_refused_with_a_clear_message_and_nothing_written(tmp_path, good, kind):
    bad = tmp_path / f"{kind.replace(' ', '-')}.backup"
    bad.write_bytes(_bad_files(good.read_bytes())[kind])
    checked = run("backup", "verify", str(bad))
    assert checked.returncode == 1 and "is not a valid backup" in checked.stderr
    target = tmp_path / "new-cluster"
    refused = run("restore", str(bad), "--data-dir", str(target))
    assert refused.returncode == 1 and "nothing was written" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert not target.exists()
    up = run("cluster", "up", "--data-dir", str(target), "--restore", str(bad), "--port-base", "1100")
    assert up.returncode == 1 and "cannot restore" in up.stderr and not target.exists()


def test_the_messages_say_why(tmp_path, good):
    bad = _bad_files(good.read_bytes())
    expected = {
        "truncated": "truncated",
        "wrong format version": "backup format 9, newer than this taskraft reads",
        "empty": "empty",
        "foreign": "not a gzip stream",
    }
    for kind, says in expected.items():
        path = tmp_path / "f.backup"
        path.write_bytes(bad[kind])
        assert says in run("backup", "verify", str(path)).stderr, kind


def test_a_non_empty_directory_is_refused_unless_forced(tmp_path, good):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "something").write_text("keep me")
    refused = run("restore", str(good), "--data-dir", str(target))
    assert refused.returncode == 1 and "is not empty" in refused.stderr
    assert (target / "something").read_text() == "keep me"
    forced = run("restore", str(good), "--data-dir", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in target.iterdir()) == ["restore.backup"]
    assert (target / "restore.backup").read_bytes() == good.read_bytes()
    assert oct((target / "restore.backup").stat().st_mode & 0o777) == "0o600"


def test_a_backup_inside_the_directory_to_empty_is_refused(tmp_path):
    target = tmp_path / "dir"
    target.mkdir()
    inside = target / "b.backup"
    inside.write_bytes(make_backup(3))
    refused = run("restore", str(inside), "--data-dir", str(target), "--force")
    assert refused.returncode == 1 and "inside" in refused.stderr and inside.exists()


def test_backup_needs_one_destination():
    neither = run("backup", "--url", "http://127.0.0.1:1")
    assert neither.returncode != 0 and "give exactly one of --out FILE and --out-dir DIR" in neither.stderr
    keep = run("backup", "--url", "http://127.0.0.1:1", "--out", "x", "--keep", "2")
    assert keep.returncode != 0 and "--keep goes with --out-dir" in keep.stderr


def test_keep_deletes_the_oldest_by_time_then_index(tmp_path):
    from taskraft.cli_backup import prune

    names = [
        "taskraft-20261130T100000Z-i10.backup",
        "taskraft-20261130T100000Z-i9.backup",  # same second, lower index: older, though it sorts after as text
        "taskraft-20261129T235959Z-i99.backup",
        "taskraft-20261130T100001Z-i11.backup",
        "notes.txt",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = prune(str(tmp_path), 2)
    assert sorted(p.rsplit("/", 1)[-1] for p in removed) == [
        "taskraft-20261129T235959Z-i99.backup",
        "taskraft-20261130T100000Z-i9.backup",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "taskraft-20261130T100000Z-i10.backup",
        "taskraft-20261130T100001Z-i11.backup",
    ]
