"""An in-memory `NodePort`: one node's replicated state in dicts, for fast tests of the HTTP API.

It applies ops with the semantics of `taskraft.state.machine` (ids from a counter, timestamps and
origin from the op, versions, If-Match, idempotency records by request id and fingerprint, a
history row per recorded op) without Raft or a database. Switches: `started = False` (the node is
still starting), `quorum = False` (writes and linearizable reads raise QuorumUnavailable; local
reads still answer), `database_up = False` (reads raise DatabaseUnavailable).
"""

from __future__ import annotations

import threading

from taskraft import commands as c
from taskraft.api.port import (
    BackupStream,
    Consistency,
    DatabaseUnavailable,
    HistoryEntry,
    MembershipRefused,
    QuorumUnavailable,
    Readiness,
    Task,
)
from taskraft.cluster_overview import ClusterOverview
from taskraft.configuration import Configuration
from taskraft.consensus.reconfigure import ChangeRefused, plan
from taskraft.state.machine import MAX_TASK_ID, OpResult
from taskraft.state.rows import ms_to_rfc3339, rfc3339_to_ms


class MemoryNode:
    def __init__(self, node_id: str = "node-0", raft_address: str = "127.0.0.1:8180", request_timeout: float = 5.0):
        self.started = True
        self.quorum = True
        self.database_up = True
        self._node_id = node_id
        self._raft_address = raft_address
        self._request_timeout = request_timeout
        self._lock = threading.Lock()
        self.tasks: dict[int, Task] = {}
        self.history: list[tuple[int | None, HistoryEntry]] = []  # (task id, raft_log row)
        self._recorded: dict[str, tuple[str, OpResult]] = {}  # request id -> (fingerprint, first result)
        self._next_task_id = 1
        self.log_index = 0
        self.term = 1
        self.submitted: list[dict] = []  # every op handed to submit, applied or not
        self.configuration = Configuration(frozenset([raft_address]))
        self.reachable: set[str] | None = None  # voters this node hears from (None: every voter)
        self.change_pending = False  # a membership change not yet committed: the next one is refused
        self.overview = ClusterOverview(self.cluster_view)  # the peers have no API URL here: listed unreachable
        self.credentials: dict[str, dict] = {}  # token hash -> credential row
        self.credential_lookups = 0
        self.epoch = 0  # auth_epoch: bump it after changing credentials, as the applier does

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def raft_address(self) -> str:
        return self._raft_address

    @property
    def request_timeout(self) -> float:
        return self._request_timeout

    # writes

    def submit(self, op: dict, deadline: float) -> OpResult:
        with self._lock:
            self.submitted.append(op)
            if not self.quorum:
                raise QuorumUnavailable
            self.log_index += 1
            return self._apply(op)

    def _apply(self, op: dict) -> OpResult:
        previous = self._recorded.get(op["rid"])
        if previous is not None:
            fp, result = previous
            if fp != op["fp"]:
                return OpResult(c.KEY_REUSED, message="this idempotency key was used for a different request")
            return result
        kind, args, ts_ms = op["op"], op.get("args", {}), int(op["ts"])
        if kind == c.OP_CREATE:
            result, task_id = self._create(op, args, ts_ms)
        elif kind == c.OP_UPDATE:
            result, task_id = self._update(args, ts_ms, op.get("user"))
        elif kind == c.OP_DELETE:
            result, task_id = self._delete(args)
        elif kind == c.OP_REGISTER_NODE:
            result, task_id = OpResult(c.REGISTERED), None
        else:
            result, task_id = OpResult(c.REJECTED, message=f"unknown operation {kind!r}"), None
        result = OpResult(result.outcome, result.task, result.message, self.log_index)
        self._recorded[op["rid"]] = (op["fp"], result)
        self.history.append(
            (
                task_id,
                {
                    "log_index": self.log_index,
                    "op_seq": 0,
                    "term": self.term,
                    "op": kind,
                    "origin_node": op["origin"],
                    "request_id": op["rid"],
                    "payload": dict(args),
                    "outcome": result.outcome,
                    "applied_at": ms_to_rfc3339(ts_ms),
                    "user": op.get("user"),
                },
            )
        )
        return result

    def _create(self, op: dict, args: dict, ts_ms: int) -> tuple[OpResult, int | None]:
        reason = c.check_task_fields(args, creating=True)
        if reason:
            return OpResult(c.REJECTED, message=reason), None
        task_id, self._next_task_id = self._next_task_id, self._next_task_id + 1
        ts = ms_to_rfc3339(ts_ms)
        task: Task = {
            "id": task_id,
            "title": args["title"].strip(),
            "description": args.get("description") or "",
            "status": args.get("status") or "todo",
            "created_by": op["origin"],
            "created_at": ts,
            "updated_at": ts,
            "version": 1,
            "created_by_user": op.get("user"),
            "updated_by_user": op.get("user"),
        }
        self.tasks[task_id] = task
        return OpResult(c.CREATED, dict(task)), task_id

    def _update(self, args: dict, ts_ms: int, user: str | None = None) -> tuple[OpResult, int | None]:
        reason = c.check_task_fields(args, creating=False)
        if reason:
            return OpResult(c.REJECTED, message=reason), _task_id(args)
        task_id, failed = self._target(args)
        if failed:
            return failed, task_id
        task = dict(self.tasks[task_id])
        for key in ("title", "description", "status"):
            if args.get(key) is not None:
                task[key] = args[key].strip() if key == "title" else args[key]
        task["updated_at"] = ms_to_rfc3339(max(rfc3339_to_ms(task["updated_at"]), ts_ms))
        task["version"] += 1
        task["updated_by_user"] = user
        self.tasks[task_id] = task
        return OpResult(c.UPDATED, dict(task)), task_id

    def _delete(self, args: dict) -> tuple[OpResult, int | None]:
        task_id, failed = self._target(args)
        if failed:
            return failed, task_id
        return OpResult(c.DELETED, self.tasks.pop(task_id)), task_id

    def _target(self, args: dict) -> tuple[int | None, OpResult | None]:
        task_id = _task_id(args)
        task = self.tasks.get(task_id) if task_id is not None else None
        if task is None:
            return task_id, OpResult(c.NOT_FOUND, message="task not found")
        if_match = args.get("if_match")
        if if_match is not None and if_match != task["version"]:
            message = f"version is {task['version']}, If-Match asked for {if_match}"
            return task_id, OpResult(c.PRECONDITION_FAILED, task=dict(task), message=message)
        return task_id, None

    # reads

    def _reading(self, consistency: Consistency) -> None:
        if consistency not in ("linearizable", "local"):
            raise ValueError(f"unknown consistency {consistency!r}")
        if consistency == "linearizable" and not self.quorum:
            raise QuorumUnavailable
        if not self.database_up:
            raise DatabaseUnavailable

    def get_task(self, task_id: int, *, consistency: Consistency, deadline: float) -> Task | None:
        with self._lock:
            self._reading(consistency)
            task = self.tasks.get(task_id)
            return dict(task) if task else None

    def list_tasks(
        self, *, status: str | None, limit: int, after: int | None, consistency: Consistency, deadline: float
    ) -> tuple[list[Task], int | None]:
        with self._lock:
            self._reading(consistency)
            rows = [
                dict(t)
                for i, t in sorted(self.tasks.items())
                if (status is None or t["status"] == status) and (after is None or i > after)
            ][: limit + 1]
        items = rows[:limit]
        return items, (items[-1]["id"] if len(rows) > limit else None)

    def task_history(self, task_id: int, *, consistency: Consistency, deadline: float) -> list[HistoryEntry]:
        with self._lock:
            self._reading(consistency)
            return [dict(entry) for tid, entry in self.history if tid == task_id]

    # operations

    def readiness(self) -> Readiness:
        reasons = []
        if not self.quorum:
            reasons.append("no known leader")
        if not self.database_up:
            reasons.append("database: not answering")
        return Readiness(not reasons, reasons)

    def cluster_view(self) -> dict:
        leader = self._raft_address if self.quorum else None
        me = {
            "node_id": self._node_id,
            "raft_address": self._raft_address,
            "api_url": None,
            "reachable": True,
            "role": "leader" if self.quorum else "candidate",
        }
        return {
            "node_id": self._node_id,
            "raft_address": self._raft_address,
            "role": me["role"],
            "leader": leader,
            "leader_id": self._node_id if leader else None,
            "term": self.term,
            "commit_index": self.log_index,
            "last_applied": self.log_index,
            "has_quorum": self.quorum,
            "leader_changes": 1,
            "configuration": self.configuration.as_dict(),
            "nodes": [
                me if address == self._raft_address else {"raft_address": address, "reachable": True}
                for address in sorted(self.configuration.members)
            ],
        }

    def cluster_overview(self) -> dict:
        return self.overview.get()

    def change_members(self, action: str, target: str, *, deadline: float, forwarded: bool) -> tuple[int, dict]:
        """The leader's checks of consensus/reconfigure.plan, applied at once (no log, no promotion)."""
        if not self.quorum:
            raise MembershipRefused(503, "not_leader", "no leader to take the change", 1.0)
        if self.change_pending:
            raise MembershipRefused(409, "change_in_progress", "another membership change is not committed yet", 1.0)
        reachable = self.reachable if self.reachable is not None else set(self.configuration.voters)
        try:
            change = plan(action, target, self.configuration, self._raft_address, reachable | {self._raft_address})
        except ChangeRefused as refused:
            raise MembershipRefused(refused.status, refused.code, refused.message, refused.retry_after) from None
        self.configuration = change.configuration
        self.log_index += 1
        answer = {"action": action, "address": target, "log_index": self.log_index}
        return (202 if action == "add" else 200), {**answer, "configuration": self.configuration.as_dict()}

    def task_counts(self) -> dict[str, int]:
        with self._lock:
            if not self.database_up:
                raise DatabaseUnavailable
            counts: dict[str, int] = {}
            for task in self.tasks.values():
                counts[task["status"]] = counts.get(task["status"], 0) + 1
            return counts

    # -- credentials: rows as `state.users.credential` returns them, by token hash; set by tests --

    def credential(self, token_hash: str) -> dict | None:
        if not self.database_up:
            raise DatabaseUnavailable
        self.credential_lookups += 1
        return self.credentials.get(token_hash)

    @property
    def auth_epoch(self) -> int:
        return self.epoch

    def list_users(self, *, consistency: Consistency, deadline: float) -> list[dict]:
        self._reading(consistency)
        return []

    def backup(self, *, consistency: Consistency, deadline: float) -> BackupStream:
        return memory_backup(self, consistency)

    def list_tokens(self, *, username: str | None, consistency: Consistency, deadline: float) -> list[dict]:
        self._reading(consistency)
        return []


def _task_id(args: dict) -> int | None:
    value = args.get("task_id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TASK_ID:
        return value
    return None


def memory_backup(node: MemoryNode, consistency: Consistency) -> BackupStream:
    """The memory node's tasks as a backup file (the format of state/backup_format.py), with a raft_meta row."""
    import datetime as dt

    from taskraft.state import backup_format as fmt

    node._reading(consistency)
    head = fmt.header(
        schema_version=fmt.SCHEMA_VERSION,
        cluster_id="memory-cluster",
        applied_index=node.log_index,
        applied_term=node.term,
        node_id=node.node_id,
        consistency=consistency,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    columns = ["task_id", "title", "task_status", "version"]
    rows = [[t["id"], t["title"], t["status"], t["version"]] for t in node.tasks.values()]

    def chunks():
        enc = fmt.Encoder()
        yield enc.start(head)
        yield enc.table("tasks", columns) + enc.rows_chunk(rows)
        yield enc.table("raft_meta", ["id", "applied_index", "applied_term"])
        yield enc.rows_chunk([[1, node.log_index, node.term]])
        yield enc.finish()

    return BackupStream(head, chunks())
