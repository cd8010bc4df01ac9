"""A healthy 3-node cluster: one leader, writes through any node, reads on every node."""

from __future__ import annotations

import time

import requests

from ..helpers import node_db, post_task, wait_converged, wait_until


def test_exactly_one_leader_is_elected(cluster):
    views = [cluster.cluster_view(i) for i in range(3)]
    assert all(v is not None for v in views)
    roles = sorted(v["role"] for v in views)
    assert roles == ["follower", "follower", "leader"]
    assert len({v["leader"] for v in views}) == 1
    assert len({v["term"] for v in views}) == 1
    leader = next(v for v in views if v["role"] == "leader")
    assert all(v["leader"] == leader["raft_address"] for v in views)


def test_writes_to_a_follower_are_readable_on_every_node(cluster):
    leader = cluster.wait_leader()
    follower = (leader + 1) % 3
    r = post_task(cluster.urls[follower], "via follower", description="d")
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["created_by"] == f"node-{follower}"
    assert r.headers["Location"] == f"/api/v1/tasks/{task['id']}"
    for url in cluster.urls:  # default reads are linearizable: no waiting needed
        got = requests.get(f"{url}/api/v1/tasks/{task['id']}", timeout=10)
        assert got.status_code == 200 and got.json() == task
        assert got.headers["ETag"] == '"1"'
    upd = requests.patch(
        f"{cluster.urls[leader]}/api/v1/tasks/{task['id']}",
        json={"status": "done"},
        headers={"If-Match": '"1"'},
        timeout=10,
    )
    assert upd.status_code == 200 and upd.json()["version"] == 2
    other = requests.get(f"{cluster.urls[(leader + 2) % 3]}/api/v1/tasks/{task['id']}", timeout=10)
    assert other.json()["status"] == "done"
    wait_converged(cluster, [0, 1, 2])


def test_local_reads_catch_up_and_list_paginates(cluster):
    ids = [post_task(cluster.urls[i % 3], f"page {i}").json()["id"] for i in range(7)]
    for url in cluster.urls:

        def seen(url=url):
            r = requests.get(f"{url}/api/v1/tasks", params={"consistency": "local", "limit": 500}, timeout=5)
            return set(ids) <= {t["id"] for t in r.json()["items"]}

        wait_until(seen, 10, message="local read sees the writes")
    pages, after = [], None
    while True:
        params = {"limit": 3, **({"after": after} if after else {})}
        body = requests.get(f"{cluster.urls[1]}/api/v1/tasks", params=params, timeout=10).json()
        pages.append([t["id"] for t in body["items"]])
        after = body["next"]
        if after is None:
            break
    flat = [i for p in pages for i in p]
    assert flat == sorted(flat) and set(ids) <= set(flat)
    assert all(len(p) <= 3 for p in pages)


def test_history_lists_the_raft_log_of_a_task(cluster):
    url = cluster.urls[2]
    task = post_task(url, "with history").json()
    requests.patch(f"{url}/api/v1/tasks/{task['id']}", json={"title": "renamed"}, timeout=10)
    requests.delete(f"{url}/api/v1/tasks/{task['id']}", timeout=10)
    body = requests.get(f"{cluster.urls[0]}/api/v1/tasks/{task['id']}/history", timeout=10).json()
    entries = body["entries"]
    assert [e["op"] for e in entries] == ["create", "update", "delete"]
    assert [e["log_index"] for e in entries] == sorted(e["log_index"] for e in entries)
    assert all(e["term"] >= 1 for e in entries)


def test_health_readiness_and_metrics(cluster):
    for url in cluster.urls:
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        ready = requests.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["ready"] is True
    text = requests.get(f"{cluster.urls[0]}/metrics", timeout=5).text
    for name in (
        "raft_term ",
        "raft_commit_index ",
        "raft_last_applied ",
        'raft_state{state="follower"}',
        "raft_is_leader ",
        "raft_leader_changes_total ",
        "raft_peers_connected 2.0",
        "raft_apply_duration_seconds_bucket",
        "http_request_duration_seconds_bucket",
        'taskraft_tasks{status="todo"}',
    ):
        assert name in text, name


def test_a_burst_of_writes_causes_no_election(cluster):
    import concurrent.futures

    before = [cluster.cluster_view(i) for i in range(3)]

    def write(n):
        return post_task(cluster.urls[n % 3], f"burst {n}", timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(48) as pool:
        codes = list(pool.map(write, range(600)))
    assert codes.count(201) == 600
    after = [cluster.cluster_view(i) for i in range(3)]
    assert [v["term"] for v in after] == [v["term"] for v in before]
    # group commit: concurrent writes shared log entries, yet each kept its own raft_log row
    conn = node_db(cluster, 0)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*), COUNT(DISTINCT log_index), MAX(op_seq) FROM raft_log"
            " WHERE payload LIKE '%%burst %%' AND op = 'create'"
        )
        rows, entries, max_seq = cur.fetchone()
    conn.close()
    assert rows == 600 and max_seq > 0 and entries < rows
    assert [v["leader_changes"] for v in after] == [v["leader_changes"] for v in before]
    assert len({v["leader"] for v in after}) == 1


def test_a_node_with_the_wrong_raft_secret_cannot_join(cluster, tmp_path):
    victim = (cluster.wait_leader() + 1) % 3
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("not-the-cluster-secret")
    cluster.kill_node(victim)
    cluster.start_node(victim, env={"TASKRAFT_RAFT_SECRET_FILE": str(wrong)})
    try:
        time.sleep(4)  # several election timeouts
        view = cluster.cluster_view(victim)
        assert view is not None and view["leader"] is None and view["role"] != "leader"
        assert requests.get(f"{cluster.urls[victim]}/readyz", timeout=5).status_code == 503
        others = [i for i in range(3) if i != victim]
        assert all(cluster.cluster_view(i)["nodes"][victim]["reachable"] is False for i in others)
        assert post_task(cluster.urls[others[0]], "still writable").status_code == 201
    finally:
        cluster.kill_node(victim)
        cluster.start_node(victim)
        cluster.wait_ready(60, nodes=[victim])
