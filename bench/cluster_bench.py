"""Closed-loop load against a fresh local cluster; prints a table of figures (never asserts them)."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid

import requests

from taskraft.localcluster.cluster import LocalCluster
from tests.helpers import free_port_base


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def closed_loop(urls: list[str], clients: int, seconds: float, make_request) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(c: int) -> None:
        session = requests.Session()
        n = 0
        while time.monotonic() < stop:
            n += 1
            started = time.perf_counter()
            try:
                ok = make_request(session, urls[(c + n) % len(urls)], c, n)
            except requests.RequestException:
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.monotonic() - began
    return {
        "clients": clients,
        "ops_per_s": len(latencies) / duration,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors[0],
    }


def write(session, url, c, n) -> bool:
    r = session.post(f"{url}/api/v1/tasks", json={"title": f"bench {c}-{n}", "description": "x" * 60}, timeout=10)
    return r.status_code == 201


def reader(consistency: str):
    def read(session, url, c, n) -> bool:
        r = session.get(f"{url}/api/v1/tasks/{1 + (c * 7 + n) % 50}", params={"consistency": consistency}, timeout=10)
        return r.status_code == 200

    return read


def failover_window(cluster: LocalCluster, clients: int = 4) -> float:
    """SIGKILL the leader under write load; seconds from the kill to the first acknowledged write after it."""
    leader = cluster.wait_leader()
    survivors = [cluster.urls[i] for i in range(len(cluster.nodes)) if i != leader]
    first_ack = []
    stop = threading.Event()
    killed_at = [None]

    def worker(c: int) -> None:
        session = requests.Session()
        while not stop.is_set():
            key = uuid.uuid4().hex
            for attempt in range(200):
                try:
                    r = session.post(f"{survivors[(c + attempt) % len(survivors)]}/api/v1/tasks",
                                     json={"title": "failover"}, headers={"Idempotency-Key": key}, timeout=5)
                    if r.status_code == 201:
                        if killed_at[0] is not None and not first_ack:
                            first_ack.append(time.monotonic())
                        break
                except requests.RequestException:
                    pass
                if stop.is_set():
                    return

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    killed_at[0] = time.monotonic()
    cluster.kill_node(leader)
    deadline = time.monotonic() + 30
    while not first_ack and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    cluster.start_node(leader)
    cluster.wait_ready(60)
    return (first_ack[0] - killed_at[0]) if first_ack else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (about 30 s in all)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    seconds = 3 if args.quick else 10
    rows = []
    with tempfile.TemporaryDirectory(prefix="taskraft-bench-") as tmp:
        cluster = LocalCluster(tmp, nodes=3, port_base=free_port_base(3))
        cluster.start(wait=180)
        cluster.wait_leader(30)
        try:
            for clients in (1, 16) if args.quick else (1, 16, 64):
                rows.append({"figure": "writes", **closed_loop(cluster.urls, clients, seconds, write)})
            for consistency in ("linearizable", "local"):
                rows.append({"figure": f"reads ({consistency})", **closed_loop(cluster.urls, 16, seconds,
                                                                              reader(consistency))})
            rounds = 1 if args.quick else 3
            windows = [failover_window(cluster) for _ in range(rounds)]
            rows.append({"figure": "failover after SIGKILL (s)", "clients": 4, "ops_per_s": None,
                         "p50_ms": statistics.median(windows) * 1000, "p99_ms": max(windows) * 1000,
                         "errors": 0, "rounds": rounds})
        finally:
            cluster.stop()
    print(f"{'figure':<28}{'clients':>8}{'ops/s':>10}{'p50 ms':>10}{'p99/max ms':>12}{'errors':>8}")
    for r in rows:
        ops = f"{r['ops_per_s']:.0f}" if r["ops_per_s"] is not None else "-"
        print(f"{r['figure']:<28}{r['clients']:>8}{ops:>10}{r['p50_ms']:>10.1f}{r['p99_ms']:>12.1f}{r['errors']:>8}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
