"""Task routes: HTTP -> command -> the node's `submit` (writes), or the node's reads at the asked consistency."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, jsonify, request, url_for

from .. import commands as c
from . import validation as v
from .auth import acting_user
from .errors import ApiError, not_found
from .node_access import deadline, node

bp = Blueprint("tasks", __name__, url_prefix="/api/v1")

_STATUS_OF = {
    c.CREATED: 201,
    c.UPDATED: 200,
    c.DELETED: 204,
}
_ERRORS_OF = {
    c.NOT_FOUND: (404, "not_found"),
    c.PRECONDITION_FAILED: (412, "precondition_failed"),
    c.KEY_REUSED: (422, "idempotency_key_reused"),
    c.REJECTED: (400, "invalid_request"),
}


def _task_response(task: Mapping[str, object], status: int = 200):
    response = jsonify(task)
    response.status_code = status
    response.headers["ETag"] = f'"{task["version"]}"'
    return response


def _write(op_name: str, *, task_id: int | None = None, args: dict | None = None):
    n = node()
    key = v.idempotency_key(request)
    op = c.make_op(
        op_name,
        origin=n.node_id,
        origin_addr=n.raft_address,
        args=args or {},
        task_id=task_id,
        if_match=v.if_match(request),
        request_id=f"key:{key}" if key else None,
        user=acting_user(),
    )
    result = n.submit(op, deadline())  # QuorumUnavailable becomes 503 no_quorum (errors.py)
    if result.outcome in _ERRORS_OF:
        status, code = _ERRORS_OF[result.outcome]
        raise ApiError(status, code, result.message or code)
    status = _STATUS_OF[result.outcome]
    if status == 204:
        return "", 204
    assert result.task is not None  # a created or updated task comes with its result
    response = _task_response(result.task, status)
    if status == 201:
        response.headers["Location"] = url_for("tasks.get_task", task_id=result.task["id"])
    return response


@bp.post("/tasks")
def create_task():
    body = v.parse_body(request, v.TaskCreate)
    return _write(c.OP_CREATE, args=body.model_dump())


@bp.get("/tasks")
def list_tasks():
    status = v.query_status(request)
    limit = v.query_int(request, "limit", v.LIMIT_DEFAULT, v.LIMIT_MIN, v.LIMIT_MAX)
    after = v.query_int(request, "after", None, 0, v.CURSOR_MAX)
    consistency = v.consistency(request)
    items, next_cursor = node().list_tasks(
        status=status, limit=limit, after=after, consistency=consistency, deadline=deadline()
    )
    return jsonify({"items": items, "next": next_cursor})


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    task_id = v.task_id_or_404(task_id)
    consistency = v.consistency(request)
    task = node().get_task(task_id, consistency=consistency, deadline=deadline())
    if task is None:
        raise not_found()
    return _task_response(task)


@bp.patch("/tasks/<int:task_id>")
def update_task(task_id: int):
    task_id = v.task_id_or_404(task_id)
    body = v.parse_body(request, v.TaskPatch)
    return _write(c.OP_UPDATE, task_id=task_id, args=body.model_dump(exclude_none=True))


@bp.delete("/tasks/<int:task_id>")
def delete_task(task_id: int):
    task_id = v.task_id_or_404(task_id)
    return _write(c.OP_DELETE, task_id=task_id)


@bp.get("/tasks/<int:task_id>/history")
def task_history(task_id: int):
    task_id = v.task_id_or_404(task_id)
    consistency = v.consistency(request)
    entries = node().task_history(task_id, consistency=consistency, deadline=deadline())
    if not entries:
        raise not_found()
    return jsonify({"task_id": task_id, "entries": entries})
