"""Best-effort pod role label: the leader labels its own pod taskraft.io/role=leader, followers clear it.

The leader Service selects on this label. The Kubernetes API being unreachable never affects
serving or leadership: the labeler just retries (Patroni's most recurring complaint is the opposite).
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

ROLE_LABEL = "taskraft.io/role"


class PodRoleLabeler:
    def __init__(self, node, core_api=None, interval: float = 1.0):
        self._node = node
        self._api = core_api
        self._interval = interval
        self._applied: str | None | object = object()  # unknown at start: always patch once
        self._stop = threading.Event()

    def _core_api(self):
        if self._api is None:
            from kubernetes import client

            from .k8s_api import api_client

            self._api = client.CoreV1Api(api_client())
        return self._api

    def desired(self) -> str | None:
        return "leader" if self._node.raft.status.is_leader else None

    def sync_once(self) -> bool:
        """Patch the label if it differs from what was last applied. Returns True when in sync."""
        want = self.desired()
        if want == self._applied:
            return True
        cfg = self._node.cfg
        try:
            self._core_api().patch_namespaced_pod(
                name=cfg.pod_name or cfg.node_id,
                namespace=cfg.pod_namespace or "default",
                body={"metadata": {"labels": {ROLE_LABEL: want}}},
            )
        except Exception as exc:  # API down, RBAC, anything: keep serving, retry next round
            log.warning("could not set pod label %s=%s: %s", ROLE_LABEL, want, exc)
            return False
        self._applied = want
        return True

    def start(self) -> PodRoleLabeler:
        threading.Thread(target=self._run, name="taskraft-pod-labeler", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sync_once()
