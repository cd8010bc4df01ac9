"""Restoring a new release from a backup: restore.fromBackup mounts the claim read-only in every member and names the
file in TASKRAFT_RESTORE_FROM; both values or neither."""

from __future__ import annotations

import dataclasses

import pytest

from .conftest import CHART, NAMESPACE, RELEASE, by_kind, one, render, run
from .test_chart import _assert_kubernetes_validate_strict
from .test_chart_auth import _notes

FULLNAME = f"{RELEASE}-taskraft"
FILE = "taskraft-20250101T030000Z-i1234.backup"
RESTORE = ("--set", "restore.fromBackup.claimName=taskraft-backup", "--set", f"restore.fromBackup.path={FILE}")


def _env(docs: list[dict]) -> dict:
    return next(c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == f"{FULLNAME}-env")["data"]


def _pod(docs: list[dict]) -> dict:
    return one(docs, "StatefulSet")["spec"]["template"]["spec"]


def _app(docs: list[dict]) -> dict:
    return next(c for c in _pod(docs)["containers"] if c["name"] == "taskraft")


def test_nothing_to_restore_by_default(helm):
    docs = render(helm)
    assert "TASKRAFT_RESTORE_FROM" not in _env(docs)
    assert "restore" not in {v["name"] for v in _pod(docs)["volumes"]}
    assert "restore" not in {m["name"] for m in _app(docs)["volumeMounts"]}


def test_the_claim_is_mounted_read_only_and_the_env_names_the_file_in_it(helm, tmp_path):
    docs = render(helm, None, *RESTORE)
    target = _env(docs)["TASKRAFT_RESTORE_FROM"]
    (mount,) = [m for m in _app(docs)["volumeMounts"] if target.startswith(m["mountPath"] + "/")]
    assert target == f"{mount['mountPath']}/{FILE}"
    assert mount["readOnly"] is True
    volume = next(v for v in _pod(docs)["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"] == {"claimName": "taskraft-backup", "readOnly": True}
    # only the taskraft container: the database sidecar starts empty and is filled by the node
    mysql = next(c for c in _pod(docs)["initContainers"] if c["name"] == "mysql")
    assert mount["name"] not in {m["name"] for m in mysql["volumeMounts"]}
    _assert_kubernetes_validate_strict(docs, tmp_path)


def test_the_claim_is_rendered_with_tpl_and_the_path_may_have_directories(helm):
    docs = render(helm, None, "--set", "restore.fromBackup.claimName=old-{{ .Release.Namespace }}",
                  "--set", "restore.fromBackup.path=nightly/x.backup")  # fmt: skip
    assert _env(docs)["TASKRAFT_RESTORE_FROM"] == "/restore/nightly/x.backup"
    volume = next(v for v in _pod(docs)["volumes"] if v["name"] == "restore")
    assert volume["persistentVolumeClaim"]["claimName"] == f"old-{NAMESPACE}"


def test_the_restore_values_are_part_of_the_pod_template(helm):
    """Set for a new release; removing them later rolls the members once (their env and volumes change), which
    is harmless: a formed cluster ignores them."""
    plain = one(render(helm), "StatefulSet")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    restoring = one(render(helm, None, *RESTORE), "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert restoring["checksum/config"] != plain


@pytest.mark.parametrize(
    "args, message",
    [
        (RESTORE[:2], "restore.fromBackup.claimName (taskraft-backup) needs restore.fromBackup.path"),
        (RESTORE[2:], f"restore.fromBackup.path ({FILE}) needs restore.fromBackup.claimName"),
        (("--set", "restore.fromBackup.claimName=c", "--set", "restore.fromBackup.path=a/../../x"), "without .."),
        (("--set", "restore.fromBackup.claimName=c", "--set", "restore.fromBackup.path=/etc/passwd"), "path"),
        (("--set", "restore.fromBackup.claimNme=c"), "claimNme"),
    ],
)  # fmt: skip
def test_one_sided_or_outside_values_fail_clearly(helm, args, message):
    proc = run([helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args], check=False)
    assert proc.returncode != 0, "the render should have failed"
    assert message in proc.stderr, proc.stderr


def test_notes_say_the_release_starts_from_the_backup(helm, tmp_path):
    assert "starts from backup" not in _notes(helm, tmp_path / "plain")
    notes = _notes(helm, tmp_path / "restore", *RESTORE)
    assert f"starts from backup {FILE} of claim taskraft-backup" in notes


def test_the_node_reads_the_rendered_restore_setting(helm, monkeypatch):
    """The env the chart renders gives the real config loader the file to restore from."""
    config = pytest.importorskip("taskraft.config", reason="the taskraft package is not installed")
    if "restore_from" not in {f.name for f in dataclasses.fields(config.NodeConfig)}:
        pytest.xfail("this taskraft package has no TASKRAFT_RESTORE_FROM yet")
    for key, value in _env(render(helm, None, *RESTORE)).items():
        monkeypatch.setenv(key, value)
    for key, value in {"POD_NAME": f"{FULLNAME}-0", "TASKRAFT_NODE_ID": f"{FULLNAME}-0", "TASKRAFT_RAFT_SECRET": "x",
                       "POD_NAMESPACE": NAMESPACE}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TASKRAFT_RAFT_SECRET_FILE")
    monkeypatch.delenv("TASKRAFT_MYSQL_PASSWORD_FILE")
    assert config.load_config().restore_from == f"/restore/{FILE}"
