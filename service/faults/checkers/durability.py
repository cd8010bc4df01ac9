"""Durability: after heal, every acknowledged write is visible on every node, unless superseded.

For each acknowledged (ok) create/update W of version v on task T and each node's final copy F of T:
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
from .result import Result, make

NAME = "durability"
FIELDS = ("title", "description", "status")


class _Followers:
    """How many ok/info updates, and whether any ok/info delete, of one task may take effect after a write."""

    def __init__(self, ops):
        live = [o for o in ops if o.outcome in (OK, INFO)]
        self.update_ends = sorted(o.end for o in live if o.f == "update")
        self.last_delete_end = max((o.end for o in live if o.f == "delete"), default=-math.inf)

    def updates(self, w) -> int:
        n = len(self.update_ends) - bisect.bisect_right(self.update_ends, w.invoke)
        return n - (w.f == "update" and w.end > w.invoke)  # not w itself

    def delete(self, w) -> bool:
        return self.last_delete_end > w.invoke


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
            return "unwritten_version", f"node has v{final['version']} but at most {later} updates could follow the acked v{version}"
    return None


def check(history, final_states: dict, *, initial: dict | None = None) -> Result:
    """final_states: {node: {task_id: task}} read from each node after heal."""
    finals = {node: {int(k): t for k, t in (tasks or {}).items()} for node, tasks in final_states.items()}
    all_ops = as_ops(history)
    groups = group_by_task(all_ops)
    violations, checked = [], 0

    def report(kind, node, tid, why, op=None):
        violations.append({"kind": kind, "node": node, "task_id": tid, "op": op.short() if op else None,
                           "explanation": f"node {node}, task {tid}: {why}"})

    for tid, ops in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        if tid is None:
            continue
        acked_delete = next((o for o in ops if o.f == "delete" and o.outcome == OK), None)
        writes = sorted((o for o in ops if o.f in ("create", "update") and o.outcome == OK), key=lambda o: -o.invoke)
        follow = _Followers(ops)
        for node, tasks in sorted(finals.items()):
            final = tasks.get(tid)
            if acked_delete and final is not None:
                report("deleted_task_present", node, tid, f"acked delete but the task is still there (v{final.get('version')})", acked_delete)
                continue
            for w in writes:  # latest first; one finding per node and task
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
    stats = {"nodes": len(finals), "tasks": sum(1 for t in groups if t is not None), "acked_writes_checked": checked,
             "violations": len(violations)}
    return make(NAME, violations, stats)
