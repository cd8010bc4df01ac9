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
With `history`: every acknowledged (ok) write with an idempotency key must have been applied once on
every node: its key has a row that changed state (else `acked_key_not_applied`, or
`acked_key_not_changed` when the row records no change, e.g. not_found, while the client was told
it succeeded). The stats count the acknowledged keys, the keys clients actually retried
(attempts > 1) and how many of those were applied. With `final_states` ({node: {task_id: task}}),
two tasks bearing one create's title are a duplicate create too.
"""

from __future__ import annotations

import json
from collections import defaultdict

from ..history import OK, WRITES, as_ops
from .result import Result, make

NAME = "exactly_once"
CHANGED = ("created", "updated", "deleted")
KEY_PREFIX = "key:"


def _key(request_id: str) -> str | None:
    return request_id[len(KEY_PREFIX) :] if isinstance(request_id, str) and request_id.startswith(KEY_PREFIX) else None


def row_payload(row) -> dict:
    payload = row.get("payload") or {}
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except ValueError:
            return {}
    return payload if isinstance(payload, dict) else {}


def _changed(row) -> bool:
    return row.get("outcome", "created" if row.get("op") == "create" else "updated") in CHANGED


def _unapplied_acks(raft_logs: dict, acked: list) -> list[dict]:
    """An ok write's key must name a row that changed state on every node."""
    out = []
    for node, rows in sorted(raft_logs.items()):
        by_rid = {row["request_id"]: row for row in rows}
        for op in acked:
            row = by_rid.get(KEY_PREFIX + op.key)
            if row is None:
                out.append(
                    {
                        "kind": "acked_key_not_applied",
                        "node": node,
                        "key": op.key,
                        "op": op.short(),
                        "explanation": f"node {node}: acknowledged {op.f} {op.short()} (key {op.key}) has no "
                        f"raft_log row: it was never applied",
                    }
                )
            elif not _changed(row):
                out.append(
                    {
                        "kind": "acked_key_not_changed",
                        "node": node,
                        "key": op.key,
                        "op": op.short(),
                        "position": (row["log_index"], row.get("op_seq", 0)),
                        "explanation": f"node {node}: acknowledged {op.f} {op.short()} (key {op.key}) was applied "
                        f"as {row.get('op')} {row.get('outcome')}, which changed nothing",
                    }
                )
    return out


def check(raft_logs: dict, *, history=None, final_states: dict | None = None) -> Result:
    violations = []
    ops = as_ops(history) if history is not None else []
    where: dict[str, dict] = defaultdict(dict)  # request id -> node -> position
    rows_total = 0
    for node, rows in sorted(raft_logs.items()):
        by_rid, changes_by_key, creates_by_title = defaultdict(list), defaultdict(list), defaultdict(list)
        for row in rows:
            rows_total += 1
            rid, pos = row["request_id"], (row["log_index"], row.get("op_seq", 0))
            by_rid[rid].append(pos)
            where[rid].setdefault(node, pos)
            if _changed(row):
                if _key(rid) is not None:
                    changes_by_key[_key(rid)].append(pos)
                title = row_payload(row).get("title")
                if row.get("op") == "create" and title is not None:
                    creates_by_title[title].append(pos)
        for rid, positions in sorted(by_rid.items()):
            if len(positions) > 1:
                violations.append(
                    {
                        "kind": "duplicate_request_id",
                        "node": node,
                        "request_id": rid,
                        "positions": positions,
                        "explanation": f"node {node}: request {rid} appears at log positions {positions}",
                    }
                )
        for key, positions in sorted(changes_by_key.items()):
            if len(positions) > 1:
                violations.append(
                    {
                        "kind": "key_applied_twice",
                        "node": node,
                        "key": key,
                        "positions": positions,
                        "explanation": f"node {node}: idempotency key {key} changed state {len(positions)} times",
                    }
                )
        for title, positions in sorted(creates_by_title.items()):
            if len(positions) > 1:
                violations.append(
                    {
                        "kind": "create_applied_twice",
                        "node": node,
                        "title": title,
                        "positions": positions,
                        "explanation": f"node {node}: create {title!r} applied at {positions}",
                    }
                )
    for rid, nodes in sorted(where.items()):
        if len(set(nodes.values())) > 1:
            violations.append(
                {
                    "kind": "request_position_differs",
                    "request_id": rid,
                    "positions": nodes,
                    "explanation": f"request {rid} applied at different positions: {nodes}",
                }
            )

    for node, tasks in sorted((final_states or {}).items()):
        ids_by_title = defaultdict(list)
        for tid, task in (tasks or {}).items():
            ids_by_title[task.get("title")].append(int(tid))
        titles = {o.title for o in ops} if history is not None else set(ids_by_title)
        for title, ids in sorted(ids_by_title.items(), key=lambda kv: str(kv[0])):
            if len(ids) > 1 and title in titles:
                violations.append(
                    {
                        "kind": "create_applied_twice",
                        "node": node,
                        "title": title,
                        "task_ids": sorted(ids),
                        "explanation": f"node {node}: tasks {sorted(ids)} share the create title {title!r}",
                    }
                )

    acked = [o for o in ops if o.f in WRITES and o.outcome == OK and o.key]
    violations += _unapplied_acks(raft_logs, acked)

    stats = {"nodes": len(raft_logs), "rows": rows_total, "request_ids": len(where)}
    if history is not None:
        stats["acked_keys"] = len(acked)
        stats["acked_keys_not_applied"] = len({v["key"] for v in violations if v["kind"].startswith("acked_key_")})
        retried = {o.key for o in ops if o.key and o.attempts > 1}
        stats["retried_keys"] = len(retried)
        stats["retried_keys_applied"] = sum(1 for k in retried if KEY_PREFIX + k in where)
    stats["violations"] = len(violations)
    return make(NAME, violations, stats)
