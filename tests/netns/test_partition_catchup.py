"""An isolated leader that kept appending entries nobody committed rejoins and catches up quickly."""

from __future__ import annotations

import threading
import time

import requests

from ..helpers import post_task, wait_converged, wait_until


def test_isolated_leader_with_uncommitted_entries_catches_up_after_heal(netns_cluster):
    c = netns_cluster
    old = c.wait_leader()
    others = [i for i in range(3) if i != old]
    names = [h.name for h in c.hosts]
    c.lab.isolate(names[old], names)
    stop = threading.Event()

    def write_to_isolated(n: int) -> None:  # appended by the old leader, never committed
        session = requests.Session()
        while not stop.is_set():
            try:
                session.post(f"{c.urls[old]}/api/v1/tasks", json={"title": f"lost {n}"}, timeout=6)
            except requests.RequestException:
                pass

    threads = [threading.Thread(target=write_to_isolated, args=(n,), daemon=True) for n in range(8)]
    for t in threads:
        t.start()
    new = c.wait_leader(20, among=others)
    for i in range(200):
        assert post_task(c.urls[others[i % 2]], f"majority {i}").status_code == 201
    stop.set()
    for t in threads:
        t.join(15)
    c.lab.heal()
    healed = time.monotonic()
    target = c.cluster_view(new)["commit_index"]
    wait_until(lambda: (c.cluster_view(old) or {}).get("last_applied", 0) >= target, 30,
               message="the old leader catches up")
    catch_up = time.monotonic() - healed
    print(f"old leader {old}, new leader {new}: caught up in {catch_up:.2f}s")
    assert catch_up < 15
    sums = wait_converged(c, [0, 1, 2], timeout=60)
    assert sums
    titles = {t["title"] for t in requests.get(f"{c.urls[old]}/api/v1/tasks", params={"limit": 500},
                                                  timeout=10).json()["items"]}
    assert {f"majority {i}" for i in range(200)} <= titles
