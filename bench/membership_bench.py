"""How long a scale-up takes: a new node added to a running local 3-node cluster, from the request to a
caught-up voter, after N tasks were written (the new node starts empty and catches up from the log or a
snapshot). Prints figures; asserts nothing.

    .venv/bin/python -m bench.membership_bench --tasks 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from taskraft.client import Client
from taskraft.localcluster.cluster import LocalCluster
from taskraft.localcluster.scaling import change, members, wait_voter


def _fill(url: str, tasks: int, headers: dict) -> None:
    session = requests.Session()
    session.headers.update(headers)

    def one(i: int) -> None:
        session.post(f"{url}/api/v1/tasks", json={"title": f"bench {i}"}, timeout=30).raise_for_status()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(tasks)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=19080)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskraft-membership-bench-") as tmp:
        local = LocalCluster(tmp, nodes=3, port_base=args.port_base)
        try:
            local.start(wait=180)
            local.wait_leader(30)
            client = Client(local.urls[:3], deadline=120, token=local.admin_token)
            seconds = []
            for r in range(args.rounds):
                _fill(local.urls[0], args.tasks, local.auth_headers)
                i = local.add_node()
                address = local.nodes[i].raft_address
                started = time.monotonic()
                change(client, "add", address, 60)
                wait_voter(client, address, 300)
                seconds.append(time.monotonic() - started)
                print(
                    f"round {r + 1}: node-{i} a caught-up voter {seconds[-1]:.2f} s after the request "
                    f"({(r + 1) * args.tasks} tasks in the cluster, {len(members(client))} members)"
                )
            print(
                f"scale-up to a caught-up voter: median {statistics.median(seconds):.2f} s, "
                f"max {max(seconds):.2f} s over {len(seconds)} additions"
            )
        finally:
            local.stop()


if __name__ == "__main__":
    main()
