"""Backup and restore with real nodes: a backup taken while a writer runs, restored into a new local cluster.

The checks of issue 17: every task acknowledged before the backup began is on every restored node;
the restored tables equal the source's at the backup's index; the restored cluster takes writes,
has a new cluster id and answers a retried request with its recorded result.
"""

from __future__ import annotations

import re
import threading
import time
import uuid

import requests

from taskraft.localcluster.cluster import LocalCluster
from taskraft.state import backup_format as fmt

from ..cli.run import run
from ..conftest import start_cluster
from ..helpers import TEST_ADMIN_TOKEN, node_db, task_titles, wait_converged, wait_until
from ..state.test_backup_tables import view_at

H = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


class Writer(threading.Thread):
    """Creates tasks through every node in turn; keeps each acknowledged one with its key and ack time."""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls, self.stop, self.acked = urls, threading.Event(), []  # (ack time, task id, key, title)

    def run(self):
        i = 0
        while not self.stop.is_set():
            key, title = uuid.uuid4().hex, f"w{i}"
            try:
                r = requests.post(
                    self.urls[i % len(self.urls)] + "/api/v1/tasks",
                    json={"title": title},
                    headers={**H, "Idempotency-Key": key},
                    timeout=10,
                )
            except requests.RequestException:
                r = None
            if r is not None and r.status_code == 201:
                self.acked.append((time.monotonic(), r.json()["id"], key, title))
            i += 1


def follower(cluster) -> int:
    leader = cluster.wait_leader(30)
    return next(n.index for n in cluster.nodes if n.index != leader)


def start_restored(tmp_path, backup) -> LocalCluster:
    target = tmp_path / "restored"
    prepared = run("restore", str(backup), "--data-dir", str(target))
    assert prepared.returncode == 0, prepared.stderr
    assert "next: taskraft cluster up --data-dir" in prepared.stdout
    restored = start_cluster(target)
    return restored


def test_a_backup_taken_under_writes_restores_every_acknowledged_task_on_every_node(cluster, tmp_path):
    writer = Writer(cluster.urls)
    writer.start()
    try:
        wait_until(lambda: len(writer.acked) >= 30, 60, message="30 acknowledged writes")
        began = time.monotonic()
        backup = tmp_path / "under-writes.backup"
        served_by = follower(cluster)
        taken = run("backup", "--url", cluster.nodes[served_by].url, "--token", TEST_ADMIN_TOKEN, "--out", str(backup))
        assert taken.returncode == 0, taken.stderr
        wait_until(lambda: writer.acked[-1][0] > time.monotonic() - 0.5, 30, message="writes after the backup")
    finally:
        writer.stop.set()
        writer.join(15)
    before = [(task_id, key, title) for acked_at, task_id, key, title in writer.acked if acked_at < began]
    info = fmt.verify(str(backup))
    assert re.search(rf"index {info.applied_index} .* {info.tasks} tasks", taken.stdout)
    metrics = requests.get(cluster.nodes[served_by].url + "/metrics", timeout=5).text
    assert re.search(r"^taskraft_backup_last_success_timestamp_seconds \d", metrics, re.M)
    assert re.search(r'^taskraft_backups_total\{outcome="success"\} 1\.0', metrics, re.M)

    source_id = requests.get(cluster.urls[0] + "/api/v1/cluster", headers=H, timeout=5).json()["cluster_id"]
    restored = start_restored(tmp_path, backup)
    try:
        for i in range(3):  # every node, from its own database
            on_node = task_titles(restored, i)
            assert len(on_node) == info.tasks
            assert {task_id: title for task_id, _key, title in before}.items() <= on_node.items()
        view = requests.get(restored.urls[0] + "/api/v1/cluster", headers=H, timeout=5).json()
        assert view["cluster_id"] and view["cluster_id"] != source_id
        # A retry of a request the backup holds answers the recorded result, on any node.
        task_id, key, title = before[-1]
        again = requests.post(
            restored.urls[2] + "/api/v1/tasks", json={"title": title}, headers={**H, "Idempotency-Key": key}, timeout=10
        )
        assert again.status_code == 201 and again.json()["id"] == task_id
        new = requests.post(
            restored.urls[1] + "/api/v1/tasks", json={"title": "after the restore"}, headers=H, timeout=10
        )
        assert new.status_code == 201 and new.json()["id"] > max(task_id for task_id, _k, _t in before)
        # A restarted member keeps what the new cluster wrote: it does not restore the backup again.
        restored.stop_node(0)
        restored.start_node(0)
        restored.wait_ready(120, nodes=[0])
        wait_until(lambda: new.json()["id"] in task_titles(restored, 0), 60, message="the new task on node-0")
        survives_faults(restored, info.applied_index)
    finally:
        restored.stop()


def survives_faults(restored: LocalCluster, base: int) -> None:
    """Past the restored base: a SIGKILLed leader under writes loses no acknowledged write, and a member that
    loses its disk is caught up by the leader (a dump for the snapshot at the base), not restored again."""
    writer = Writer(restored.urls)
    writer.start()
    try:
        wait_until(lambda: len(writer.acked) >= 10, 60, message="writes to the restored cluster")
        leader = restored.wait_leader(30)
        restored.kill_node(leader)
        count = len(writer.acked)
        wait_until(lambda: len(writer.acked) >= count + 10, 60, message="writes after the leader's SIGKILL")
        restored.start_node(leader)
        wiped = next(i for i in range(3) if i != restored.wait_leader(30))
        restored.wipe_node(wiped)
        wait_until(lambda: len(writer.acked) >= count + 20, 60, message="writes while a member is rebuilt")
    finally:
        writer.stop.set()
        writer.join(15)
    sums = wait_converged(restored, [0, 1, 2], timeout=120)
    assert sums
    for i in range(3):
        on_node = task_titles(restored, i)
        assert all(task_id in on_node for _at, task_id, _key, _title in writer.acked), f"node-{i} lost a write"
    log = restored.nodes[wiped].log_path.read_text()
    assert "restore: skipped, the cluster record names cluster" in log

    def caught_up():
        view = requests.get(restored.urls[wiped] + "/api/v1/cluster", headers=H, timeout=5).json()
        return view["last_applied"] > base and view["voting"]["can_vote"]

    wait_until(caught_up, 60, message="the wiped member caught up and voting again")


def test_the_restored_tables_equal_the_source_at_the_backup_index(cluster, tmp_path):
    """The source's tables at the backup's index are read while its applier is held by a global read
    lock, and a local backup of that node is taken meanwhile: both are at the same index."""
    for i in range(10):
        requests.post(cluster.urls[i % 3] + "/api/v1/tasks", json={"title": f"c{i}"}, headers=H, timeout=10)
    held = follower(cluster)
    lock = cluster.nodes[held].db.root_connection("taskraft")
    try:
        with lock.cursor() as cur:
            cur.execute("FLUSH TABLES WITH READ LOCK")
        writes = [
            requests.post(
                cluster.urls[(held + 1) % 3] + "/api/v1/tasks", json={"title": "meanwhile"}, headers=H, timeout=10
            )
            for _ in range(3)
        ]
        assert all(w.status_code == 201 for w in writes)  # the cluster goes on without the held node's applier
        backup = tmp_path / "local.backup"
        taken = run(
            "backup",
            "--url",
            cluster.nodes[held].url,
            "--token",
            TEST_ADMIN_TOKEN,
            "--consistency",
            "local",
            "--out",
            str(backup),
        )
        assert taken.returncode == 0, taken.stderr
        index = fmt.verify(str(backup)).applied_index
        with lock.cursor() as cur:
            cur.execute("SELECT applied_index FROM raft_meta")
            assert cur.fetchone()[0] == index
        source = view_at(lock, index)
    finally:
        lock.close()
    assert all(w.json()["id"] not in {int(r[0]) for r in source["tasks"]} for w in writes)
    restored = start_restored(tmp_path, backup)
    try:
        for i in range(3):
            conn = node_db(restored, i)
            try:
                assert view_at(conn, index) == source
            finally:
                conn.close()
    finally:
        restored.stop()


def test_out_dir_names_the_files_by_time_and_index_and_keeps_the_newest(cluster, tmp_path):
    out = tmp_path / "backups"
    names = []
    for i in range(3):
        requests.post(cluster.urls[0] + "/api/v1/tasks", json={"title": f"k{i}"}, headers=H, timeout=10)
        taken = run(
            "backup", "--url", cluster.urls[i], "--token", TEST_ADMIN_TOKEN, "--out-dir", str(out), "--keep", "2"
        )
        assert taken.returncode == 0, taken.stderr
        names.append(re.search(r"backup (\S+):", taken.stdout).group(1))
    left = sorted(p.name for p in out.iterdir())
    assert left == sorted(p.rsplit("/", 1)[-1] for p in names[1:])
    assert all(re.fullmatch(r"taskraft-\d{8}T\d{6}Z-i\d+\.backup", name) for name in left)
    assert oct((out / left[0]).stat().st_mode & 0o777) == "0o600"


def test_a_viewer_token_cannot_take_a_backup(cluster, tmp_path):
    user = requests.post(
        cluster.urls[0] + "/api/v1/users",
        json={"username": f"v{uuid.uuid4().hex[:8]}", "role": "viewer"},
        headers=H,
        timeout=10,
    )
    assert user.status_code == 201, user.text
    token = requests.post(
        cluster.urls[0] + "/api/v1/tokens",
        json={"username": user.json()["username"], "name": "t"},
        headers=H,
        timeout=10,
    ).json()["token"]
    refused = run("backup", "--url", cluster.urls[0], "--token", token, "--out", str(tmp_path / "no.backup"))
    assert refused.returncode != 0 and "admin" in refused.stderr
    assert not (tmp_path / "no.backup").exists() and list(tmp_path.iterdir()) == []
    assert "Traceback" not in refused.stderr
