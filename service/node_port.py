"""The running node as the HTTP API sees it: `TaskraftNode` behind `api.port.NodePort`.

Writes go to the node's `Proposer`; linearizable reads wait for its read index (`ReadIndex`, or a
`ReadBarrier` round through the log), then query this node's database through the read pool.
Consensus and database failures become the port's typed errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from . import member_changes
from .api.port import BackupStream, Consistency, DatabaseUnavailable, HistoryEntry, QuorumUnavailable, Readiness, Task
from .auth.tokens import internal_token
from .backup_record import BackupRecord
from .cluster_overview import ClusterOverview, fetch_own_view
from .consensus.proposals import Unavailable
from .node import Diverged
from .state import backup_tables, queries, users
from .state.db import TRANSIENT_ERRORS, connect
from .state.machine import OpResult

if TYPE_CHECKING:
    from .node import TaskraftNode

T = TypeVar("T")


class TaskraftNodePort:
    """Implements `NodePort` for one `TaskraftNode`, which may still be starting."""

    def __init__(self, node: TaskraftNode):
        self._node = node
        self._backups = BackupRecord(node.cfg.data_dir)  # the backups this node served (metrics)
        secret = internal_token(node.cfg.raft_secret)
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self._overview = ClusterOverview(
            node.cluster_view,
            fetch=functools.partial(fetch_own_view, ca_file=node.cfg.tls_ca_file, headers=headers),
        )

    @property
    def started(self) -> bool:
        return self._node.started

    @property
    def node_id(self) -> str:
        return self._node.cfg.node_id

    @property
    def raft_address(self) -> str:
        return self._node.cfg.raft_advertise

    @property
    def request_timeout(self) -> float:
        return self._node.cfg.request_timeout

    def submit(self, op: dict, deadline: float) -> OpResult:
        try:
            return self._node.write(op, deadline)
        except Unavailable:
            raise QuorumUnavailable from None

    # `queries` builds rows as plain dicts (the state machine edits tasks by field name): in the shapes
    # of the port's Task and HistoryEntry.

    def get_task(self, task_id: int, *, consistency: Consistency, deadline: float) -> Task | None:
        task = self._read(lambda conn: queries.get_task(conn, task_id), consistency, deadline)
        return cast(Task | None, task)

    def list_tasks(
        self, *, status: str | None, limit: int, after: int | None, consistency: Consistency, deadline: float
    ) -> tuple[list[Task], int | None]:
        page = self._read(
            lambda conn: queries.list_tasks(conn, status=status, limit=limit, after=after), consistency, deadline
        )
        return cast(tuple[list[Task], int | None], page)

    def task_history(self, task_id: int, *, consistency: Consistency, deadline: float) -> list[HistoryEntry]:
        entries = self._read(lambda conn: queries.task_history(conn, task_id), consistency, deadline)
        return cast(list[HistoryEntry], entries)

    def readiness(self) -> Readiness:
        ready, reasons = self._node.readiness()
        return Readiness(ready, list(reasons))

    def cluster_view(self) -> dict:
        return self._node.cluster_view()

    def cluster_overview(self) -> dict:
        return self._overview.get()

    def change_members(self, action: str, target: str, *, deadline: float, forwarded: bool) -> tuple[int, dict]:
        return member_changes.change_members(self._node, action, target, deadline, forwarded)

    def task_counts(self) -> dict[str, int]:
        return self._query(queries.count_by_status)

    def credential(self, token_hash: str) -> dict | None:
        return self._query(lambda conn: users.credential(conn, token_hash))

    @property
    def auth_epoch(self) -> int:
        return self._node.applier.auth_epoch

    def list_users(self, *, consistency: Consistency, deadline: float) -> list[dict]:
        return self._read(users.list_users, consistency, deadline)

    def list_tokens(self, *, username: str | None, consistency: Consistency, deadline: float) -> list[dict]:
        return self._read(lambda conn: users.list_tokens(conn, username), consistency, deadline)

    def backup(self, *, consistency: Consistency, deadline: float) -> BackupStream:
        if consistency == "linearizable":
            try:
                self._node.barrier.wait(deadline)
            except Unavailable:
                raise QuorumUnavailable from None
        try:
            self._node.check_serving()
            source = backup_tables.TableSnapshot(
                connect(self._node.cfg.mysql), node_id=self.node_id, consistency=consistency
            )
        except (Diverged, *TRANSIENT_ERRORS):
            raise DatabaseUnavailable from None
        return BackupStream(source.header, self._backups.serve(source))

    def _read(self, fn: Callable[[object], T], consistency: Consistency, deadline: float) -> T:
        """`fn(conn)` after a read barrier (linearizable), or straight on this node's database (local)."""
        if consistency == "linearizable":
            try:
                self._node.barrier.wait(deadline)
            except Unavailable:
                raise QuorumUnavailable from None
        elif consistency != "local":
            raise ValueError(f"unknown consistency {consistency!r}")
        return self._query(fn)

    def _query(self, fn: Callable[[object], T]) -> T:
        try:
            self._node.check_serving()
            conn = self._node.pool.connection()
        except (Diverged, *TRANSIENT_ERRORS):
            raise DatabaseUnavailable from None
        try:
            return fn(conn)
        except TRANSIENT_ERRORS:
            raise DatabaseUnavailable from None
        finally:
            try:
                conn.close()
            except Exception:
                pass
