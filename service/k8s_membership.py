"""On Kubernetes, the leader keeps the members equal to the StatefulSet's pods, one change at a time.

`kubectl scale` and `helm upgrade --set replicaCount=N` change only the StatefulSet's replica count,
never the pod template, so no pod restarts. Every few seconds the leader reads that count and:

  - adds the first pod among 0..N-1 that is not a member, once its Raft port answers (the pod runs;
    it starts empty, so it joins as a learner and is promoted once caught up);
  - otherwise removes the highest-numbered member whose ordinal is N or more (a pod that is going,
    or gone, under a scale-down): one at a time, and never below a quorum of reachable voters
    (the leader's check; a refusal is logged and retried).

Voters never remove themselves at shutdown: a deleted pod is not a membership change. The leader
does not remove itself either: a leader whose pod is being scaled away hands leadership off on
SIGTERM, and the next leader removes it. The Kubernetes API being unreachable changes nothing but
this reconciliation, which retries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .consensus.reconfigure import ADD, REMOVE, ChangeRefused, request_change
from .recovery import answers

log = logging.getLogger(__name__)

INTERVAL = 5.0
CHANGE_TIMEOUT = 10.0


def ordinal(address: str) -> int:
    """The StatefulSet ordinal in `<sts>-<i>.<headless>...:port` (-1 if there is none)."""
    _head, dash, tail = address.split(".", 1)[0].rpartition("-")
    return int(tail) if dash and tail.isdigit() else -1


def next_step(
    desired: list[str], members: set[str], self_address: str, probe: Callable[[str], bool]
) -> tuple[str, str] | None:
    """The one change to make next: add the first desired pod that is not a member and answers, else
    remove the highest-numbered member that is not desired (never this node itself)."""
    for address in desired:
        if address not in members and probe(address):
            return ADD, address
    extra = sorted((a for a in members - set(desired) if ordinal(a) >= 0 and a != self_address), key=ordinal)
    return (REMOVE, extra[-1]) if extra else None


class StatefulSetMembership:
    def __init__(
        self, node, apps_api=None, interval: float = INTERVAL, probe: Callable[[str], bool] | None = None
    ) -> None:
        self._node = node
        self._api = apps_api
        self._interval = interval
        self._probe = probe or (lambda address: answers(address, 1.0))
        self._stop = threading.Event()
        self.last_refusal: str | None = None

    def _apps_api(self):
        if self._api is None:
            from kubernetes import client

            from .k8s_api import api_client

            self._api = client.AppsV1Api(api_client())
        return self._api

    def desired(self) -> list[str] | None:
        """The Raft addresses of pods 0..replicas-1 (None: the StatefulSet cannot be read)."""
        cfg = self._node.cfg
        try:
            sts = self._apps_api().read_namespaced_stateful_set(cfg.statefulset, cfg.pod_namespace or "default")
            replicas = int(sts.spec.replicas if sts.spec.replicas is not None else 1)
        except Exception as exc:  # API down, RBAC, anything: retry next round
            log.warning("membership: cannot read StatefulSet %s: %s", cfg.statefulset, exc)
            return None
        _own_name, dot, rest = cfg.raft_advertise.partition(".")  # <sts>-<i>.<headless>.<ns>.svc.<domain>:<port>
        if not dot or replicas < 1:
            return None
        return [f"{cfg.statefulset}-{i}.{rest}" for i in range(replicas)]

    def reconcile_once(self) -> str | None:
        """One step towards the StatefulSet's pods; what was done (None: nothing to do, or not the leader)."""
        raft = self._node.raft
        if not raft.status.is_leader:
            return None
        desired = self.desired()
        if desired is None:
            return None
        status = raft.status
        members = set(status.voters) | set(status.learners)
        step = next_step(desired, members, self._node.cfg.raft_advertise, self._probe)
        if step is None:
            return None
        action, address = step
        try:
            request_change(raft, action, address, CHANGE_TIMEOUT)
        except ChangeRefused as refused:
            if refused.message != self.last_refusal:
                log.warning("membership: %s %s refused: %s", action, address, refused.message)
            self.last_refusal = refused.message
            return None
        self.last_refusal = None
        log.info("membership: %s %s (the StatefulSet has %d replicas)", action, address, len(desired))
        return f"{action} {address}"

    def start(self) -> StatefulSetMembership:
        threading.Thread(target=self._run, name="taskraft-sts-members", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.reconcile_once()
            except Exception:
                log.exception("membership: reconciliation failed; retrying")
