"""The real `taskraft` CLI as a subprocess against a real local cluster: every command, --json, exit codes."""

from __future__ import annotations

import json

import pytest
import requests

from ..helpers import post_task, wait_until
from ..tcp_proxy import RoundRobinProxy
from .run import BOGUS, run

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def urls(cluster):
    return [arg for u in cluster.urls for arg in ("--url", u)]


def test_add_show_set_history_rm_round_trip(cluster, urls):
    r = run(
        "tasks", *urls, "add", "write the docs", "--description", "for the CLI", "--status", "in_progress", "--json"
    )
    assert r.returncode == 0, r.stderr
    task = json.loads(r.stdout)
    assert task["title"] == "write the docs" and task["status"] == "in_progress" and task["version"] == 1
    tid = str(task["id"])
    assert requests.get(f"{cluster.urls[1]}/api/v1/tasks/{tid}", timeout=10).json()["description"] == "for the CLI"

    r = run("tasks", *urls, "add", "human output")
    assert r.returncode == 0 and r.stdout.startswith("created task "), r.stdout + r.stderr

    r = run("tasks", *urls, "show", tid)
    assert r.returncode == 0
    assert "write the docs" in r.stdout and "in_progress" in r.stdout and "version" in r.stdout
    shown = json.loads(run("tasks", *urls, "show", tid, "--json").stdout)
    assert shown == requests.get(f"{cluster.urls[0]}/api/v1/tasks/{tid}", timeout=10).json()

    r = run("tasks", *urls, "set", tid, "--status", "done", "--title", "docs written", "--if-version", "1", "--json")
    assert r.returncode == 0, r.stderr
    changed = json.loads(r.stdout)
    assert changed["status"] == "done" and changed["title"] == "docs written" and changed["version"] == 2
    r = run("tasks", *urls, "set", tid, "--description", "now longer")
    assert r.returncode == 0 and "version 3" in r.stdout, r.stdout + r.stderr
    api = requests.get(f"{cluster.urls[2]}/api/v1/tasks/{tid}", timeout=10).json()
    assert (api["title"], api["status"], api["description"], api["version"]) == (
        "docs written",
        "done",
        "now longer",
        3,
    )

    r = run("tasks", *urls, "history", tid)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["LOG", "INDEX"] and len(lines) == 4  # header + create + 2 updates
    hist = json.loads(run("tasks", *urls, "history", tid, "--json").stdout)
    assert [e["op"] for e in hist["entries"]] == ["create", "update", "update"]
    assert hist["task_id"] == int(tid)

    r = run("tasks", *urls, "rm", tid, "--if-version", "3")
    assert r.returncode == 0 and f"deleted task {tid}" in r.stdout
    assert requests.get(f"{cluster.urls[0]}/api/v1/tasks/{tid}", timeout=10).status_code == 404


def test_list_human_json_and_status_filter(cluster, urls):
    mine = {post_task(cluster.urls[0], f"list-{s}", status=s).json()["id"]: s for s in ("todo", "in_progress", "done")}
    r = run("tasks", *urls, "list", "--json")
    assert r.returncode == 0
    items = json.loads(r.stdout)
    assert isinstance(items, list)
    by_id = {t["id"]: t for t in items}
    assert all(by_id[i]["status"] == s for i, s in mine.items())
    assert [t["id"] for t in items] == sorted(t["id"] for t in items)

    r = run("tasks", *urls, "list", "--status", "done", "--json")
    done = json.loads(r.stdout)
    assert done and all(t["status"] == "done" for t in done)
    assert [i for i, s in mine.items() if s == "done"][0] in {t["id"] for t in done}

    r = run("tasks", *urls, "list", "--limit", "2", "--json")
    assert len(json.loads(r.stdout)) == 2

    r = run("tasks", *urls, "list")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0].split() == ["ID", "STATUS", "VERSION", "TITLE", "UPDATED_AT"]
    assert "list-in_progress" in r.stdout


def test_connection_from_data_dir_and_env(cluster):
    r = run("tasks", "--data-dir", str(cluster.data_dir), "add", "via cluster.json", "--json")
    assert r.returncode == 0, r.stderr
    tid = json.loads(r.stdout)["id"]
    r = run("tasks", "show", str(tid), "--json", env={"TASKRAFT_URL": ",".join([BOGUS] + cluster.urls)})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["title"] == "via cluster.json"
    # connection options are accepted after the subcommand too
    r = run("tasks", "show", str(tid), "--url", cluster.urls[2])
    assert r.returncode == 0 and "via cluster.json" in r.stdout


def test_cluster_status_table_json_and_watch(cluster):
    r = run("cluster", "status", "--url", cluster.urls[0])  # the other nodes come from its member list
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("leader: node-")
    assert lines[1].split() == [
        "NODE",
        "URL",
        "ROLE",
        "TERM",
        "COMMIT",
        "INDEX",
        "APPLIED",
        "INDEX",
        "LAG",
        "CONTACT",
        "REACHABLE",
    ]
    assert len(lines) == 5 and sum(" leader " in line for line in lines[2:]) == 1

    r = run("cluster", "status", "--data-dir", str(cluster.data_dir), "--json")
    assert r.returncode == 0
    rows = json.loads(r.stdout)["nodes"]
    assert [row["node_id"] for row in rows] == ["node-0", "node-1", "node-2"]
    assert all(row["reachable"] for row in rows)
    assert sorted(row["role"] for row in rows) == ["follower", "follower", "leader"]
    for row in rows:
        assert {"term", "commit_index", "last_applied", "lag", "url"} <= row.keys()
        assert row["lag"] >= 0 and row["last_applied"] <= row["commit_index"]

    r = run("cluster", "status", "--url", cluster.urls[1], "--watch", "--interval", "0.3", "--count", "3", "--json")
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 3 and all(len(d["nodes"]) == 3 for d in docs)
    r = run("cluster", "status", "--url", cluster.urls[1], "--watch", "--interval", "0.2", "--count", "2")
    assert r.returncode == 0 and r.stdout.count("leader: ") == 2


def test_cluster_status_through_one_address_shows_every_member(cluster):
    """One URL that is neither node (a round-robin proxy, as a Service or a port-forward would be), and a
    CLI that can reach nothing else: its HTTP proxy goes nowhere except for the proxy's own address."""
    cluster.wait_ready(60)
    with RoundRobinProxy(cluster.urls, host="127.0.0.2") as proxy:
        wait_until(lambda: len(proxy.ready) == 3, 30, message="every node ready behind the proxy")
        only_the_proxy = {"HTTP_PROXY": BOGUS, "http_proxy": BOGUS, "NO_PROXY": "127.0.0.2", "no_proxy": "127.0.0.2"}
        # the nodes' own URLs are out of reach for this CLI...
        r = run("tasks", "--url", cluster.urls[0], "--timeout", "1", "list", env=only_the_proxy)
        assert r.returncode == 3, (r.stdout, r.stderr)
        # ...yet one address shows all three members, each in its own words
        r = run("cluster", "status", "--url", proxy.url, "--json", env=only_the_proxy)
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)["nodes"]
        assert [row["node_id"] for row in rows] == ["node-0", "node-1", "node-2"]
        assert [row["url"] for row in rows] == cluster.urls
        assert all(row["reachable"] and row["membership"] == "voter" for row in rows), rows
        assert sorted(row["role"] for row in rows) == ["follower", "follower", "leader"]
        leader = next(row["node_id"] for row in rows if row["role"] == "leader")
        for row in rows:
            assert row["leader"] == leader and row["term"] >= 1
            assert row["lag"] >= 0 and row["last_applied"] <= row["commit_index"]
            assert row["last_contact_s"] is None if row["node_id"] == leader else row["last_contact_s"] >= 0

        r = run("cluster", "status", "--url", proxy.url, env=only_the_proxy)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == f"leader: {leader}"
        assert [line.split()[0] for line in lines[2:]] == ["node-0", "node-1", "node-2"]
        assert all(line.split()[-1] == "yes" for line in lines[2:]) and len(proxy.chosen) >= 2


def test_exit_code_1_for_usage(cluster, urls):
    cases = [
        (["tasks", "list"], "no node to talk to"),  # no --url, no TASKRAFT_URL, no --data-dir
        (["tasks", *urls, "list", "--status", "someday"], "Invalid value for '--status'"),
        (["tasks", *urls, "set", "1"], "nothing to change"),
        (["tasks", *urls, "show", "abc"], "Invalid value"),
        (["tasks", *urls, "frobnicate"], "No such command"),
        (["tasks", *urls, "add"], "Missing argument"),
        (["tasks", *urls, "add", ""], "400 invalid_request"),  # the API's own validation
        (["tasks", *urls, "add", "x" * 300], "400 invalid_request"),
        (["cluster", "up"], "Missing option '--data-dir'"),  # existing commands: usage errors exit 1 too
        (["tasks", "--data-dir", "/nonexistent-dir", "list"], "cannot read"),
    ]
    for args, message in cases:
        r = run(*args)
        assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
        assert message in r.stderr, (args, r.stderr)
    for args in (["--help"], ["--version"], ["tasks", "--help"], ["cluster", "status", "--help"], ["serve", "--help"]):
        assert run(*args).returncode == 0, args


def test_exit_code_2_for_not_found_and_conflict(cluster, urls):
    # distinct ids: a failed write to a missing task is itself logged in that id's history
    for args in (["show", "999991"], ["history", "999992"], ["rm", "999993"], ["set", "999994", "--status", "done"]):
        r = run("tasks", *urls, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "not_found" in r.stderr

    tid = str(post_task(cluster.urls[0], "contested").json()["id"])
    assert (
        requests.patch(
            f"{cluster.urls[1]}/api/v1/tasks/{tid}", json={"title": "changed elsewhere"}, timeout=10
        ).status_code
        == 200
    )
    r = run("tasks", *urls, "set", tid, "--title", "stale edit", "--if-version", "1")
    assert r.returncode == 2 and "412 precondition_failed" in r.stderr
    r = run("tasks", *urls, "rm", tid, "--if-version", "1")
    assert r.returncode == 2 and "412 precondition_failed" in r.stderr
    api = requests.get(f"{cluster.urls[0]}/api/v1/tasks/{tid}", timeout=10).json()
    assert api["title"] == "changed elsewhere" and api["version"] == 2


def test_exit_code_3_for_bogus_urls():
    r = run("tasks", "--url", BOGUS, "--url", "http://127.0.0.1:2", "--timeout", "2", "list")
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "no node answered" in r.stderr
    r = run("tasks", "--url", BOGUS, "--timeout", "2", "add", "never")
    assert r.returncode == 3
    r = run("cluster", "status", "--url", BOGUS)
    assert r.returncode == 3 and "no node answered" in r.stderr
    assert r.stdout.splitlines()[-1].split()[-1] == "no"  # the table still shows the node, unreachable
