"""The API's shapes as pydantic models: what requests carry (from validation.py) and what answers carry.

The OpenAPI document (openapi.py) is built from these models, and the client (client.py, cli_client.py)
takes its status names and field names from them, so the routes, the document and the client share one
source. Answers are built by the routes as plain dicts; the models describe them (tests/contract checks
that every answer of a live cluster conforms to the document).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from .. import commands as c
from .validation import MemberAdd, Status, TaskCreate, TaskPatch

STATUSES: tuple[str, ...] = get_args(Status)
if STATUSES != c.STATUSES:  # the log's vocabulary (commands.py) and the API's must name the same statuses
    raise ImportError(f"api Status {STATUSES} differs from commands.STATUSES {c.STATUSES}")

Membership = Literal["voter", "learner", "removed"]

__all__ = ["STATUSES", "MemberAdd", "Status", "TaskCreate", "TaskPatch"]


class _Answer(BaseModel):
    """A response body: documented fields; a newer node may add others, which clients ignore."""

    model_config = ConfigDict(extra="allow")


# -- tasks -----------------------------------------------------------------------------------------


class Task(_Answer):
    """A task as stored by every replica. `version` starts at 1 and grows by one per change; it is the ETag."""

    id: int = Field(ge=1)
    title: str
    description: str
    status: Status
    created_by: str = Field(description="the node that accepted the create")
    created_at: str = Field(description="RFC 3339, UTC, milliseconds")
    updated_at: str = Field(description="RFC 3339, UTC, milliseconds")
    version: int = Field(ge=1)
    created_by_user: str | None = Field(description="the user who created it (null before users existed)")
    updated_by_user: str | None = Field(description="the user who changed it last")


class TaskPage(_Answer):
    items: list[Task] = Field(description="tasks in id order, after the cursor")
    next: int | None = Field(description="the cursor of the next page (pass it as `after`); null on the last page")


class HistoryEntry(_Answer):
    """One operation that named the task, as the state machine recorded it in `raft_log`."""

    log_index: int
    op_seq: int
    term: int
    op: str
    origin_node: str
    request_id: str
    payload: dict[str, Any]
    outcome: str
    applied_at: str
    user: str | None = Field(description="the user who asked for this step")


class TaskHistory(_Answer):
    task_id: int
    entries: list[HistoryEntry] = Field(description="oldest first")


# -- errors ----------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    field: str = Field(description="the body field, query parameter or header at fault ('body' for the whole body)")
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. invalid_request, not_found, no_quorum")
    message: str = Field(description="for people; may change")
    details: list[ErrorDetail] | None = Field(default=None, description="one entry per field at fault, if any")


class ErrorBody(BaseModel):
    """Every error: `{"error": {"code", "message", "details"?}}`."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorInfo


# -- cluster ---------------------------------------------------------------------------------------


class Configuration(_Answer):
    voters: list[str]
    learners: list[str]


class Voting(_Answer):
    can_vote: bool
    reason: str | None


class MemberView(_Answer):
    """A member as the answering node sees it; match_index, lag and last_contact_s only when it leads."""

    node_id: str | None
    raft_address: str
    api_url: str | None
    membership: Membership
    reachable: bool
    role: str | None = None
    match_index: int | None = None
    lag: int | None = None
    last_contact_s: float | None = None
    can_vote: bool | None = None


class ClusterView(_Answer):
    """GET /api/v1/cluster: this node's own Raft view; it never asks another node."""

    node_id: str
    raft_address: str
    role: str = Field(description="leader, follower or candidate")
    leader: str | None = Field(description="the leader's Raft address, if known")
    leader_id: str | None
    term: int
    commit_index: int
    last_applied: int
    has_quorum: bool
    leader_changes: int
    cluster_id: str | None
    voting: Voting
    configuration: Configuration
    nodes: list[MemberView]


class OverviewMember(_Answer):
    """A member's own view as the answering node gathered it; unreachable members keep what is known of them."""

    node_id: str | None
    raft_address: str | None
    api_url: str | None
    membership: str | None
    reachable: bool
    role: str | None
    term: int | None
    commit_index: int | None
    last_applied: int | None
    leader_id: str | None
    has_quorum: bool | None
    lag: int | None
    can_vote: bool | None
    last_contact_s: float | None
    raft_connected: bool
    error: str | None = Field(default=None, description="why an unreachable member gave no view")


class ClusterOverview(_Answer):
    """GET /api/v1/cluster/nodes: every member's own view, gathered by the answering node (at most 1 s old)."""

    node_id: str | None
    raft_address: str | None
    collected_at: float
    leader: str | None
    leader_id: str | None
    term: int
    commit_index: int
    answering: int
    configuration: Configuration | None
    nodes: list[OverviewMember]


class Members(_Answer):
    leader: str | None
    members: list[MemberView]


class MemberChange(_Answer):
    """A membership change, applied on the node that answers."""

    action: Literal["add", "remove"]
    address: str
    log_index: int
    configuration: Configuration


# -- probes ----------------------------------------------------------------------------------------


class Health(_Answer):
    status: Literal["alive"]


class Readiness(_Answer):
    ready: bool
    reasons: list[str] = Field(description="why the node is not ready (empty when it is)")


# -- users and tokens ------------------------------------------------------------------------------


class WhoAmI(_Answer):
    auth: Literal["on", "off"]
    username: str | None
    role: str
    token_id: str | None = Field(description="null for the bootstrap admin token")


class User(_Answer):
    user_id: str
    username: str
    email: str
    role: str = Field(description="viewer, editor, admin or backup (takes backups only)")
    created_at: str | None
    created_by_user: str | None
    disabled: bool
    disabled_at: str | None


class Users(_Answer):
    items: list[User]


class Token(_Answer):
    """A token as listed: never the token or its hash."""

    token_id: str
    name: str
    username: str = Field(description="its owner")
    role: str = Field(description="at most its owner's role; a request gets the lower of the two")
    created_at: str | None
    expires_at: str | None = Field(description="null: never expires")
    revoked: bool
    revoked_at: str | None


class ListedToken(Token):
    last_used_here: str | None = Field(description="when the answering node last accepted it (kept per node)")


class Tokens(_Answer):
    items: list[ListedToken]


class CreatedToken(Token):
    token: str = Field(description="the bearer token: shown in this answer only, never stored")
