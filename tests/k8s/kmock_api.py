"""A Kubernetes API emulator (kmock) on a local port, run on its own asyncio thread, with a kubeconfig."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import kmock

PODS = kmock.resource("", "v1", "pods")


class EmulatedKubernetes:
    def __init__(self, namespace: str, pods: list[str]):
        self.namespace = namespace
        self.pods = pods
        self.url = ""
        self._emulator = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            for pod in self.pods:
                emulator.objects[PODS, self.namespace, pod] = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": self.namespace, "labels": {"app": "taskraft"}},
                }
            self._emulator = emulator
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.05)

    def start(self) -> "EmulatedKubernetes":
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("kmock did not start")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: emulated, cluster: {{server: '{self.url}'}}}}]\n"
            "users: [{name: taskraft, user: {token: test}}]\n"
            "contexts: [{name: emulated, context: {cluster: emulated, user: taskraft}}]\n"
            "current-context: emulated\n"
        )
        return path

    def labels(self) -> dict[str, dict]:
        """Pod name -> labels, read through the real Kubernetes client."""
        from kubernetes import client

        conf = client.Configuration()
        conf.host = self.url
        api = client.CoreV1Api(client.ApiClient(conf))
        return {p: (api.read_namespaced_pod(p, self.namespace).metadata.labels or {}) for p in self.pods}
