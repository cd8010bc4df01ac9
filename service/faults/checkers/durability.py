"""Durability: after heal, every acknowledged write is visible on every node, unless superseded.

First, each acknowledged (ok) create C of task T must be the create that made T on every node:
  - with `raft_logs` ({node: [row]}, the final raft_log rows with request_id, op, task_id, outcome,
    payload) and C's idempotency key K: the row of request id "key:K" must exist (else
    `create_not_applied`: the node never applied the create it acknowledged) and be a create that
    made T with C's title (else `wrong_task`);
  - the final copy F of T must carry C's title (unless an ok/info update setting a title could come
    after C) and C's `created_by` and `created_at`, which never change (else `wrong_task`: F is
    another create's task).
A create that fails this is not checked further on that node. Then, for each acknowledged create or
update W of version v on task T and each node's final copy F of T:
  - F missing: allowed only if some ok/info delete of T could come after W (it did not end before W began);
  - F.version < v: the acked write was lost (rolled back);
  - F.version == v: F must carry W's fields;
  - F.version > v: at least F.version - v ok/info updates of T (other than W) must not have ended
    before W began; otherwise F shows versions nobody wrote.
An acknowledged delete must leave T absent on every node (ids are never reused). A final task whose
title no create or update in the history (or `initial`) used is reported as a phantom.
"""

from __future__ import annotations

import bisect
import math

from ..history import INFO, OK, as_ops, group_by_task
from .exactly_once import KEY_PREFIX, row_payload
from .result import Result, make

NAME = "durability"
FIELDS = ("title", "description", "status")
IMMUTABLE = ("created_by", "created_at")  # set by the create, never changed after


class _Followers:
    """How many ok/info updates, and whether any ok/info delete, of one task may take effect after a write."""

    def __init__(self, ops):
        live = [o for o in ops if o.outcome in (OK, INFO)]
        self.update_ends = sorted(o.end for o in live if o.f == "update")
        self.last_delete_end = max((o.end for o in live if o.f == "delete"), default=-math.inf)
        self.last_retitle_end = max((o.end for o in live if o.f == "update" and _sets_title(o)), default=-math.inf)

    def updates(self, w) -> int:
        n = len(self.update_ends) - bisect.bisect_right(self.update_ends, w.invoke)
        return n - (w.f == "update" and w.end > w.invoke)  # not w itself

    def delete(self, w) -> bool:
        return self.last_delete_end > w.invoke

    def retitle(self, w) -> bool:
        return self.last_retitle_end > w.invoke


def _sets_title(op) -> bool:
    return (op.args.get("fields") or {}).get("title") is not None


def _title(value):
    return value.strip() if isinstance(value, str) else value


def _identity(c, final, rows_by_rid: dict | None, follow: _Followers) -> tuple[str, str] | None:
    """Is acked create c the create that made the task this node holds (or held) under c's id?"""
    value = c.value if isinstance(c.value, dict) else {}
    title = _title(c.title if c.title is not None else value.get("title"))
    if rows_by_rid is not None and c.key:
        row = rows_by_rid.get(KEY_PREFIX + c.key)
        if row is None:
            return "create_not_applied", f"acked create {title!r} (key {c.key}) has no raft_log row: never applied"
        logged = _title(row_payload(row).get("title", title))
        made = row.get("op") == "create" and (row.get("outcome") or "created") == "created"
        if not made or row.get("task_id") != c.task_id or logged != title:
            return "wrong_task", (
                f"acked create {title!r} (key {c.key}) answered task {c.task_id}, but its raft_log row "
                f"is {row.get('op')} {row.get('outcome')} of task {row.get('task_id')} titled {logged!r}"
            )
    if final is None:
        return None
    if (
        title is not None
        and final.get("title") is not None
        and _title(final["title"]) != title
        and not follow.retitle(c)
    ):
        return "wrong_task", (
            f"the task is titled {final['title']!r}, not {title!r} as the acked create made it, "
            f"and no update could retitle it"
        )
    for k in IMMUTABLE:
        if value.get(k) is not None and final.get(k) is not None and final[k] != value[k]:
            return "wrong_task", f"the task's {k} is {final[k]!r}; the acked create {title!r} returned {value[k]!r}"
    return None


def _verify(w, final, follow: _Followers) -> tuple[str, str] | None:
    """Is acked write w (its effect or a later one) visible in this node's final copy?"""
    value = w.value if isinstance(w.value, dict) else {}
    version = value.get("version", 1 if w.f == "create" else None)
    if version is None:
        return None
    if final is None:
        if not follow.delete(w):
            return "lost_write", f"acked {w.f} (v{version}) but the task is missing and no delete could follow"
    elif final["version"] < version:
        return "lost_write", f"acked {w.f} made v{version} but the node has v{final['version']}"
    elif final["version"] == version and any(final.get(k) != value.get(k, final.get(k)) for k in FIELDS):
        return "wrong_value", f"v{version} differs from what the acked {w.f} returned: {final} vs {value}"
    elif final["version"] > version:
        later = follow.updates(w)
        if final["version"] - version > later:
            return (
                "unwritten_version",
                f"node has v{final['version']} but at most {later} updates could follow the acked v{version}",
            )
    return None


def check(history, final_states: dict, *, initial: dict | None = None, raft_logs: dict | None = None) -> Result:
    """final_states: {node: {task_id: task}} read from each node after heal; raft_logs: {node: [row]}."""
    finals = {node: {int(k): t for k, t in (tasks or {}).items()} for node, tasks in final_states.items()}
    logs = {node: {r["request_id"]: r for r in rows or ()} for node, rows in (raft_logs or {}).items()}
    all_ops = as_ops(history)
    groups = group_by_task(all_ops)
    violations, checked, creates_checked, not_made = [], 0, 0, set()

    def report(kind, node, tid, why, op=None):
        violations.append(
            {
                "kind": kind,
                "node": node,
                "task_id": tid,
                "op": op.short() if op else None,
                "explanation": f"node {node}, task {tid}: {why}",
            }
        )

    for tid, ops in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        if tid is None:
            continue
        acked_delete = next((o for o in ops if o.f == "delete" and o.outcome == OK), None)
        writes = sorted((o for o in ops if o.f in ("create", "update") and o.outcome == OK), key=lambda o: -o.invoke)
        follow = _Followers(ops)
        for node, tasks in sorted(finals.items()):
            final = tasks.get(tid)
            unmade = set()
            for w in writes:
                if w.f == "create":
                    why = _identity(w, final, logs.get(node), follow)
                    creates_checked += 1
                    if why:
                        report(why[0], node, tid, why[1], w)
                        unmade.add(w.op_id)
            not_made |= unmade
            if acked_delete and final is not None:
                report(
                    "deleted_task_present",
                    node,
                    tid,
                    f"acked delete but the task is still there (v{final.get('version')})",
                    acked_delete,
                )
                continue
            for w in writes:  # latest first; one finding per node and task
                if w.op_id in unmade:
                    continue
                why = _verify(w, final, follow)
                checked += 1
                if why:
                    report(why[0], node, tid, why[1], w)
                    break

    known_titles = {o.title for o in all_ops if o.f == "create"}
    known_titles |= {(o.args.get("fields") or {}).get("title") for o in all_ops if o.f == "update"}
    known_titles |= {t.get("title") for t in (initial or {}).values()}
    for node, tasks in sorted(finals.items()):
        for tid, task in sorted(tasks.items()):
            if tid not in groups and task.get("title") not in known_titles:
                report("phantom_task", node, tid, f"task {task.get('title')!r} was never created by any client")
    stats = {
        "nodes": len(finals),
        "tasks": sum(1 for t in groups if t is not None),
        "acked_writes_checked": checked,
        "acked_creates_checked": creates_checked,
        "acked_creates_not_made": len(not_made),
        "violations": len(violations),
    }
    return make(NAME, violations, stats)
