"""Node configuration: the Raft secret is required, peers come from flags, env or StatefulSet names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from taskraft.config import ConfigError, load_config, statefulset_peers


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("TASKRAFT_") or key in ("POD_NAME", "POD_NAMESPACE"):
            monkeypatch.delenv(key, raising=False)


BASE = {"node_id": "n0", "raft_advertise": "127.0.0.1:7000", "peers": "127.0.0.1:7000,127.0.0.1:7001"}


def test_a_node_without_a_raft_secret_refuses_to_start():
    with pytest.raises(ConfigError, match="Raft secret"):
        load_config(BASE)
    assert load_config({**BASE, "insecure": True}).raft_secret is None


def test_secret_from_file(tmp_path):
    (tmp_path / "s").write_text("sekret\n")
    assert load_config({**BASE, "raft_secret_file": str(tmp_path / "s")}).raft_secret == "sekret"


def test_serve_refuses_without_secret_and_says_why():
    r = subprocess.run(
        [sys.executable, "-m", "taskraft", "serve", "--node-id", "n0", "--peers", "127.0.0.1:7000",
         "--raft-advertise", "127.0.0.1:7000"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode != 0
    assert "Raft secret" in r.stderr and "--insecure" in r.stderr


def test_statefulset_discovery_from_environment(monkeypatch):
    monkeypatch.setenv("POD_NAME", "taskraft-1")
    monkeypatch.setenv("TASKRAFT_STATEFULSET", "taskraft")
    monkeypatch.setenv("TASKRAFT_REPLICAS", "3")
    monkeypatch.setenv("TASKRAFT_HEADLESS_SERVICE", "taskraft-headless")
    monkeypatch.setenv("TASKRAFT_NAMESPACE", "prod")
    monkeypatch.setenv("TASKRAFT_RAFT_SECRET", "x")
    cfg = load_config()
    assert cfg.node_id == "taskraft-1"
    assert cfg.raft_advertise == "taskraft-1.taskraft-headless.prod.svc.cluster.local:7000"
    assert cfg.peers == statefulset_peers("taskraft", 3, "taskraft-headless", "prod", "cluster.local", 7000)
    assert cfg.other_peers == (
        "taskraft-0.taskraft-headless.prod.svc.cluster.local:7000",
        "taskraft-2.taskraft-headless.prod.svc.cluster.local:7000",
    )
    assert cfg.raft_bind == "0.0.0.0:7000"
    assert cfg.timings.dns_cache_time == 5.0


def test_advertised_address_must_be_a_peer():
    with pytest.raises(ConfigError, match="must be one of the peers"):
        load_config({**BASE, "raft_advertise": "127.0.0.1:9999", "insecure": True})


def test_mysql_dsn_parsing():
    cfg = load_config({**BASE, "insecure": True, "mysql_dsn": "mysql://app:p%40ss@db.local:3307/tasks"})
    assert (cfg.mysql.user, cfg.mysql.password, cfg.mysql.host, cfg.mysql.port, cfg.mysql.database) == (
        "app", "p@ss", "db.local", 3307, "tasks")
    with pytest.raises(ConfigError):
        load_config({**BASE, "insecure": True, "mysql_dsn": "postgres://x@y/z"})
