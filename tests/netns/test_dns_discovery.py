"""Peer discovery by StatefulSet DNS names, across separate hosts, including a node that comes back
under a new IP with the same name (as a rescheduled pod does)."""

from __future__ import annotations

import requests

from taskraft.localcluster.netns_cluster import pod_dns_name

from ..helpers import post_task, task_ids, wait_converged, wait_until


def test_nodes_find_each_other_by_dns_name_and_survive_a_new_ip(netns_cluster):
    c = netns_cluster
    view = c.cluster_view(0)
    assert [n["raft_address"] for n in view["nodes"]] == [f"{pod_dns_name(i)}:7000" for i in range(3)]
    assert all(n["reachable"] for n in view["nodes"])
    assert view["node_id"] == "taskraft-0"  # node id is the pod name
    ids = {post_task(c.urls[i % 3], f"before move {i}").json()["id"] for i in range(6)}

    moved = (c.wait_leader() + 1) % 3
    old_ip = c.hosts[moved].ip
    c.kill_node(moved)
    c.nodes[moved].db.kill()
    c.move_node(moved, 77)
    assert c.hosts[moved].ip != old_ip
    c.nodes[moved].db.start()
    c.start_node(moved)
    c.wait_ready(90, nodes=[moved])

    others = [i for i in range(3) if i != moved]
    wait_until(lambda: all(c.cluster_view(i)["nodes"][moved]["reachable"] for i in others), 30,
               message="peers reconnect to the moved node by name")
    created = post_task(c.urls[moved], "after move")
    assert created.status_code == 201
    ids.add(created.json()["id"])
    assert requests.get(f"{c.urls[others[0]]}/api/v1/tasks/{created.json()['id']}", timeout=10).status_code == 200
    wait_converged(c, [0, 1, 2], timeout=60)
    assert ids <= task_ids(c, moved)
