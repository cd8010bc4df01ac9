"""What the HTTP API needs from a node, and nothing more: `NodePort`.

`create_app` is given one object with this shape and keeps it in `app.extensions["taskraft"]`;
routes reach the node only through it. The running node is wrapped by `taskraft.node_port`; tests
use an in-memory implementation.

Deadlines are `time.monotonic()` values. A write is an op dict built by `commands.make_op`; its
answer is the state machine's `OpResult` (a refused request such as a missing task or a failed
precondition is a result, not an exception). Failures to reach the cluster or the database are
the typed exceptions below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, NamedTuple, Protocol, TypedDict

from ..state.machine import OpResult

Consistency = Literal["linearizable", "local"]
FORWARDED_HEADER = "X-Taskraft-Forwarded"  # on a request one node forwarded to the leader


class QuorumUnavailable(Exception):
    """No quorum answered before the deadline. For a write the outcome is unknown: it may have been applied."""


class DatabaseUnavailable(Exception):
    """This node's database did not answer a read."""


class MembershipRefused(Exception):
    """A membership change that cannot go ahead (HTTP status, code, message, Retry-After seconds)."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class Task(TypedDict):
    id: int
    title: str
    description: str
    status: str
    created_by: str
    created_at: str
    updated_at: str
    version: int
    created_by_user: str | None  # who created it (created_by is the node that accepted it)
    updated_by_user: str | None


class HistoryEntry(TypedDict):
    """One `raft_log` row naming a task: an operation as the state machine recorded it."""

    log_index: int
    op_seq: int
    term: int
    op: str
    origin_node: str
    request_id: str
    payload: dict
    outcome: str
    applied_at: str
    user: str | None  # who asked for it (None: authentication off, or an entry from before users)


class BackupStream(NamedTuple):
    header: dict  # the backup's header record (state/backup_format.py): its index, term, cluster id
    chunks: Iterator[bytes]  # the file's bytes; the node records the backup once the last is sent


class Readiness(NamedTuple):
    ready: bool
    reasons: list[str]


class NodePort(Protocol):
    @property
    def started(self) -> bool:
        """False until the node can serve requests (the API then answers 503 `starting`)."""
        ...

    @property
    def node_id(self) -> str: ...

    @property
    def raft_address(self) -> str:
        """The Raft address peers reach this node at (the origin address of its ops)."""
        ...

    @property
    def request_timeout(self) -> float:
        """Seconds a request may wait for the cluster before it is answered 503 `no_quorum`."""
        ...

    def submit(self, op: dict, deadline: float) -> OpResult:
        """Commit `op` through the cluster and return its result once applied on this node.

        Raises QuorumUnavailable at the deadline."""
        ...

    def get_task(self, task_id: int, *, consistency: Consistency, deadline: float) -> Task | None: ...

    def list_tasks(
        self, *, status: str | None, limit: int, after: int | None, consistency: Consistency, deadline: float
    ) -> tuple[list[Task], int | None]:
        """One page of tasks in id order after the cursor `after`, and the next page's cursor (None at the end)."""
        ...

    def task_history(self, task_id: int, *, consistency: Consistency, deadline: float) -> list[HistoryEntry]:
        """The task's log entries, oldest first (empty if no operation ever named it)."""
        ...

    def readiness(self) -> Readiness: ...

    def cluster_view(self) -> dict:
        """This node's Raft view and the members, as `GET /api/v1/cluster` returns it."""
        ...

    def cluster_overview(self) -> dict:
        """Every member's own view as this node gathered it (`GET /api/v1/cluster/nodes`), at most a second old."""
        ...

    def change_members(self, action: str, target: str, *, deadline: float, forwarded: bool) -> tuple[int, dict]:
        """Add a member ("add", its Raft address) or remove one ("remove", its address or node id) through the
        leader; (HTTP status, body) once applied here. Raises MembershipRefused."""
        ...

    def task_counts(self) -> dict[str, int]:
        """Tasks in this node's database by status. Raises DatabaseUnavailable."""
        ...

    def credential(self, token_hash: str) -> dict | None:
        """The token with this SHA-256 and its owner, from this node's own tables (`state.users.credential`),
        or None. Raises DatabaseUnavailable."""
        ...

    @property
    def auth_epoch(self) -> int:
        """Moves whenever this node applies a user or token change: cached credentials are then stale."""
        ...

    def list_users(self, *, consistency: Consistency, deadline: float) -> list[dict]: ...

    def list_tokens(self, *, username: str | None, consistency: Consistency, deadline: float) -> list[dict]:
        """Tokens (never their hashes), of one user or all."""
        ...

    def backup(self, *, consistency: Consistency, deadline: float) -> BackupStream:
        """A consistent backup of every replicated table at one applied index; linearizable: after a
        read barrier, so it holds every write acknowledged before it was asked for."""
        ...
