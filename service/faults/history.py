"""Operation histories for the fault suite: a thread-safe recorder, the Op model, JSONL (de)serialization.

Event format (one JSON object per line, in recording order):

    {"type": "invoke", "op_id": 7, "process": 3, "time": 12.5, "f": "update",
     "task_id": 4, "title": null, "args": {"fields": {"status": "done"}, "if_match": 2},
     "key": "c3-17", "node": "n1"}
    {"type": "ok" | "fail" | "info", "op_id": 7, "time": 12.9,
     "value": {...task...} | [...tasks...] | null, "error": "precondition_failed" | null,
     "attempts": 2, "task_id": 4}

Operations (`f`) and their `args`/`value`:
  create  args {title, description, status}; `title` is also set on the invoke (unique per create).
          ok value = the created task (its id is the task_id; the completion may carry task_id too).
  read    task_id; args may hold {"consistency": "local"} (then it is exempt from linearizability).
          ok value = the task, or null for not found.
  update  task_id, args {fields: {title?, description?, status?}, if_match: int | null}; ok value = new task.
  delete  task_id, args {if_match: int | null}; ok value null.
  list    args {status?}; ok value = list of tasks.
  fail    = definitely not applied; `error` is "not_found", "precondition_failed" or another code.
  info    = outcome unknown: the op may take effect at any time after its invoke, or never.

Retries: a client call that is retried with the same Idempotency-Key is ONE logical op: one invoke
(at the first attempt), one completion (at the final attempt), `key` = the idempotency key and
`attempts` = how many requests were sent. An invoke with no completion is read back as `info`.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

OK, FAIL, INFO = "ok", "fail", "info"
OUTCOMES = (OK, FAIL, INFO)
WRITES = ("create", "update", "delete")
NOT_FOUND, PRECONDITION_FAILED = "not_found", "precondition_failed"


@dataclass
class Op:
    process: Any
    op_id: int
    f: str
    invoke: float
    complete: float | None = None  # recorded completion time; None if never completed
    outcome: str = INFO
    task_id: int | None = None
    title: str | None = None
    args: dict = field(default_factory=dict)
    value: Any = None
    error: str | None = None
    key: str | None = None
    attempts: int = 1
    node: str | None = None

    @property
    def end(self) -> float:
        """The latest time the op may take effect: +inf for info ops."""
        return math.inf if self.outcome == INFO or self.complete is None else self.complete

    def short(self) -> str:
        target = f"#{self.task_id}" if self.task_id is not None else repr(self.title)
        extra = {k: v for k, v in self.args.items() if k not in ("title", "description") and v is not None}
        res = self.error if self.outcome == FAIL else _brief(self.value)
        end = "inf" if self.complete is None else f"{self.complete:.3f}"
        head = " ".join(str(x) for x in (self.op_id, f"p{self.process}", self.f, target, extra or "") if x != "")
        return f"[{head} -> {f'{self.outcome} {res}'.strip()} @{self.invoke:.3f}..{end}]".replace(" ]", "]")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Op:
        return cls(**d)


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return f"v{value.get('version')} {value.get('status')}"
    if isinstance(value, list):
        return f"{len(value)} tasks"
    return "" if value is None else str(value)


class History:
    """Thread-safe event recorder. Clients call invoke() then ok()/fail()/info()."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._events: list[dict] = []
        self._ids = itertools.count(1)

    def invoke(self, process, f: str, *, task_id=None, title=None, args=None, key=None, node=None) -> int:
        with self._lock:
            op_id = next(self._ids)
            self._events.append(
                {
                    "type": "invoke",
                    "op_id": op_id,
                    "process": process,
                    "time": self._clock(),
                    "f": f,
                    "task_id": task_id,
                    "title": title,
                    "args": dict(args or {}),
                    "key": key,
                    "node": node,
                }
            )
        return op_id

    def complete(self, op_id: int, outcome: str, value=None, error=None, *, attempts: int = 1, task_id=None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        with self._lock:
            self._events.append(
                {
                    "type": outcome,
                    "op_id": op_id,
                    "time": self._clock(),
                    "value": value,
                    "error": error,
                    "attempts": attempts,
                    "task_id": task_id,
                }
            )

    def ok(self, op_id, value=None, **kw):
        self.complete(op_id, OK, value, **kw)

    def fail(self, op_id, error, **kw):
        self.complete(op_id, FAIL, None, error, **kw)

    def info(self, op_id, error=None, **kw):
        self.complete(op_id, INFO, None, error, **kw)

    def events(self) -> list[dict]:
        with self._lock:
            return list(self._events)

    def ops(self) -> list[Op]:
        return ops_from_events(self.events())

    def to_jsonl(self) -> str:
        return "".join(json.dumps(e, sort_keys=True) + "\n" for e in self.events())

    def dump(self, path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_jsonl())

    @classmethod
    def from_events(cls, events: Iterable[dict]) -> History:
        h = cls()
        h._events = list(events)
        h._ids = itertools.count(max((e["op_id"] for e in h._events), default=0) + 1)
        return h

    @classmethod
    def from_jsonl(cls, text: str) -> History:
        return cls.from_events(json.loads(line) for line in text.splitlines() if line.strip())

    @classmethod
    def load(cls, path) -> History:
        with open(path, encoding="utf-8") as fh:
            return cls.from_jsonl(fh.read())


def ops_from_events(events: Iterable[dict]) -> list[Op]:
    """Pair invokes with completions; an invoke never completed becomes an info op. Sorted by invoke."""
    ops: dict[int, Op] = {}
    for e in events:
        if e["type"] == "invoke":
            args = e.get("args") or {}
            ops[e["op_id"]] = Op(
                e["process"],
                e["op_id"],
                e["f"],
                e["time"],
                task_id=e.get("task_id"),
                title=e.get("title") or (args.get("title") if e["f"] == "create" else None),
                args=args,
                key=e.get("key"),
                node=e.get("node"),
            )
        else:
            op = ops[e["op_id"]]
            op.complete, op.outcome = e["time"], e["type"]
            op.value, op.error, op.attempts = e.get("value"), e.get("error"), e.get("attempts", 1)
            if op.task_id is None:
                op.task_id = e.get("task_id")
            if op.f == "create" and op.outcome == OK and isinstance(op.value, dict) and op.task_id is None:
                op.task_id = op.value.get("id")
    return sorted(ops.values(), key=lambda o: (o.invoke, o.op_id))


def as_ops(history) -> list[Op]:
    """Accept a History, a list of Op, or a list of event dicts."""
    if isinstance(history, History):
        return history.ops()
    items = list(history)
    if items and isinstance(items[0], dict):
        return ops_from_events(items)
    return sorted(items, key=lambda o: (o.invoke, o.op_id))


def observed_tasks(op: Op) -> list[dict]:
    """Every task body an op's response showed."""
    if op.outcome != OK:
        return []
    if isinstance(op.value, dict):
        return [op.value]
    if isinstance(op.value, list):
        return [t for t in op.value if isinstance(t, dict)]
    return []


def resolve_creates(ops: list[Op]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Map each create's (unique) title to the task id it produced, using every observed task body.

    A title seen under an id is ignored if an update on that id set that title. Returns
    (title -> id, title -> [ids] for titles seen under more than one id: a create applied twice).
    """
    create_titles = {op.title for op in ops if op.f == "create" and op.title is not None}
    retitled = {(op.task_id, (op.args.get("fields") or {}).get("title")) for op in ops if op.f == "update"}
    seen: dict[str, set[int]] = defaultdict(set)
    for op in ops:
        if op.f == "create" and op.task_id is not None and op.title is not None:
            seen[op.title].add(op.task_id)
        for t in observed_tasks(op):
            title, tid = t.get("title"), t.get("id")
            if title in create_titles and tid is not None and (tid, title) not in retitled:
                seen[title].add(tid)
    resolved = {title: min(ids) for title, ids in seen.items()}
    dupes = {title: sorted(ids) for title, ids in seen.items() if len(ids) > 1}
    return resolved, dupes


def with_resolved_creates(ops: list[Op], resolved: dict[str, int] | None = None) -> list[Op]:
    """Copies of ops where creates whose id was unknown (info, lost response) get it from their title."""
    resolved = resolve_creates(ops)[0] if resolved is None else resolved
    out = []
    for op in ops:
        if op.f == "create" and op.task_id is None and op.title in resolved:
            op = Op(**{**op.to_dict(), "task_id": resolved[op.title]})
        out.append(op)
    return out


def group_by_task(ops: list[Op]) -> dict[int | None, list[Op]]:
    """Ops keyed by task id (creates resolved by title first); list ops and unresolved creates go under None."""
    groups: dict[int | None, list[Op]] = defaultdict(list)
    for op in with_resolved_creates(ops):
        groups[None if op.f == "list" else op.task_id].append(op)
    return dict(groups)
