"""The deterministic state machine: applies committed log entries to MySQL.

`apply_entries` runs inside ONE transaction that the caller opened on a dedicated connection.
Every operation's effects, its `raft_log` row and the new `applied_index` commit together, so a
crash never leaves half an entry behind, and replaying an entry at or below `applied_index` is a
no-op. The stored `applied_index` is that of the last entry that carried operations: read barriers
(entries without any) leave it alone, so it is the same on every replica at the same state. Ids come
from the replicated `next_task_id`, timestamps from the command: two replicas applying the same log
produce byte-identical tables.

Deterministic failures (missing task, version mismatch, a reused idempotency key) are results,
recorded like successes. Only database errors propagate; the caller rolls back and retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import commands as c
from . import cluster_ops, users
from .rows import TASK_COLUMNS, dumps_storable, ms_to_rfc3339, ms_to_sql, rfc3339_to_ms, task_from_row
from .statements import WriteScript, select_all

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
    cluster_id: str | None = None
    config_index: int = 0  # the index of the configuration entry in force (cluster_ops.configure)


class Diverged(Exception):
    """An entry at an index this database already applied carries another term than the row it left there:
    the database and the cluster's log disagree, and applying on would serve a diverged database."""

    def __init__(self, index: int, stored_term: int, log_term: int):
        super().__init__(f"raft_log holds index {index} at term {stored_term}, the log has it at term {log_term}")
        self.index, self.stored_term, self.log_term = index, stored_term, log_term


@dataclass(frozen=True)
class OpResult:
    outcome: str
    task: dict | None = None
    message: str | None = None
    log_index: int | None = None
    record: dict | None = None  # the user or token a user/token op wrote (state/users.py)

    def to_json(self) -> dict:
        data = {"outcome": self.outcome, "task": self.task, "message": self.message}
        return data if self.record is None else {**data, "record": self.record}

    @classmethod
    def from_json(cls, data: dict, log_index: int | None = None) -> OpResult:
        return cls(data["outcome"], data.get("task"), data.get("message"), log_index, data.get("record"))


_SELECT_META = "SELECT applied_index, applied_term, next_task_id, cluster_id, config_index FROM raft_meta WHERE id = 1"


def read_meta(cur, *, lock: bool) -> Meta:
    cur.execute(_SELECT_META + (" FOR UPDATE" if lock else ""))
    return _meta(cur.fetchone())


def _meta(row) -> Meta:
    return Meta(int(row[0]), int(row[1]), int(row[2]), row[3] or None, int(row[4]))


_INSERT_LOG = (
    "INSERT INTO raft_log (log_index, op_seq, term, op, task_id, origin_node, request_id, fingerprint,"
    " payload, outcome, result, applied_at, acting_user) VALUES "
)
_LOG_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_INSERT_TASKS = f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES "
_TASK_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_LOOKUP_CHUNK = 500


@dataclass
class _Batch:
    """What one `apply_entries` call carries between operations.

    `recorded` maps every request id already in `raft_log`, or applied earlier in this batch, to its
    fingerprint and result; `tasks` holds every task the batch names as it stands after the
    operations applied so far (None: absent); both are read up front. `writes` collects the batch's
    statements in order, sent together at the end; `new_tasks` are created tasks not yet in it,
    added as one INSERT before anything that could change a task, and at the end; `log_rows` are
    the `raft_log` rows, added as one INSERT at the end.
    """

    recorded: dict[str, tuple[str, OpResult]]
    tasks: dict[int, dict | None]
    writes: WriteScript
    log_rows: list[tuple] = field(default_factory=list)
    new_tasks: list[tuple] = field(default_factory=list)

    def flush_tasks(self) -> None:
        if self.new_tasks:
            self.writes.add_rows(_INSERT_TASKS, _TASK_ROW, self.new_tasks)
            self.new_tasks.clear()


def apply_entries(conn, entries: list[LogEntry]) -> tuple[Meta, dict[str, OpResult]]:
    """Apply entries in order within the caller's open transaction; entries at or below the applied index are skipped.

    Returns the new meta (not yet committed) and the result of every operation by request id.
    A batch costs two round trips to MySQL whatever its size (see statements.py): one script reads
    the meta, the idempotency records and the tasks that updates and deletes name; one script
    writes node registrations, new tasks, updates and deletes, the raft_log rows and the new meta.
    Its shape changes nothing: applying the same entries one at a time or all together gives
    identical tables.
    """
    results: dict[str, OpResult] = {}
    with conn.cursor() as cur:
        # Read for every op given; those of entries already applied are skipped below, and reading
        # them too changes no answer (their request ids and tasks are looked up all the same).
        every_op = [op for entry in entries for op in entry.command.get("ops", ())]
        meta, recorded, tasks = _read_batch(cur, every_op)
        _check_applied_terms(cur, entries, meta.applied_index)
        start_index = meta.applied_index
        pending, last = [], meta.applied_index
        for entry in entries:
            if entry.index > last:
                pending.append(entry)
                last = entry.index
        ops = [(entry, seq, op) for entry in pending for seq, op in enumerate(entry.command.get("ops", ()))]
        batch = _Batch(recorded, tasks, WriteScript(cur))
        _register_origins(ops, batch)
        for entry, seq, op in ops:
            results[op["rid"]] = _apply_op(meta, entry, seq, op, batch)
        batch.flush_tasks()
        # The stored index moves with entries that carry operations only. A read barrier changes no
        # table, and the applier skips a batch made of barriers alone; if barriers moved the stored
        # index here, replicas would store different indexes for one state, depending on how their
        # entries happened to be batched.
        carrying = [entry for entry in pending if entry.command.get("ops")]
        if carrying:
            meta.applied_index = carrying[-1].index
            meta.applied_term = carrying[-1].term
        if batch.log_rows:
            batch.writes.add_rows(_INSERT_LOG, _LOG_ROW, batch.log_rows)
        if meta.applied_index != start_index:
            batch.writes.add(
                "UPDATE raft_meta SET applied_index = %s, applied_term = %s, next_task_id = %s, cluster_id = %s,"
                " config_index = %s WHERE id = 1",
                (meta.applied_index, meta.applied_term, meta.next_task_id, meta.cluster_id, meta.config_index),
            )
        batch.writes.flush()
    return meta, results


def _check_applied_terms(cur, entries: list[LogEntry], applied_index: int) -> None:
    """Entries at or below the applied index are skipped; first, their terms must be the ones applied
    (a replay after a restart is the common case, so this costs a round trip only then)."""
    done = {e.index: e.term for e in entries if e.index <= applied_index and e.command.get("ops")}
    if not done:
        return
    cur.execute(
        f"SELECT log_index, term FROM raft_log WHERE op_seq = 0 AND log_index IN ({', '.join(['%s'] * len(done))})",
        list(done),
    )
    for index, term in cur.fetchall():
        if int(term) != done[int(index)]:
            raise Diverged(int(index), int(term), done[int(index)])


def _read_batch(cur, ops: list[dict]) -> tuple[Meta, dict[str, tuple[str, OpResult]], dict[int, dict | None]]:
    """The locked meta; the raft_log fingerprint and result of every request id of `ops` it holds;
    every task an update or delete names (None: absent). One script, 500 ids per statement."""
    rids = list(dict.fromkeys(op["rid"] for op in ops))
    task_ids = list(
        dict.fromkeys(
            task_id
            for op in ops
            if op["op"] in (c.OP_UPDATE, c.OP_DELETE) and (task_id := _task_id(op.get("args", {}))) is not None
        )
    )
    queries: list[tuple[str, list | None]] = [(_SELECT_META + " FOR UPDATE", None)]
    for i in range(0, len(rids), _LOOKUP_CHUNK):
        chunk = rids[i : i + _LOOKUP_CHUNK]
        queries.append(
            (
                "SELECT request_id, log_index, fingerprint, result FROM raft_log"
                f" WHERE request_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
        )
    n_rid_queries = len(queries) - 1
    for i in range(0, len(task_ids), _LOOKUP_CHUNK):
        chunk = task_ids[i : i + _LOOKUP_CHUNK]
        queries.append((f"SELECT {TASK_COLUMNS} FROM tasks WHERE task_id IN ({', '.join(['%s'] * len(chunk))})", chunk))
    answers = select_all(cur, queries)
    meta = _meta(answers[0][0])
    recorded: dict[str, tuple[str, OpResult]] = {}
    for rows in answers[1 : 1 + n_rid_queries]:
        for rid, log_index, fp, result in rows:
            recorded[rid] = (fp, OpResult.from_json(json.loads(result), int(log_index)))
    tasks: dict[int, dict | None] = dict.fromkeys(task_ids)
    for rows in answers[1 + n_rid_queries :]:
        for row in rows:
            task = task_from_row(row)
            tasks[task["id"]] = task
    return meta, recorded, tasks


def _register_origins(ops: list[tuple[LogEntry, int, dict]], batch: _Batch) -> None:
    """Insert the nodes the batch's new operations come from, once each, first seen at their first
    new operation's timestamp (an operation already recorded, or repeated in the batch, is not new)."""
    seen_rids: set[str] = set()
    origins: dict[str, tuple] = {}
    for _entry, _seq, op in ops:
        rid = op["rid"]
        if rid in batch.recorded or rid in seen_rids:
            continue
        seen_rids.add(rid)
        if op["origin"] not in origins:
            origins[op["origin"]] = (op["origin"], op.get("origin_addr", ""), ms_to_sql(int(op["ts"])))
    if origins:
        batch.writes.add_rows(
            "INSERT IGNORE INTO nodes (node_id, raft_address, first_seen) VALUES ",
            "(%s, %s, %s)",
            list(origins.values()),
        )


def _apply_op(meta: Meta, entry: LogEntry, seq: int, op: dict, batch: _Batch) -> OpResult:
    rid = op["rid"]
    previous = batch.recorded.get(rid)
    if previous is not None:
        fp, result = previous
        if fp != op["fp"]:
            return OpResult(c.KEY_REUSED, message="this idempotency key was used for a different request")
        return result

    ts_ms = int(op["ts"])
    kind = op["op"]
    args = op.get("args", {})
    if kind != c.OP_CREATE:
        batch.flush_tasks()
    if kind == c.OP_CREATE:
        result, task_id = _create(meta, op, args, ts_ms, batch)
    elif kind == c.OP_UPDATE:
        result, task_id = _update(args, ts_ms, _user(op), batch)
    elif kind == c.OP_DELETE:
        result, task_id = _delete(args, batch)
    elif kind == c.OP_REGISTER_NODE:
        batch.writes.add(
            "UPDATE nodes SET raft_address = %s, api_url = %s WHERE node_id = %s",
            (op.get("origin_addr", ""), str(args.get("api_url", ""))[:300], op["origin"]),
        )
        batch.writes.add(cluster_ops.SET_NODE_ROLES + " WHERE node_id = %s", (op["origin"],))
        result, task_id = OpResult(c.REGISTERED), None
    elif kind == c.OP_INIT_CLUSTER:
        outcome, message = cluster_ops.init_cluster(meta, args)
        result, task_id = OpResult(outcome, message=message), None
    elif kind == c.OP_CONFIGURE:
        outcome, message = cluster_ops.configure(meta, entry.index, entry.term, op, batch.writes)
        result, task_id = OpResult(outcome, message=message), None
    elif kind in c.AUTH_OPS:
        outcome, text, record = users.apply(kind, args, ts_ms, op.get("user"), batch.writes)
        result, task_id = OpResult(outcome, message=text, record=record), None
    else:
        result, task_id = OpResult(c.REJECTED, message=f"unknown operation {kind!r}"), None

    result = OpResult(result.outcome, result.task, result.message, entry.index, result.record)
    batch.recorded[rid] = (op["fp"], result)
    batch.log_rows.append(
        (
            entry.index,
            seq,
            entry.term,
            kind,
            task_id,
            op["origin"],
            rid,
            op["fp"],
            dumps_storable(args),
            result.outcome,
            dumps_storable(result.to_json()),
            ms_to_sql(ts_ms),
            _user(op),
        )
    )
    return result


def _user(op: dict) -> str | None:
    user = op.get("user")
    return user[:64] if isinstance(user, str) and c.encodable(user) else None


def _task_id(args: dict) -> int | None:
    value = args.get("task_id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TASK_ID:
        return value
    return None


def _create(meta: Meta, op: dict, args: dict, ts_ms: int, batch: _Batch) -> tuple[OpResult, int | None]:
    reason = c.check_task_fields(args, creating=True)
    if reason:
        return OpResult(c.REJECTED, message=reason), None
    task_id = meta.next_task_id
    meta.next_task_id += 1
    ts = ms_to_sql(ts_ms)
    title, description, status = args["title"].strip(), args.get("description") or "", args.get("status") or "todo"
    row = (task_id, title, description, status, op["origin"], ts, ts, 1, _user(op), _user(op))
    batch.new_tasks.append(row)
    # The row as written is the row as stored (strict mode refuses what it would alter): no read back.
    task = batch.tasks[task_id] = task_from_row(row)
    return OpResult(c.CREATED, task), task_id


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


def _update(args: dict, ts_ms: int, user: str | None, batch: _Batch) -> tuple[OpResult, int | None]:
    reason = c.check_task_fields(args, creating=False)
    if reason:
        return OpResult(c.REJECTED, message=reason), _task_id(args)
    task_id, task, failed = _target(args, batch)
    if failed:
        return failed, task_id
    assert task_id is not None and task is not None  # _target found it, or failed
    task = dict(task)
    fields, values = [], []
    for key, column in (("title", "title"), ("description", "description"), ("status", "task_status")):
        if args.get(key) is not None:
            task[key] = args[key].strip() if key == "title" else args[key]
            fields.append(f"{column} = %s")
            values.append(task[key])
    # updated_at never goes backwards, even if the accepting node's clock does.
    updated_ms = max(rfc3339_to_ms(task["updated_at"]), ts_ms)
    task["updated_at"] = ms_to_rfc3339(updated_ms)
    task["version"] += 1
    task["updated_by_user"] = user
    batch.writes.add(
        f"UPDATE tasks SET {', '.join(fields + ['updated_at = %s', 'version = %s', 'updated_by_user = %s'])}"
        " WHERE task_id = %s",
        (*values, ms_to_sql(updated_ms), task["version"], user, task_id),
    )
    batch.tasks[task_id] = task
    return OpResult(c.UPDATED, task), task_id


def _delete(args: dict, batch: _Batch) -> tuple[OpResult, int | None]:
    task_id, task, failed = _target(args, batch)
    if failed:
        return failed, task_id
    assert task_id is not None  # _target found it, or failed
    batch.writes.add("DELETE FROM tasks WHERE task_id = %s", (task_id,))
    batch.tasks[task_id] = None
    return OpResult(c.DELETED, task), task_id


def _target(args: dict, batch: _Batch) -> tuple[int | None, dict | None, OpResult | None]:
    """The task an update or delete names, or the deterministic failure (not found, version mismatch)."""
    task_id = _task_id(args)
    if task_id is None:
        return None, None, OpResult(c.NOT_FOUND, message="task not found")
    task = batch.tasks[task_id]  # every target of the batch was read up front (_read_batch)
    return task_id, task, _check_precondition(task, args)
