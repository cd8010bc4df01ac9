"""503s on an in-memory node: no quorum, a node still starting, a database that does not answer; and
an unexpected failure is a bare 500 "internal" without a traceback."""

from __future__ import annotations

import pytest

from taskraft.api.app import create_app

from .memory_node import MemoryNode
from .unit_helpers import create, error_of, seed_task

API_ROUTES = [
    ("post", "/api/v1/tasks", {"title": "x"}),
    ("get", "/api/v1/tasks", None),
    ("get", "/api/v1/tasks/1", None),
    ("patch", "/api/v1/tasks/1", {"title": "x"}),
    ("delete", "/api/v1/tasks/1", None),
    ("get", "/api/v1/tasks/1/history", None),
]


def _call(client, method, path, body, **kwargs):
    return (
        getattr(client, method)(path, json=body, **kwargs)
        if body is not None
        else getattr(client, method)(path, **kwargs)
    )


@pytest.mark.parametrize("method, path, body", API_ROUTES)
def test_no_quorum_is_503_with_retry_after(client, memory_node, method, path, body):
    seed_task(memory_node)
    memory_node.quorum = False
    error = error_of(_call(client, method, path, body), 503, "no_quorum")
    assert "Idempotency-Key" in error["message"]
    assert _call(client, method, path, body).headers["Retry-After"] == "1"


def test_local_reads_answer_without_quorum(client, memory_node):
    task_id = seed_task(memory_node)
    memory_node.quorum = False
    local = {"consistency": "local"}
    assert client.get(f"/api/v1/tasks/{task_id}", query_string=local).status_code == 200
    assert len(client.get("/api/v1/tasks", query_string=local).get_json()["items"]) == 1
    assert client.get(f"/api/v1/tasks/{task_id}/history", query_string=local).status_code == 200


def test_a_write_retried_with_its_key_after_no_quorum_applies_once(client, memory_node):
    headers = {"Idempotency-Key": "retry-me"}
    memory_node.quorum = False
    error_of(create(client, "survives", headers=headers), 503, "no_quorum")
    memory_node.quorum = True
    first = create(client, "survives", headers=headers)
    assert first.status_code == 201
    assert create(client, "survives", headers=headers).get_json() == first.get_json()
    assert len(memory_node.tasks) == 1
    assert [op["rid"] for op in memory_node.submitted] == ["key:retry-me"] * 3
    assert len({op["fp"] for op in memory_node.submitted}) == 1


def test_validation_comes_before_the_quorum(client, memory_node):
    memory_node.quorum = False
    error_of(client.post("/api/v1/tasks", json={}), 400, "invalid_request")
    error_of(client.get("/api/v1/tasks", query_string={"limit": 0}), 400, "invalid_request")
    assert memory_node.submitted == []


def test_readyz_and_cluster_without_quorum(client, memory_node):
    memory_node.quorum = False
    r = client.get("/readyz")
    assert r.status_code == 503 and r.get_json() == {"ready": False, "reasons": ["no known leader"]}
    view = client.get("/api/v1/cluster")
    assert view.status_code == 200 and view.get_json()["leader"] is None
    assert "taskraft_node_ready 0.0" in client.get("/metrics").get_data(as_text=True)


@pytest.fixture(params=["no node yet", "node not started"])
def starting_client(request):
    if request.param == "no node yet":
        app = create_app(None)
    else:
        node = MemoryNode()
        node.started = False
        app = create_app(node)
    return app.test_client()


@pytest.mark.parametrize(
    "method, path, body", API_ROUTES + [("get", "/api/v1/cluster", None), ("get", "/api/v1/cluster/nodes", None)]
)
def test_starting_node_answers_503_starting(starting_client, method, path, body):
    r = _call(starting_client, method, path, body)
    error_of(r, 503, "starting")
    assert r.headers["Retry-After"] == "1"


def test_starting_node_probes(starting_client):
    r = starting_client.get("/readyz")
    assert r.status_code == 503 and r.get_json() == {"ready": False, "reasons": ["starting"]}
    assert starting_client.get("/healthz").status_code == 200
    r = starting_client.get("/metrics")
    assert r.status_code == 200 and "taskraft_node_ready 0.0" in r.get_data(as_text=True)


def test_a_node_set_after_the_app_is_created_is_used(memory_node):
    """As the gunicorn worker does: the app exists first, the node joins it once created."""
    app = create_app(None)
    client = app.test_client()
    error_of(create(client), 503, "starting")
    memory_node.started = False
    app.extensions["taskraft"] = memory_node
    error_of(create(client), 503, "starting")
    memory_node.started = True
    assert create(client).status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/tasks/1", "/api/v1/tasks/1/history"])
@pytest.mark.parametrize("consistency", ["linearizable", "local"])
def test_database_down_is_503_database_unavailable(client, memory_node, path, consistency):
    seed_task(memory_node)
    memory_node.database_up = False
    r = client.get(path, query_string={"consistency": consistency})
    error_of(r, 503, "database_unavailable")
    assert r.headers["Retry-After"] == "1"


def test_database_down_probes(client, memory_node):
    memory_node.database_up = False
    r = client.get("/readyz")
    assert r.status_code == 503 and r.get_json()["ready"] is False
    assert client.get("/metrics").status_code == 200  # task gauges are best effort


class _Broken(MemoryNode):
    def get_task(self, task_id, *, consistency, deadline):
        raise RuntimeError("secret internals /srv/taskraft/x.py line 3")


def test_unexpected_failure_is_a_bare_500(caplog):
    client = create_app(_Broken()).test_client()
    r = client.get("/api/v1/tasks/1")
    error = error_of(r, 500, "internal")
    assert error == {"code": "internal", "message": "internal error"}
    assert "secret internals" not in r.get_data(as_text=True)
    assert "unexpected error" in caplog.text  # logged on the server side instead
