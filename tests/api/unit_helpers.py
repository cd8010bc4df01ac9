"""Assertions shared by the fast API tests."""

from __future__ import annotations

JSON = {"Content-Type": "application/json"}


def error_of(response, status: int, code: str) -> dict:
    """Check the one error shape {"error": {"code", "message", "details"?}} and return its inner object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}, error
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]
    if "details" in error:
        assert isinstance(error["details"], list) and error["details"]
        for detail in error["details"]:
            assert set(detail) == {"field", "message"} and detail["message"], detail
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return error


def fields_of(error: dict) -> set[str]:
    return {d["field"] for d in error.get("details", [])}


def create(client, title: str = "a task", headers: dict | None = None, **extra):
    return client.post("/api/v1/tasks", json={"title": title, **extra}, headers=headers or {})


def seed_task(node, title: str = "target", **fields) -> int:
    """Create a task straight on the in-memory node (not counted as submitted by a request); returns its id."""
    from taskraft import commands as c

    op = c.make_op(c.OP_CREATE, origin=node.node_id, origin_addr=node.raft_address, args={"title": title, **fields})
    result = node.submit(op, 0.0)
    node.submitted.remove(op)
    return result.task["id"]
