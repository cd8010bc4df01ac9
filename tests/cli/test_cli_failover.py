"""The CLI during a leader kill, and with every node stopped (a fresh cluster of its own)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from ..conftest import dump_logs, start_cluster
from .run import run

pytestmark = pytest.mark.cluster


def test_cli_through_leader_kill_then_all_nodes_stopped(tmp_path):
    c = start_cluster(tmp_path)
    try:
        leader = c.wait_leader(30)
        # the dead leader first: the client must fail over to the others
        order = [c.urls[leader]] + [u for i, u in enumerate(c.urls) if i != leader]
        urls = [arg for u in order for arg in ("--url", u)]
        assert run("tasks", *urls, "add", "before the kill").returncode == 0

        c.kill_node(leader)
        started = time.monotonic()
        r = run("tasks", *urls, "add", "during the failover", "--json")
        took = time.monotonic() - started
        assert r.returncode == 0, (r.stdout, r.stderr)
        task = json.loads(r.stdout)
        survivors = [i for i in range(3) if i != leader]
        new_leader = c.wait_leader(30, among=survivors)
        assert new_leader != leader
        for i in survivors:
            got = requests.get(f"{c.urls[i]}/api/v1/tasks/{task['id']}", timeout=10)
            assert got.status_code == 200 and got.json()["title"] == "during the failover"
        # applied exactly once although the first attempts failed
        titles = [t["title"] for t in json.loads(run("tasks", *urls, "list", "--json").stdout)]
        assert titles.count("during the failover") == 1 and "before the kill" in titles
        print(f"tasks add during a leader kill took {took:.2f}s")

        r = run("cluster", "status", "--data-dir", str(c.data_dir), "--json")
        assert r.returncode == 0, r.stderr
        rows = {row["node_id"]: row for row in json.loads(r.stdout)["nodes"]}
        assert rows[f"node-{leader}"]["reachable"] is False and rows[f"node-{leader}"]["role"] is None
        assert rows[f"node-{new_leader}"]["role"] == "leader"
        r = run("cluster", "status", "--data-dir", str(c.data_dir))
        dead_line = next(line for line in r.stdout.splitlines() if line.startswith(f"node-{leader} "))
        assert dead_line.split()[-1] == "no"

        # every node stopped: exit 3 for tasks and for cluster status
        c.stop()
        r = run("tasks", "--data-dir", str(c.data_dir), "--timeout", "1", "list")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "no node answered" in r.stderr
        r = run("tasks", *urls, "--timeout", "1", "add", "nobody home")
        assert r.returncode == 3
        r = run("cluster", "status", "--data-dir", str(c.data_dir))
        assert r.returncode == 3
        assert all(line.split()[-1] == "no" for line in r.stdout.splitlines()[2:])
    except BaseException:
        dump_logs(c)
        raise
    finally:
        c.stop()
