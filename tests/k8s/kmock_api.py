"""A Kubernetes API emulator (kmock) on a local port, run on its own asyncio thread, with a kubeconfig.

It serves pods (the leader pod label), and ConfigMaps and StatefulSets (the cluster record, owned by the
StatefulSet): objects are created, read, patched and deleted as JSON, and a create of an existing name
answers 409 as the real API server does. The StatefulSet is seeded with a uid, as the real one has.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path

import kmock

PODS = kmock.resource("", "v1", "pods")
CONFIGMAPS = kmock.resource("", "v1", "configmaps")
STATEFULSETS = kmock.resource("apps", "v1", "statefulsets")


class EmulatedKubernetes:
    def __init__(self, namespace: str, pods: list[str], statefulset: str | None = None, *, host=None,
                 replicas: int = 3):
        """`host`: a NetnsLab host to serve from (on all its addresses), for nodes in network namespaces."""
        self.namespace = namespace
        self.pods = pods
        self.statefulset = statefulset
        self.host = host
        self.replicas = replicas
        self.statefulset_uid = str(uuid.uuid4())
        self.url = ""
        self._emulator = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if self.host is None:
            asyncio.run(self._serve())
            return
        from taskraft.localcluster.netns import InNamespace

        with InNamespace(self.host):  # this thread, and the server it runs, in the host's namespace
            asyncio.run(self._serve())

    async def _serve(self) -> None:
        bind = "0.0.0.0" if self.host is not None else "127.0.0.1"
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator, host=bind) as server:
            emulator.resources[PODS] = kmock.ResourceInfo(kind="Pod", singular="pod", namespaced=True)
            emulator.resources[CONFIGMAPS] = kmock.ResourceInfo(kind="ConfigMap", singular="configmap", namespaced=True)
            emulator.resources[STATEFULSETS] = kmock.ResourceInfo(kind="StatefulSet", singular="statefulset",
                                                                  namespaced=True)
            for pod in self.pods:
                emulator.objects[PODS, self.namespace, pod] = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": self.namespace, "labels": {"app": "taskraft"}},
                }
            if self.statefulset:
                labels = {"app": "taskraft"}
                emulator.objects[STATEFULSETS, self.namespace, self.statefulset] = {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": {"name": self.statefulset, "namespace": self.namespace, "uid": self.statefulset_uid},
                    "spec": {"replicas": self.replicas, "serviceName": f"{self.statefulset}-headless",
                             "selector": {"matchLabels": labels},
                             "template": {"metadata": {"labels": labels},
                                          "spec": {"containers": [{"name": "taskraft", "image": "taskraft"}]}}},
                }
            self._emulator = emulator
            self.url = str(server.url).rstrip("/")
            if self.host is not None:
                self.url = f"http://{self.host.ip}:{server.port}"
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.05)

    def start(self) -> EmulatedKubernetes:
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

    def api_client(self):
        """A real `kubernetes` ApiClient for the emulator."""
        from kubernetes import client

        conf = client.Configuration()
        conf.host = self.url
        return client.ApiClient(conf)

    def labels(self) -> dict[str, dict]:
        """Pod name -> labels, read through the real Kubernetes client."""
        from kubernetes import client

        api = client.CoreV1Api(self.api_client())
        return {p: (api.read_namespaced_pod(p, self.namespace).metadata.labels or {}) for p in self.pods}

    def config_map(self, name: str):
        """The ConfigMap (a V1ConfigMap) read through the real Kubernetes client, or None if there is none."""
        from kubernetes import client

        try:
            return client.CoreV1Api(self.api_client()).read_namespaced_config_map(name, self.namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete_config_map(self, name: str) -> None:
        from kubernetes import client

        client.CoreV1Api(self.api_client()).delete_namespaced_config_map(name, self.namespace)
