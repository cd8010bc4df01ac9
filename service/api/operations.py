"""The registry of the API's operations: every route, as the OpenAPI document (openapi.py) describes it.

A new route adds its `Operation` to OPERATIONS (and any new parameter to PARAMETERS); tests/contract
checks that every route of the app is here and that a live cluster answers as written.
"""

from __future__ import annotations

from typing import Any

from ..state.machine import MAX_TASK_ID
from . import models as m
from . import validation as v
from .backup import CONTENT_TYPE as BACKUP_CONTENT_TYPE
from .openapi import Answer, Operation
from .users import TokenCreate, UserCreate

TASK_ID = "$response.body#/id"
ETAG = "$response.header.ETag"

# Links: the task in an answer is the one the next request may name (stateful testing follows them).
_LINKS_FROM_TASK = {
    "GetTask": {"operationId": "getTask", "parameters": {"path.task_id": TASK_ID}},
    "UpdateTask": {
        "operationId": "updateTask",
        "parameters": {"path.task_id": TASK_ID, "header.If-Match": ETAG},
    },
    "DeleteTask": {
        "operationId": "deleteTask",
        "parameters": {"path.task_id": TASK_ID, "header.If-Match": ETAG},
    },
    "GetTaskHistory": {"operationId": "getTaskHistory", "parameters": {"path.task_id": TASK_ID}},
}


def _query(name: str, schema: dict[str, Any], description: str, empty: bool = True) -> dict[str, Any]:
    """A query parameter; `name=` (empty) counts as not given unless `empty` is False (validation.py)."""
    out = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
    if empty:
        out["allowEmptyValue"] = True
    return out


def _header(name: str, pattern: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": pattern},
        "description": description,
    }


PARAMETERS: dict[str, dict[str, Any]] = {
    "TaskId": {
        "name": "task_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TASK_ID},
    },
    "Member": {
        "name": "member",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": "a member's node id or Raft address (host:port)",
    },
    "Consistency": _query(
        "consistency",
        {"type": "string", "enum": ["linearizable", "local"], "default": "linearizable"},
        "linearizable (after a read barrier through the leader) or local (this node's database as it is)",
        empty=False,
    ),
    "Status": _query("status", {"type": "string", "enum": list(m.STATUSES)}, "only tasks with this status"),
    "Limit": _query(
        "limit",
        {"type": "integer", "minimum": v.LIMIT_MIN, "maximum": v.LIMIT_MAX, "default": v.LIMIT_DEFAULT},
        "page size",
    ),
    "After": _query(
        "after", {"type": "integer", "minimum": 0, "maximum": v.CURSOR_MAX}, "cursor: the `next` of the previous page"
    ),
    "IdempotencyKey": _header(
        "Idempotency-Key",
        v.KEY_PATTERN,
        "the same key and request returns the first answer and applies once; another request gets 422",
    ),
    "Username": {
        "name": "username",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": "a user's name",
    },
    "TokenId": {
        "name": "token_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": "a token's id (t-...), as listed",
    },
    "Owner": _query("username", {"type": "string"}, "only this user's tokens"),
    "IfMatch": _header("If-Match", v.ETAG_PATTERN, "the ETag (version) the change expects; another one gets 412"),
}

_WRITE_ERRORS = (400, 413, 415, 422, 503)

OPERATIONS: list[Operation] = [
    Operation(
        "POST",
        "/api/v1/tasks",
        "createTask",
        "Create a task",
        "tasks",
        answers=(
            Answer(201, "created: the task, committed and applied", m.Task, ("ETag", "Location"), _LINKS_FROM_TASK),
        ),
        errors=_WRITE_ERRORS,
        body=v.TaskCreate,
        parameters=("IdempotencyKey",),
    ),
    Operation(
        "GET",
        "/api/v1/tasks",
        "listTasks",
        "List tasks, a page at a time (cursor pagination by id)",
        "tasks",
        answers=(Answer(200, "a page of tasks", m.TaskPage),),
        errors=(400, 503),
        parameters=("Status", "Limit", "After", "Consistency"),
    ),
    Operation(
        "GET",
        "/api/v1/tasks/{task_id}",
        "getTask",
        "Read a task",
        "tasks",
        answers=(Answer(200, "the task", m.Task, ("ETag",), _LINKS_FROM_TASK),),
        errors=(400, 404, 503),
        parameters=("TaskId", "Consistency"),
    ),
    Operation(
        "PATCH",
        "/api/v1/tasks/{task_id}",
        "updateTask",
        "Change a task's title, description or status",
        "tasks",
        answers=(Answer(200, "the changed task", m.Task, ("ETag",), _LINKS_FROM_TASK),),
        errors=(400, 404, 412, *_WRITE_ERRORS[1:]),
        body=v.TaskPatch,
        parameters=("TaskId", "IfMatch", "IdempotencyKey"),
    ),
    Operation(
        "DELETE",
        "/api/v1/tasks/{task_id}",
        "deleteTask",
        "Delete a task",
        "tasks",
        answers=(Answer(204, "deleted"),),
        errors=(400, 404, 412, 422, 503),
        parameters=("TaskId", "IfMatch", "IdempotencyKey"),
    ),
    Operation(
        "GET",
        "/api/v1/tasks/{task_id}/history",
        "getTaskHistory",
        "The Raft log entries that named a task, oldest first",
        "tasks",
        answers=(Answer(200, "the task's operations", m.TaskHistory),),
        errors=(400, 404, 503),
        parameters=("TaskId", "Consistency"),
    ),
    Operation(
        "GET",
        "/api/v1/cluster",
        "getCluster",
        "This node's own Raft view and the members",
        "cluster",
        answers=(Answer(200, "this node's view", m.ClusterView),),
        errors=(503,),
    ),
    Operation(
        "GET",
        "/api/v1/cluster/nodes",
        "getClusterNodes",
        "Every member's own view, gathered by the answering node",
        "cluster",
        answers=(Answer(200, "every member's view", m.ClusterOverview),),
        errors=(503,),
    ),
    Operation(
        "GET",
        "/api/v1/cluster/members",
        "listMembers",
        "The members (voters and learners)",
        "members",
        answers=(Answer(200, "the members", m.Members),),
        errors=(503,),
    ),
    Operation(
        "POST",
        "/api/v1/cluster/members",
        "addMember",
        "Add a member as a learner (forwarded to the leader)",
        "members",
        answers=(Answer(202, "added as a learner; promoted to voter once caught up", m.MemberChange),),
        errors=(400, 409, 413, 415, 503),
        body=v.MemberAdd,
    ),
    Operation(
        "DELETE",
        "/api/v1/cluster/members/{member}",
        "removeMember",
        "Remove a member (forwarded to the leader)",
        "members",
        answers=(Answer(200, "removed", m.MemberChange),),
        errors=(400, 404, 409, 503),
        parameters=("Member",),
    ),
    Operation(
        "GET",
        "/api/v1/whoami",
        "whoami",
        "The user and role of the token given (any valid token)",
        "users",
        answers=(Answer(200, "who the token is", m.WhoAmI),),
    ),
    Operation(
        "GET",
        "/api/v1/users",
        "listUsers",
        "The users (admin)",
        "users",
        answers=(Answer(200, "every user, by name", m.Users),),
        errors=(400, 503),
        parameters=("Consistency",),
    ),
    Operation(
        "POST",
        "/api/v1/users",
        "addUser",
        "Add a user (admin)",
        "users",
        answers=(Answer(201, "added", m.User),),
        errors=(409, *_WRITE_ERRORS),
        body=UserCreate,
        parameters=("IdempotencyKey",),
    ),
    Operation(
        "POST",
        "/api/v1/users/{username}/disable",
        "disableUser",
        "Disable a user and so every token they own (admin)",
        "users",
        answers=(Answer(200, "disabled", m.User),),
        errors=(404, *_WRITE_ERRORS),
        parameters=("Username", "IdempotencyKey"),
    ),
    Operation(
        "GET",
        "/api/v1/tokens",
        "listTokens",
        "The tokens, never their secrets (admin)",
        "tokens",
        answers=(Answer(200, "the tokens", m.Tokens),),
        errors=(400, 503),
        parameters=("Owner", "Consistency"),
    ),
    Operation(
        "POST",
        "/api/v1/tokens",
        "createToken",
        "Create a token for a user; the answer shows it once (admin)",
        "tokens",
        answers=(Answer(201, "created: the token, shown this once", m.CreatedToken),),
        errors=(404, 409, *_WRITE_ERRORS),
        body=TokenCreate,
        parameters=("IdempotencyKey",),
    ),
    Operation(
        "DELETE",
        "/api/v1/tokens/{token_id}",
        "revokeToken",
        "Revoke a token (admin)",
        "tokens",
        answers=(Answer(200, "revoked", m.Token),),
        errors=(404, *_WRITE_ERRORS),
        parameters=("TokenId", "IdempotencyKey"),
    ),
    Operation(
        "GET",
        "/api/v1/backup",
        "takeBackup",
        "A consistent backup of every table at one applied index, streamed (admin, or the backup role)",
        "backup",
        answers=(
            Answer(
                200,
                "the backup file (gzip-compressed JSON lines: header, tables, end record with a SHA-256); "
                "X-Taskraft-Backup-Index and X-Taskraft-Backup-Term name its index and term",
                media_type=BACKUP_CONTENT_TYPE,
                schema={"type": "string", "format": "binary"},
            ),
        ),
        errors=(400, 503),
        parameters=("Consistency",),
        description="With consistency=linearizable (the default) the backup holds every write acknowledged "
        "before the request. `taskraft backup --out FILE` saves it; `taskraft backup verify FILE` checks it.",
    ),
    Operation(
        "GET",
        "/healthz",
        "healthz",
        "Liveness",
        "probes",
        answers=(Answer(200, "the process answers", m.Health),),
        secured=False,
    ),
    Operation(
        "GET",
        "/readyz",
        "readyz",
        "Readiness: a leader known, the database up, apply caught up",
        "probes",
        answers=(Answer(200, "ready", m.Readiness), Answer(503, "not ready, with the reasons", m.Readiness)),
        secured=False,
    ),
    Operation(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics",
        "probes",
        answers=(Answer(200, "the text exposition format", media_type="text/plain", schema={"type": "string"}),),
        secured=False,
    ),
    Operation(
        "GET",
        "/api/v1/openapi.json",
        "openapi",
        "This document",
        "contract",
        answers=(Answer(200, "the OpenAPI 3.1 document", schema={"type": "object"}),),
        secured=False,
    ),
]
