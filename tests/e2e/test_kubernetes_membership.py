"""End-to-end membership on a real Kubernetes cluster: scale 3 -> 5 -> 3 and a rolling update, under writes.

Each runs a writer through the Service and samples the leader label throughout: at most one pod is
labelled leader at any time, every acknowledged write is readable at the end, and the members follow
the StatefulSet (`kubectl scale` restarts no existing pod). Skipped, like the failover suite, without
a reachable cluster and helm.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

from .test_kubernetes_failover import (  # noqa: F401  (release_fixture: the module-scoped `release`, installed here too)
    CHART,
    HELM,
    RELEASE,
    answered,
    apps,
    helm,
    is_ready,
    leader_pods,
    release_fixture,
    server_pods,
    wait_for,
)


class Writes:
    """A writer through the Service, and a sampler of the leader label, until stopped."""

    def __init__(self, http, ns: str):
        self.http, self.ns = http, ns
        self.acked: dict[int, str] = {}
        self.most_leaders = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._write, self._sample)]

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def _write(self):
        n = 0
        while not self._stop.is_set():
            status, task = self.http.create(f"membership write {n}")
            if status == 201:
                self.acked[task["id"]] = task["title"]
                n += 1
            else:
                time.sleep(0.2)

    def _sample(self):
        while not self._stop.is_set():
            self.most_leaders = max(self.most_leaders, len(leader_pods(self.ns)))
            time.sleep(0.5)


def _configuration(http) -> dict:
    status, view = http.call("GET", RELEASE, "/api/v1/cluster")
    return view["configuration"] if status == 200 else {}


def _scale(ns: str, replicas: int) -> None:
    apps.patch_namespaced_stateful_set(RELEASE, ns, {"spec": {"replicas": replicas}})  # kubectl scale


def _all_there(http, acked: dict[int, str]) -> None:
    for task_id, title in acked.items():
        status, got = wait_for(answered(200, lambda t=task_id: http.get(t)), 60, f"task {task_id}")
        assert got["title"] == title


def test_scale_3_to_5_to_3_under_writes(release):
    ns, http = release["ns"], release["http"]
    before = {p.metadata.name: p.metadata.uid for p in server_pods(ns)}
    with Writes(http, ns) as writes:
        _scale(ns, 5)
        wait_for(lambda: len(_configuration(http).get("voters", [])) == 5, 600, "five voters", interval=3)
        wait_for(lambda: len([p for p in server_pods(ns) if is_ready(p)]) == 5, 600, "five ready pods", interval=3)
        kept = {p.metadata.name: p.metadata.uid for p in server_pods(ns) if p.metadata.name in before}
        assert kept == before, "scaling up restarted an existing pod"
        _scale(ns, 3)
        wait_for(lambda: len(_configuration(http).get("voters", [])) == 3, 600, "three voters", interval=3)
        wait_for(lambda: len(server_pods(ns)) == 3, 600, "pods 3 and 4 gone", interval=3)
    assert writes.acked and writes.most_leaders <= 1, f"{writes.most_leaders} pods were labelled leader at once"
    _all_there(http, writes.acked)
    release["tasks"].update(writes.acked)


def test_rolling_update_under_writes(release):
    ns, http = release["ns"], release["http"]
    before = {p.metadata.name: p.metadata.uid for p in server_pods(ns)}
    with Writes(http, ns) as writes:
        # A new image tag (TASKRAFT_E2E_NEXT_IMAGE, loaded by the workflow), else a new pod annotation: either
        # makes a new pod template, and every pod is replaced, highest ordinal first.
        nxt = os.environ.get("TASKRAFT_E2E_NEXT_IMAGE")
        change = (
            ["--set", f"image.tag={nxt.rpartition(':')[2]}"]
            if nxt
            else ["--set-string", f"podAnnotations.taskraft-e2e-rollout={uuid.uuid4().hex[:8]}"]
        )
        helm("upgrade", RELEASE, str(CHART), "-n", ns, "--reuse-values", *change, "--wait", "--timeout", "15m")
        wait_for(
            lambda: (
                all(p.metadata.uid != before.get(p.metadata.name) and is_ready(p) for p in server_pods(ns))
                and len(server_pods(ns)) == 3
            ),
            900,
            "every pod replaced and ready",
            interval=3,
        )
    assert writes.acked and writes.most_leaders <= 1, f"{writes.most_leaders} pods were labelled leader at once"
    assert len(_configuration(http).get("voters", [])) == 3
    _all_there(http, {**release["tasks"], **writes.acked})


def test_a_shrink_below_a_quorum_in_one_step_is_refused(release):
    """3 -> 1 through helm: the chart looks the running StatefulSet up and refuses, naming the way."""
    proc = subprocess.run(
        [HELM, "upgrade", RELEASE, str(CHART), "-n", release["ns"], "--reuse-values", "--set", "replicaCount=1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0 and "fewer than a quorum" in proc.stderr, proc.stdout + proc.stderr
    assert apps.read_namespaced_stateful_set(RELEASE, release["ns"]).spec.replicas == 3
