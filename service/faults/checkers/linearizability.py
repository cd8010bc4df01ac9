"""Per-task linearizability: Wing–Gong–Lowe search with memoization of (linearized set, state).

Each task id is an independent register (state: absent, deleted, or (version, title, description,
status)), so the history is partitioned by task id and each part is searched on its own.

What each recorded op means to the model:
  create  matched to its task by unique title (info creates too). Applies only to an absent task.
  read    ok: asserts the task (or not found) at its linearization point. `consistency=local`
          reads, info and fail reads are ignored.
  list    ok: each listed task counts as a read of that task over the list's interval (absence from
          a list is not checked).
  update/delete
          ok: must apply (task live, If-Match equal) and, if a body came back, yield exactly it.
          fail not_found / precondition_failed: a read asserting that condition. Other fails: ignored.
          info: may take effect (with the model's outcome) at any time after its invoke, or never.
Info ops never constrain the search: it succeeds once every definite op is linearized.

The search is bounded per task by `max_steps` and `time_limit`; past the bound the task is
reported as unknown (counted, not a violation).
"""

from __future__ import annotations

import time

from ..history import FAIL, INFO, NOT_FOUND, OK, PRECONDITION_FAILED, Op, as_ops, resolve_creates, with_resolved_creates
from .result import Result, make

NAME = "linearizability"
ABSENT, DELETED = "absent", "deleted"
FIELDS = ("title", "description", "status")
MAX_CANDIDATE_CREATES = 6


def _live(state) -> bool:
    return isinstance(state, tuple)


def _state_of(task: dict):
    return (task.get("version"), task.get("title"), task.get("description"), task.get("status"))


def _agree(state, task) -> bool:
    """Does a live state match a task body (dict, or a state tuple with None for unknown fields)?"""
    if not _live(state):
        return False
    expected = task if isinstance(task, tuple) else _state_of(task)
    return state == expected or all(e is None or e == s for e, s in zip(expected, state, strict=True))


def _describe(state) -> str:
    return state if not _live(state) else f"v{state[0]} {state[3]} {state[1]!r}"


# ---- model ---------------------------------------------------------------------------------------


def _spec(op: Op, value=None):
    """The model's view of an op, or None if it does not constrain this task's register."""
    if op.f == "create":
        if op.outcome == FAIL:
            return None
        a = op.args
        fields = ((a.get("title") or op.title or "").strip(), a.get("description") or "", a.get("status") or "todo")
        return ("create", fields, op.outcome, op.value if op.outcome == OK else None)
    if op.f in ("read", "list"):
        return ("read", None if value is None else _state_of(value)) if op.outcome == OK else None
    if op.f in ("update", "delete"):
        if op.outcome == FAIL and op.error not in (NOT_FOUND, PRECONDITION_FAILED):
            return None
        result = op.error if op.outcome == FAIL else op.value
        return (op.f, op.args.get("fields") or {}, op.args.get("if_match"), op.outcome, result)
    return None


def step(state, spec):
    """Apply one op to the register: (is this op's observed result possible here, next state)."""
    kind = spec[0]
    if kind == "read":
        return (not _live(state) if spec[1] is None else _agree(state, spec[1])), state
    if kind == "create":
        _, fields, outcome, value = spec
        created = (1, *fields)
        return state == ABSENT and (not isinstance(value, dict) or _agree(created, value)), created
    _, fields, if_match, outcome, result = spec
    if not _live(state):
        r = NOT_FOUND
    elif if_match is not None and if_match != state[0]:
        r = PRECONDITION_FAILED
    else:
        r = OK
    if r != OK:
        new = state
    elif kind == "delete":
        new = DELETED
    else:
        vals = [
            (fields.get(k).strip() if k == "title" else fields.get(k)) if fields.get(k) is not None else s
            for k, s in zip(FIELDS, state[1:], strict=True)
        ]
        new = (state[0] + 1, *vals)
    if outcome == INFO:
        return True, new
    if outcome == FAIL:
        return r == result, state
    return r == OK and (not isinstance(result, dict) or _agree(new, result)), new


# ---- search --------------------------------------------------------------------------------------


def wgl(entries: list[tuple[Op, tuple]], init, max_steps: int, deadline: float) -> dict:
    """Search for a linearization. entries: (op, spec). Returns {"result": ok|violation|unknown, ...}."""
    n = len(entries)
    events = sorted(
        [(op.invoke, 0, i) for i, (op, _) in enumerate(entries)] + [(op.end, 1, i) for i, (op, _) in enumerate(entries)]
    )
    head = len(events)  # sentinel node index
    nxt = list(range(1, head + 1)) + [0]
    nxt[head - 1] = -1
    prv = [head] + list(range(0, head - 1)) + [-1]
    nxt[head] = 0 if events else -1
    call_node, ret_node, is_call, op_of = [0] * n, [0] * n, [], []
    for node, (_, kind, i) in enumerate(events):
        (call_node if kind == 0 else ret_node)[i] = node
        is_call.append(kind == 0)
        op_of.append(i)

    def unlink(x):
        nxt[prv[x]] = nxt[x]
        if nxt[x] != -1:
            prv[nxt[x]] = prv[x]

    def relink(x):
        nxt[prv[x]] = x
        if nxt[x] != -1:
            prv[nxt[x]] = x

    definite = [op.outcome != INFO for op, _ in entries]
    remaining = sum(definite)
    state, linearized, stack, seen = init, 0, [], set()
    rejected: dict[int, set] = {}
    best_depth, blocked, ever_ok = -1, None, set()
    steps, e = 0, nxt[head]
    while remaining:
        steps += 1
        if steps > max_steps or (steps & 1023 == 0 and time.monotonic() > deadline):
            return {"result": "unknown", "steps": steps, "reason": "step budget" if steps > max_steps else "time limit"}
        i = op_of[e]
        if is_call[e]:
            ok, new = step(state, entries[i][1])
            if ok:
                ever_ok.add(i)
            if ok and (definite[i] or new != state):  # an info op that changes nothing is as good as never applied
                key = (linearized | (1 << i), new)
                if key not in seen:
                    seen.add(key)
                    stack.append((i, state))
                    state, linearized = new, key[0]
                    unlink(call_node[i])
                    unlink(ret_node[i])
                    remaining -= definite[i]
                    e = nxt[head]
                    continue
            elif not ok and len(rejected.setdefault(i, set())) < 4:
                rejected[i].add(state)
            e = nxt[e]
        else:  # an op returned before being linearized: backtrack
            if len(stack) > best_depth:
                best_depth, blocked = len(stack), i
            if not stack:
                # Blame an op whose result no reachable state allowed, else the one blocking the deepest attempt.
                never = [k for k in range(n) if definite[k] and k not in ever_ok and k in rejected]
                blocked = min(never, key=lambda k: entries[k][0].invoke) if never else blocked
                assert blocked is not None  # set at the first backtrack: len(stack) >= 0 > best_depth = -1
                return {
                    "result": "violation",
                    "steps": steps,
                    "blocked": blocked,
                    "depth": best_depth,
                    "states": sorted(rejected.get(blocked, ()), key=str),
                }
            i, state = stack.pop()
            linearized &= ~(1 << i)
            relink(ret_node[i])
            relink(call_node[i])
            remaining += definite[i]
            e = nxt[call_node[i]]
    return {"result": "ok", "steps": steps}


# ---- reporting -----------------------------------------------------------------------------------


def _classify(op: Op, spec, states) -> tuple[str, str]:
    seen = ", ".join(_describe(s) for s in states) or "only already-explored dead ends"
    versions = [s[0] for s in states if _live(s)]
    if spec[0] == "read":
        value = spec[1]
        if value is None:
            return "lost_task", f"read returned not_found but the task could only be: {seen}"
        v = value[0]
        if not versions:
            return "phantom_read", f"read returned v{v} but the task could only be: {seen}"
        if v is None:
            return "bad_read", f"read returned {_describe(value)}, admissible: {seen}"
        if v < min(versions):
            return "stale_read", f"read returned v{v}, older than every admissible state: {seen}"
        if v > max(versions):
            return "unwritten_read", f"read returned v{v}, a version never written by then; admissible: {seen}"
        return "bad_read", f"read returned {_describe(value)}, admissible: {seen}"
    what = (
        op.error
        if op.outcome == FAIL
        else "ok" + (f" v{op.value.get('version')}" if isinstance(op.value, dict) else "")
    )
    return f"bad_{op.f}_{op.outcome}", f"{op.f} returned {what}, impossible in every admissible state: {seen}"


def _window(ops: list[Op], culprit: Op, limit: int = 30) -> list[str]:
    """The culprit plus everything overlapping [last definite write acked before it, its completion]."""
    before = [
        o.complete
        for o in ops
        if o.outcome == OK
        and o.f in ("create", "update", "delete")
        and o.complete is not None
        and o.complete < culprit.invoke
    ]
    lo, hi = max(before, default=culprit.invoke), culprit.end
    return [o.short() for o in ops if o.invoke <= hi and o.end >= lo][:limit]


def _partition(ops: list[Op], resolved: dict[str, int]):
    """task id -> [(op, spec)]; plus the creates whose task is unknown."""
    parts: dict[int, list] = {}
    unresolved, skipped = [], 0
    for op in with_resolved_creates(ops, resolved):
        if op.f == "list":
            for task in (op.value or []) if op.outcome == OK else []:
                parts.setdefault(task["id"], []).append((op, _spec(op, task)))
            skipped += op.outcome != OK
            continue
        if op.f == "create" and op.task_id is None:
            if op.outcome == INFO:
                unresolved.append(op)  # may have created any task nobody saw created
            else:
                skipped += 1
            continue
        if op.f == "read" and (op.args.get("consistency") == "local"):
            skipped += 1
            continue
        spec = _spec(op, op.value)
        if spec is None or op.task_id is None:
            skipped += 1
            continue
        parts.setdefault(op.task_id, []).append((op, spec))
    return parts, unresolved, skipped


def check(history, *, initial: dict | None = None, max_steps: int = 300_000, time_limit: float = 5.0) -> Result:
    """history: History | [Op] | [event]. initial: {task_id: task} for tasks existing before the run."""
    ops = as_ops(history)
    initial = initial or {}
    resolved, dupes = resolve_creates(ops)
    parts, unresolved, skipped = _partition(ops, resolved)
    violations, unknown, steps = [], [], 0
    for title, ids in sorted(dupes.items()):
        violations.append(
            {
                "task_id": ids,
                "kind": "duplicate_create",
                "explanation": f"one create (title {title!r}) produced tasks {ids}",
                "ops": [],
            }
        )
    for tid in sorted(parts):
        entries = parts[tid]
        has_create = any(spec[0] == "create" for _, spec in entries)
        init = _state_of(initial[tid]) if tid in initial else ABSENT
        if not has_create and tid not in initial and unresolved:
            if len(unresolved) > MAX_CANDIDATE_CREATES:
                unknown.append({"task_id": tid, "reason": f"creator unknown among {len(unresolved)} info creates"})
                continue
            entries = entries + [(o, _spec(o)) for o in unresolved]
        out = wgl(entries, init, max_steps, time.monotonic() + time_limit)
        steps += out["steps"]
        if out["result"] == "unknown":
            unknown.append({"task_id": tid, "reason": out["reason"], "ops": len(entries)})
        elif out["result"] == "violation":
            culprit, spec = entries[out["blocked"]]
            kind, why = _classify(culprit, spec, out["states"])
            task_ops = [o for o, _ in entries]
            violations.append(
                {
                    "task_id": tid,
                    "kind": kind,
                    "op": culprit.short(),
                    "explanation": f"task {tid}: {culprit.short()} {why}",
                    "ops": _window(task_ops, culprit),
                }
            )
    stats = {
        "tasks": len(parts),
        "ops": len(ops),
        "checked_entries": sum(len(v) for v in parts.values()),
        "skipped_ops": skipped,
        "unresolved_creates": len(unresolved),
        "violations": len(violations),
        "unknown": len(unknown),
        "unknown_tasks": unknown,
        "steps": steps,
    }
    return make(NAME, violations, stats)
