"""A LocalCluster whose nodes are separate hosts: one network namespace per node, found by DNS name.

Every node runs, with its own MariaDB on its own loopback, inside its namespace, and reaches its
peers by StatefulSet-style names (`taskraft-<i>.taskraft-headless.<ns>.svc.cluster.local`) served
by the hosts files of `NetnsLab`. Nodes get their peers exactly as on Kubernetes: from
TASKRAFT_STATEFULSET, TASKRAFT_REPLICAS, TASKRAFT_HEADLESS_SERVICE, TASKRAFT_NAMESPACE and POD_NAME.
Drive it from a thread inside the client host (`InNamespace(cluster.client)`).
"""

from __future__ import annotations

from pathlib import Path

from .cluster import LocalCluster, LocalNode
from .mysqld import MySQLServer
from .netns import Host, NetnsLab

STATEFULSET = "taskraft"
HEADLESS = "taskraft-headless"
K8S_NAMESPACE = "faults"
HTTP_PORT, RAFT_PORT, DB_PORT = 8080, 7000, 3306


def pod_dns_name(i: int) -> str:
    return f"{STATEFULSET}-{i}.{HEADLESS}.{K8S_NAMESPACE}.svc.cluster.local"


class NetnsCluster(LocalCluster):
    def __init__(self, data_dir, lab: NetnsLab, nodes: int = 3, extra_env: dict | None = None):
        self.lab = lab
        self.hosts: list[Host] = []
        self.client = lab.add_host("client", 200)
        super().__init__(data_dir, nodes=nodes, port_base=HTTP_PORT, extra_env=extra_env)

    def _new_node(self, i: int) -> LocalNode:
        """Pod i: a host of its own (made now if new, as a scaled-up StatefulSet makes a pod), found by DNS name."""
        while len(self.hosts) <= i:
            j = len(self.hosts)
            self.hosts.append(self.lab.add_host(f"{STATEFULSET}-{j}", 10 + j, [pod_dns_name(j)]))
        h = self.hosts[i]
        return LocalNode(
            index=i,
            node_id=f"{STATEFULSET}-{i}",
            http_port=HTTP_PORT,
            raft_port=RAFT_PORT,
            db=MySQLServer(self.data_dir / f"node-{i}" / "mysql", DB_PORT, self._binary, prefix=tuple(h.prefix)),
            home=self.data_dir / f"node-{i}",
            host=h.ip,
            raft_host=pod_dns_name(i),
            bind_host="0.0.0.0",
            prefix=tuple(h.prefix),
        )

    def node_env(self, i: int) -> dict:
        env = super().node_env(i)
        for key in ("TASKRAFT_PEERS", "TASKRAFT_RAFT_ADVERTISE", "TASKRAFT_NODE_ID"):
            env.pop(key, None)
        env.update(
            {
                "POD_NAME": self.nodes[i].node_id,
                "TASKRAFT_STATEFULSET": STATEFULSET,
                "TASKRAFT_REPLICAS": str(len(self.nodes)),
                "TASKRAFT_HEADLESS_SERVICE": HEADLESS,
                "TASKRAFT_NAMESPACE": K8S_NAMESPACE,
                "TASKRAFT_RAFT_PORT": str(RAFT_PORT),
                **self.extra_env,
            }
        )
        return env

    def move_node(self, i: int, last_octet: int) -> None:
        """Re-address node i's host (like a pod rescheduled with a new IP); its DNS name stays."""
        host = self.lab.set_ip(self.hosts[i].name, last_octet)
        self.nodes[i].host = host.ip

    def node_dir(self, i: int) -> Path:
        return self.nodes[i].home
