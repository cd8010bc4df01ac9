"""The cluster record: proof, kept outside the nodes, that a cluster has formed, and under which id.

A node that finds its Raft state empty cannot tell from its own disk whether it is new or has lost
its data. The leader writes the record before it proposes the cluster id, so every write a client
was ever told about comes after the record; a node that starts empty while the record exists knows
it may have lost acknowledged entries (see identity.py). Two places hold it:
  - `file:PATH`: a JSON file (the local cluster's cluster.json), key "cluster_id", updated under an
    exclusive lock and replaced atomically, so other writers of the same file keep their keys;
  - `configmap:NAME`: a ConfigMap in the pod's namespace, key "clusterId", owned by the StatefulSet
    (so it goes with the release); the chart maps it into TASKRAFT_CLUSTER_ID for new containers.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from ..durable import write_file_durably

log = logging.getLogger(__name__)

FILE_KEY = "cluster_id"
CONFIGMAP_KEY = "clusterId"


class RecordError(RuntimeError):
    """The record could not be read or written (the caller retries)."""


class ClusterRecord(Protocol):
    def read(self) -> str | None: ...
    def write(self, cluster_id: str) -> None: ...
    def owned(self) -> bool: ...


@contextmanager
def locked_json(path: str | Path) -> Iterator[dict]:
    """The JSON object in `path` (empty if absent), locked against other users of this function;
    what the caller leaves in it is written back durably."""
    path = str(path)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read() or b"{}")
        except FileNotFoundError:
            data = {}
        before = json.dumps(data, sort_keys=True)
        yield data
        if json.dumps(data, sort_keys=True) != before:
            write_file_durably(path, json.dumps(data, indent=2).encode())


class FileRecord:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> str | None:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise RecordError(f"cannot read {self.path}: {exc}") from exc
        return data.get(FILE_KEY) or None

    def write(self, cluster_id: str) -> None:
        try:
            with locked_json(self.path) as data:
                data[FILE_KEY] = cluster_id
        except (OSError, ValueError) as exc:
            raise RecordError(f"cannot write {self.path}: {exc}") from exc

    def owned(self) -> bool:
        return self.read() is not None


class ConfigMapRecord:
    def __init__(self, name: str, namespace: str, owner_statefulset: str | None = None, api_client=None):
        self.name, self.namespace, self.owner = name, namespace, owner_statefulset
        self._api_client = api_client

    def _client(self):
        from kubernetes import client

        from ..k8s_api import api_client

        self._api_client = self._api_client or api_client()
        return client, self._api_client

    def read(self) -> str | None:
        return (self._read_config_map() or {}).get("data", {}).get(CONFIGMAP_KEY) or None

    def _read_config_map(self) -> dict | None:
        try:
            client, api = self._client()
            found = client.CoreV1Api(api).read_namespaced_config_map(self.name, self.namespace)
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise RecordError(f"cannot read ConfigMap {self.name}: {getattr(exc, 'status', '')} {exc}") from exc
        owners = [o.uid for o in (found.metadata.owner_references or [])]
        return {"data": found.data or {}, "owners": owners}

    def write(self, cluster_id: str) -> None:
        """Create the ConfigMap, or patch it to name `cluster_id` and be owned by the StatefulSet of today."""
        try:
            client, api = self._client()
            core = client.CoreV1Api(api)
            owner, labels = self._owner(client, api)
            metadata: dict = {"name": self.name, "labels": {**labels, "app.kubernetes.io/component": "cluster-record"}}
            if owner:
                metadata["ownerReferences"] = [owner]
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {CONFIGMAP_KEY: cluster_id}}
            try:
                core.create_namespaced_config_map(self.namespace, body)
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
                core.patch_namespaced_config_map(
                    self.name, self.namespace, {"metadata": metadata, "data": body["data"]}
                )
        except Exception as exc:
            raise RecordError(f"cannot write ConfigMap {self.name}: {getattr(exc, 'status', '')} {exc}") from exc

    def owned(self) -> bool:
        """Whether the record exists and is owned by the StatefulSet as it is now (a record without an
        owner would outlive the release and keep a reinstall with fresh volumes from forming)."""
        found = self._read_config_map()
        if found is None or not self.owner:
            return found is not None
        client, api = self._client()
        owner, _labels = self._owner(client, api)
        return owner is None or owner["uid"] in found["owners"]

    def _owner(self, client, api) -> tuple[dict | None, dict]:
        """The owner reference to the StatefulSet and its release labels (none if it cannot be read)."""
        if not self.owner:
            return None, {}
        try:
            sts = client.AppsV1Api(api).read_namespaced_stateful_set(self.owner, self.namespace)
        except Exception as exc:  # without an owner the record outlives the release; still a record
            log.warning("cluster record: cannot read StatefulSet %s to own the ConfigMap: %s", self.owner, exc)
            return None, {}
        labels = {
            k: v
            for k, v in (sts.metadata.labels or {}).items()
            if k in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/part-of")
        }
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": self.owner, "uid": sts.metadata.uid}, labels


def open_record(spec: str | None, namespace: str | None = None, statefulset: str | None = None) -> ClusterRecord | None:
    """`file:PATH` or `configmap:NAME` (TASKRAFT_CLUSTER_RECORD); None when no record is kept."""
    if not spec:
        return None
    kind, _, where = spec.partition(":")
    if kind == "file" and where:
        return FileRecord(os.path.abspath(where))
    if kind == "configmap" and where:
        return ConfigMapRecord(where, namespace or "default", statefulset)
    raise ValueError(f"cluster record must be file:PATH or configmap:NAME, got {spec!r}")
