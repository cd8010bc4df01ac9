"""`taskraft cluster up` / `down` as a user runs them: start, print URLs, CRUD, stop, resume with data kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from ..helpers import free_port_base, post_task, wait_until

pytestmark = pytest.mark.cluster


def _up(data_dir, base, *extra):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskraft",
            "cluster",
            "up",
            "--data-dir",
            str(data_dir),
            "--port-base",
            str(base),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("cluster.json:"):
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("cluster up did not get ready:\n" + "".join(lines))


def test_cluster_up_prints_urls_serves_crud_and_resumes_with_data(tmp_path):
    base = free_port_base(3)
    proc, out = _up(tmp_path, base)
    try:
        urls = [f"http://127.0.0.1:{base + i}" for i in range(3)]
        for url in urls:
            assert url in out
        manifest = json.loads((tmp_path / "cluster.json").read_text())
        assert [n["url"] for n in manifest["nodes"]] == urls
        for node in manifest["nodes"]:
            assert {"node_id", "url", "raft_address", "pid", "db_pid", "db_port"} <= node.keys()
            assert node["pid"] and node["db_pid"]
        created = [post_task(url, f"from {url}").json() for url in urls]
        assert all(t["id"] for t in created)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
    for node in manifest["nodes"]:  # everything stopped
        for pid in (node["pid"], node["db_pid"]):
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)

    proc, _ = _up(tmp_path, base)  # resume on the same data dir, in the background this time
    try:
        got = requests.get(f"{urls[0]}/api/v1/tasks", timeout=10).json()["items"]
        assert {t["id"] for t in created} <= {t["id"] for t in got}
        down = subprocess.run(
            [sys.executable, "-m", "taskraft", "cluster", "down", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert down.returncode == 0, down.stderr
        wait_until(lambda: proc.poll() is not None, 60, message="supervisor exit")
    finally:
        if proc.poll() is None:
            proc.kill()


def _taskraft(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "taskraft", *args], capture_output=True, text=True, timeout=timeout)


def _voters(url) -> list[str]:
    return requests.get(f"{url}/api/v1/cluster", timeout=10).json()["configuration"]["voters"]


def test_scale_grows_and_shrinks_a_running_cluster_and_up_follows_the_count(tmp_path):
    """3 -> 5 with `cluster scale` while it runs, 5 -> 3 the same way, then `cluster up --nodes 4` on the
    same data dir: every acknowledged task is kept, and the voters are always the nodes that run."""
    base = free_port_base(5)
    urls = [f"http://127.0.0.1:{base + i}" for i in range(5)]
    proc, _ = _up(tmp_path, base)
    try:
        before = [post_task(urls[0], f"before {i}").json()["id"] for i in range(5)]
        grown = _taskraft("cluster", "scale", "--data-dir", str(tmp_path), "--nodes", "5")
        assert grown.returncode == 0, grown.stdout + grown.stderr
        assert len(_voters(urls[4])) == 5
        during = [post_task(urls[4], f"on five {i}").json()["id"] for i in range(5)]
        members = _taskraft("cluster", "members", "--url", urls[1])
        assert members.returncode == 0 and members.stdout.count("voter") == 5, members.stdout
        shrunk = _taskraft("cluster", "scale", "--data-dir", str(tmp_path), "--nodes", "3")
        assert shrunk.returncode == 0, shrunk.stdout + shrunk.stderr
        assert sorted(_voters(urls[0])) == sorted(f"127.0.0.1:{base + 100 + i}" for i in range(3))
        assert not (tmp_path / "node-4").exists() and list(tmp_path.glob("node-4.removed-*"))
        manifest = json.loads((tmp_path / "cluster.json").read_text())
        assert len(manifest["nodes"]) == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
    proc, _ = _up(tmp_path, base, "--nodes", "4")
    try:
        assert len(_voters(urls[3])) == 4
        got = {t["id"] for t in requests.get(f"{urls[3]}/api/v1/tasks?limit=100", timeout=10).json()["items"]}
        assert set(before) | set(during) <= got
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
