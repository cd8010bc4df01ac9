"""The deterministic state machine: applies committed log entries to MySQL.

`apply_entries` runs inside ONE transaction that the caller opened on a dedicated connection.
Every operation's effects, its `raft_log` row and the new `applied_index` commit together, so a
crash never leaves half an entry behind, and replaying an entry at or below `applied_index` is a
no-op. Ids come from the replicated `next_task_id`, timestamps from the command: two replicas
applying the same log produce byte-identical tables.

Deterministic failures (missing task, version mismatch, a reused idempotency key) are results,
recorded like successes. Only database errors propagate; the caller rolls back and retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import commands as c
from .rows import TASK_COLUMNS, ms_to_sql, task_from_row


MAX_TASK_ID = 2**63 - 1


@dataclass(frozen=True)
class LogEntry:
    index: int
    term: int
    command: dict


@dataclass
class Meta:
    applied_index: int
    applied_term: int
    next_task_id: int


@dataclass(frozen=True)
class OpResult:
    outcome: str
    task: dict | None = None
    message: str | None = None
    log_index: int | None = None

    def to_json(self) -> dict:
        return {"outcome": self.outcome, "task": self.task, "message": self.message}

    @classmethod
    def from_json(cls, data: dict, log_index: int | None = None) -> "OpResult":
        return cls(data["outcome"], data.get("task"), data.get("message"), log_index)


def _storable(obj):
    """Replace what utf8mb4 and JSON columns refuse (lone surrogates) so a bad command can be recorded."""
    if isinstance(obj, str):
        return obj if c.encodable(obj) else obj.encode("utf-8", "replace").decode("utf-8")
    if isinstance(obj, dict):
        return {k: _storable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_storable(v) for v in obj]
    return obj


def _dumps(obj) -> str:
    return json.dumps(_storable(obj), separators=(",", ":"), ensure_ascii=False)


def read_meta(cur, *, lock: bool) -> Meta:
    cur.execute(
        "SELECT applied_index, applied_term, next_task_id FROM raft_meta WHERE id = 1" + (" FOR UPDATE" if lock else "")
    )
    row = cur.fetchone()
    return Meta(int(row[0]), int(row[1]), int(row[2]))


def apply_entries(conn, entries: list[LogEntry]) -> tuple[Meta, dict[str, OpResult]]:
    """Apply entries in order within the caller's open transaction; entries at or below the applied index are skipped.

    Returns the new meta (not yet committed) and the result of every operation by request id.
    """
    results: dict[str, OpResult] = {}
    with conn.cursor() as cur:
        meta = read_meta(cur, lock=True)
        start_index = meta.applied_index
        for entry in entries:
            if entry.index <= meta.applied_index:
                continue
            for seq, op in enumerate(entry.command.get("ops", ())):
                results[op["rid"]] = _apply_op(cur, meta, entry, seq, op)
            meta.applied_index = entry.index
            meta.applied_term = entry.term
        if meta.applied_index != start_index:
            cur.execute(
                "UPDATE raft_meta SET applied_index = %s, applied_term = %s, next_task_id = %s WHERE id = 1",
                (meta.applied_index, meta.applied_term, meta.next_task_id),
            )
    return meta, results


def _apply_op(cur, meta: Meta, entry: LogEntry, seq: int, op: dict) -> OpResult:
    rid = op["rid"]
    cur.execute("SELECT log_index, fingerprint, result FROM raft_log WHERE request_id = %s", (rid,))
    previous = cur.fetchone()
    if previous is not None:
        if previous[1] != op["fp"]:
            return OpResult(c.KEY_REUSED, message="this idempotency key was used for a different request")
        return OpResult.from_json(json.loads(previous[2]), int(previous[0]))

    ts = ms_to_sql(int(op["ts"]))
    cur.execute(
        "INSERT IGNORE INTO nodes (node_id, raft_address, first_seen) VALUES (%s, %s, %s)",
        (op["origin"], op.get("origin_addr", ""), ts),
    )
    kind = op["op"]
    args = op.get("args", {})
    if kind == c.OP_CREATE:
        result, task_id = _create(cur, meta, op, args, ts)
    elif kind == c.OP_UPDATE:
        result, task_id = _update(cur, args, ts)
    elif kind == c.OP_DELETE:
        result, task_id = _delete(cur, args)
    elif kind == c.OP_REGISTER_NODE:
        cur.execute(
            "UPDATE nodes SET raft_address = %s, api_url = %s WHERE node_id = %s",
            (op.get("origin_addr", ""), str(args.get("api_url", ""))[:300], op["origin"]),
        )
        result, task_id = OpResult(c.REGISTERED), None
    else:
        result, task_id = OpResult(c.REJECTED, message=f"unknown operation {kind!r}"), None

    result = OpResult(result.outcome, result.task, result.message, entry.index)
    cur.execute(
        "INSERT INTO raft_log (log_index, op_seq, term, op, task_id, origin_node, request_id, fingerprint,"
        " payload, outcome, result, applied_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            entry.index,
            seq,
            entry.term,
            kind,
            task_id,
            op["origin"],
            rid,
            op["fp"],
            _dumps(args),
            result.outcome,
            _dumps(result.to_json()),
            ts,
        ),
    )
    return result


def _load_task(cur, task_id) -> dict | None:
    cur.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = %s", (task_id,))
    row = cur.fetchone()
    return task_from_row(row) if row else None


def _task_id(args: dict) -> int | None:
    value = args.get("task_id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TASK_ID:
        return value
    return None


def _create(cur, meta: Meta, op: dict, args: dict, ts: str) -> tuple[OpResult, int | None]:
    reason = c.check_task_fields(args, creating=True)
    if reason:
        return OpResult(c.REJECTED, message=reason), None
    task_id = meta.next_task_id
    meta.next_task_id += 1
    cur.execute(
        "INSERT INTO tasks (task_id, title, description, task_status, created_by, created_at, updated_at, version)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 1)",
        (
            task_id,
            args["title"].strip(),
            args.get("description") or "",
            args.get("status") or "todo",
            op["origin"],
            ts,
            ts,
        ),
    )
    return OpResult(c.CREATED, _load_task(cur, task_id)), task_id


def _check_precondition(task: dict | None, args: dict) -> OpResult | None:
    if task is None:
        return OpResult(c.NOT_FOUND, message="task not found")
    if_match = args.get("if_match")
    if if_match is not None and if_match != task["version"]:
        return OpResult(
            c.PRECONDITION_FAILED,
            task=task,
            message=f"version is {task['version']}, If-Match asked for {if_match}",
        )
    return None


def _update(cur, args: dict, ts: str) -> tuple[OpResult, int | None]:
    reason = c.check_task_fields(args, creating=False)
    if reason:
        return OpResult(c.REJECTED, message=reason), _task_id(args)
    task_id, _task, failed = _target(cur, args)
    if failed:
        return failed, task_id
    fields, values = [], []
    for key, column in (("title", "title"), ("description", "description"), ("status", "task_status")):
        if args.get(key) is not None:
            fields.append(f"{column} = %s")
            values.append(args[key].strip() if key == "title" else args[key])
    # updated_at never goes backwards, even if the accepting node's clock does.
    cur.execute(
        f"UPDATE tasks SET {', '.join(fields + ['updated_at = GREATEST(updated_at, CAST(%s AS DATETIME(3)))', 'version = version + 1'])}"
        " WHERE task_id = %s",
        (*values, ts, task_id),
    )
    return OpResult(c.UPDATED, _load_task(cur, task_id)), task_id


def _delete(cur, args: dict) -> tuple[OpResult, int | None]:
    task_id, task, failed = _target(cur, args)
    if failed:
        return failed, task_id
    cur.execute("DELETE FROM tasks WHERE task_id = %s", (task_id,))
    return OpResult(c.DELETED, task), task_id


def _target(cur, args: dict) -> tuple[int | None, dict | None, OpResult | None]:
    """The task an update or delete names, or the deterministic failure (not found, version mismatch)."""
    task_id = _task_id(args)
    if task_id is None:
        return None, None, OpResult(c.NOT_FOUND, message="task not found")
    task = _load_task(cur, task_id)
    return task_id, task, _check_precondition(task, args)
