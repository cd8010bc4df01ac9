"""Exactly-once: each request is applied once.

Input: `raft_logs` = {node: [row]}, row = {log_index, request_id, op, task_id} plus, when available,
`op_seq`, `outcome` (created/updated/deleted/not_found/...) and `payload` (the op's args).
Checks, per node:
  - no request id appears in two rows;
  - each idempotency key (request id "key:<key>") has at most one row that changed state
    (outcome created/updated/deleted; rows without an outcome count as changes);
  - no create title was applied by two rows (titles are unique per logical create, so two rows mean
    a retried create was applied twice under different request ids).
Across nodes: a request id sits at the same (log_index, op_seq) everywhere.
With `history`, the stats count the keys clients actually retried (attempts > 1) and how many were
applied; with `final_states` ({node: {task_id: task}}), two tasks bearing one create's title are a
duplicate create too.
"""

from __future__ import annotations

import json
from collections import defaultdict

from ..history import as_ops
from .result import Result, make

NAME = "exactly_once"
CHANGED = ("created", "updated", "deleted")
KEY_PREFIX = "key:"


def _key(request_id: str) -> str | None:
    return request_id[len(KEY_PREFIX):] if isinstance(request_id, str) and request_id.startswith(KEY_PREFIX) else None


def _payload(row) -> dict:
    payload = row.get("payload") or {}
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except ValueError:
            return {}
    return payload if isinstance(payload, dict) else {}


def check(raft_logs: dict, *, history=None, final_states: dict | None = None) -> Result:
    violations = []
    where: dict[str, dict] = defaultdict(dict)  # request id -> node -> position
    rows_total = 0
    for node, rows in sorted(raft_logs.items()):
        by_rid, changes_by_key, creates_by_title = defaultdict(list), defaultdict(list), defaultdict(list)
        for row in rows:
            rows_total += 1
            rid, pos = row["request_id"], (row["log_index"], row.get("op_seq", 0))
            by_rid[rid].append(pos)
            where[rid].setdefault(node, pos)
            if row.get("outcome", "created" if row.get("op") == "create" else "updated") in CHANGED:
                if _key(rid) is not None:
                    changes_by_key[_key(rid)].append(pos)
                title = _payload(row).get("title")
                if row.get("op") == "create" and title is not None:
                    creates_by_title[title].append(pos)
        for rid, positions in sorted(by_rid.items()):
            if len(positions) > 1:
                violations.append({"kind": "duplicate_request_id", "node": node, "request_id": rid, "positions": positions,
                                   "explanation": f"node {node}: request {rid} appears at log positions {positions}"})
        for key, positions in sorted(changes_by_key.items()):
            if len(positions) > 1:
                violations.append({"kind": "key_applied_twice", "node": node, "key": key, "positions": positions,
                                   "explanation": f"node {node}: idempotency key {key} changed state {len(positions)} times"})
        for title, positions in sorted(creates_by_title.items()):
            if len(positions) > 1:
                violations.append({"kind": "create_applied_twice", "node": node, "title": title, "positions": positions,
                                   "explanation": f"node {node}: create {title!r} applied at {positions}"})
    for rid, nodes in sorted(where.items()):
        if len(set(nodes.values())) > 1:
            violations.append({"kind": "request_position_differs", "request_id": rid, "positions": nodes,
                               "explanation": f"request {rid} applied at different positions: {nodes}"})

    for node, tasks in sorted((final_states or {}).items()):
        ids_by_title = defaultdict(list)
        for tid, task in (tasks or {}).items():
            ids_by_title[task.get("title")].append(int(tid))
        titles = {o.title for o in as_ops(history)} if history is not None else set(ids_by_title)
        for title, ids in sorted(ids_by_title.items(), key=lambda kv: str(kv[0])):
            if len(ids) > 1 and title in titles:
                violations.append({"kind": "create_applied_twice", "node": node, "title": title, "task_ids": sorted(ids),
                                   "explanation": f"node {node}: tasks {sorted(ids)} share the create title {title!r}"})

    stats = {"nodes": len(raft_logs), "rows": rows_total, "request_ids": len(where)}
    if history is not None:
        retried = {o.key for o in as_ops(history) if o.key and o.attempts > 1}
        stats["retried_keys"] = len(retried)
        stats["retried_keys_applied"] = sum(1 for k in retried if KEY_PREFIX + k in where)
    stats["violations"] = len(violations)
    return make(NAME, violations, stats)
