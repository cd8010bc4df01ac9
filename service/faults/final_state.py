"""The fault suite's last look at the cluster: each node's final state, read straight from its database."""

from __future__ import annotations

import json

import pymysql
from pymysql.connections import Connection

from ..localcluster.netns_cluster import NetnsCluster
from ..state import queries
from ..state.rows import TASK_COLUMNS, task_from_row


def _connect(cluster: NetnsCluster, i: int) -> Connection:
    return pymysql.connect(
        unix_socket=str(cluster.nodes[i].db.socket),
        user="taskraft",
        password=cluster.secrets["mysql_password"],
        database="taskraft",
        autocommit=True,
        connect_timeout=5,
    )


def read_final_state(cluster: NetnsCluster, anomalies: list[dict]) -> dict:
    """The final state of every node, straight from its database: tasks, `raft_log` rows with their
    request ids, a checksum per table, `raft_meta.applied_index`. A node that cannot be read is an anomaly."""
    out: dict[str, dict] = {"tasks": {}, "raft_log": {}, "checksums": {}, "applied_index": {}}
    for i, node in enumerate(cluster.nodes):
        name = node.node_id
        try:
            conn = _connect(cluster, i)
        except pymysql.MySQLError as exc:
            anomalies.append({"kind": "final_state_unreadable", "node": name, "error": str(exc)})
            continue
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT {TASK_COLUMNS} FROM tasks ORDER BY task_id")
                out["tasks"][name] = {t["id"]: t for t in map(task_from_row, cur.fetchall())}
                cur.execute(
                    "SELECT log_index, op_seq, op, task_id, request_id, outcome, payload FROM raft_log "
                    "ORDER BY log_index, op_seq"
                )
                rows = []
                for log_index, op_seq, op, task_id, request_id, outcome, payload in cur.fetchall():
                    try:
                        payload = json.loads(payload) if isinstance(payload, (str, bytes)) else payload
                    except ValueError:
                        pass
                    rows.append(
                        {
                            "log_index": log_index,
                            "op_seq": op_seq,
                            "op": op,
                            "task_id": task_id,
                            "request_id": request_id,
                            "outcome": outcome,
                            "payload": payload,
                        }
                    )
                out["raft_log"][name] = rows
                cur.execute("SELECT applied_index FROM raft_meta WHERE id = 1")
                row = cur.fetchone()
                out["applied_index"][name] = int(row[0]) if row else None
            out["checksums"][name] = queries.table_checksums(conn)
        finally:
            conn.close()
    return out
