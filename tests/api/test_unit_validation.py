"""Request validation on an in-memory node: bodies, media types, sizes, ids, query parameters, headers.

Every refusal has the one error shape, names the offending field, and never reaches the node.
"""

from __future__ import annotations

import pytest

from .unit_helpers import JSON, create, error_of, fields_of, seed_task


@pytest.fixture(autouse=True)
def _nothing_invalid_reaches_the_node(memory_node):
    yield
    assert memory_node.submitted == [], "an invalid request was submitted to the node"


@pytest.fixture
def task_id(memory_node):
    return seed_task(memory_node)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"title": None}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": "ok", "status": "blocked"}, "status"),
        ({"title": "ok", "status": None}, "status"),
        ({"title": "ok", "description": "d" * 10_001}, "description"),
        ({"title": "ok", "description": 3}, "description"),
        ({"title": "ok", "owner": "me"}, "owner"),
        ({"title": "ok", "id": 7}, "id"),
        ({"title": "ok", "version": 2}, "version"),
    ],
)
def test_invalid_create_bodies(client, body, field):
    error = error_of(client.post("/api/v1/tasks", json=body), 400, "invalid_request")
    assert field in fields_of(error)


def test_lone_surrogate_title_is_invalid(client):
    r = client.post("/api/v1/tasks", data='{"title": "\\ud800"}', headers=JSON)
    assert "title" in fields_of(error_of(r, 400, "invalid_request"))


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "body"),
        ({"title": ""}, "title"),
        ({"title": None, "status": None}, "body"),
        ({"status": "blocked"}, "status"),
        ({"description": "d" * 10_001}, "description"),
        ({"title": "ok", "created_by": "me"}, "created_by"),
    ],
)
def test_invalid_patch_bodies(client, task_id, body, field):
    error = error_of(client.patch(f"/api/v1/tasks/{task_id}", json=body), 400, "invalid_request")
    assert field in fields_of(error)


@pytest.mark.parametrize("raw", ["{", "[1, 2]", '"title"', "", "null", "42", '{"title": "x"} trailing'])
@pytest.mark.parametrize("method", ["post", "patch"])
def test_malformed_or_non_object_json(client, task_id, method, raw):
    path = "/api/v1/tasks" if method == "post" else f"/api/v1/tasks/{task_id}"
    r = getattr(client, method)(path, data=raw, headers=JSON)
    assert fields_of(error_of(r, 400, "invalid_request")) == {"body"}


@pytest.mark.parametrize(
    "headers", [{"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}]
)
@pytest.mark.parametrize("method", ["post", "patch"])
def test_wrong_media_type(client, task_id, method, headers):
    path = "/api/v1/tasks" if method == "post" else f"/api/v1/tasks/{task_id}"
    r = getattr(client, method)(path, data='{"title": "x"}', headers=headers)
    error_of(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("method", ["post", "patch"])
def test_body_over_64_kib(client, task_id, method):
    path = "/api/v1/tasks" if method == "post" else f"/api/v1/tasks/{task_id}"
    r = getattr(client, method)(path, data='{"title": "' + "x" * 70_000 + '"}', headers=JSON)
    error_of(r, 413, "payload_too_large")


def test_body_over_64_kib_of_another_type_is_still_too_large(client):
    error_of(
        client.post("/api/v1/tasks", data="x" * 70_000, headers={"Content-Type": "text/plain"}),
        413,
        "payload_too_large",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tasks/abc",
        "/api/v1/tasks/0",
        "/api/v1/tasks/-1",
        "/api/v1/tasks/1.5",
        "/api/v1/tasks/99999999999999999999999",
        "/api/v1/tasks/9223372036854775808",
        "/api/v1/tasks/abc/history",
        "/api/v1/tasks/0/history",
        "/api/v1/nope",
        "/api/v2/tasks",
    ],
)
def test_bad_ids_and_unknown_paths_are_404(client, path):
    error_of(client.get(path), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/tasks/0", "/api/v1/tasks/abc", "/api/v1/tasks/99999999999999999999999"])
def test_writes_to_bad_ids_are_404(client, path):
    error_of(client.patch(path, json={"title": "x"}), 404, "not_found")
    error_of(client.delete(path), 404, "not_found")


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "x"}, "after"),
        ({"after": 2**63}, "after"),
        ({"status": "blocked"}, "status"),
        ({"status": "TODO"}, "status"),
        ({"consistency": "eventual"}, "consistency"),
        ({"consistency": ""}, "consistency"),
    ],
)
def test_invalid_list_parameters(client, params, field):
    error = error_of(client.get("/api/v1/tasks", query_string=params), 400, "invalid_request")
    assert error["details"][0]["field"] == field


@pytest.mark.parametrize("path", ["/api/v1/tasks/{id}", "/api/v1/tasks/{id}/history"])
def test_invalid_consistency_on_single_reads(client, task_id, path):
    r = client.get(path.format(id=task_id), query_string={"consistency": "strong"})
    assert fields_of(error_of(r, 400, "invalid_request")) == {"consistency"}


@pytest.mark.parametrize("value", ["soon", "*", '"abc"', '"1.0"', '"-1"', '"' + "9" * 19 + '"', ""])
def test_malformed_if_match(client, task_id, value):
    r = client.patch(f"/api/v1/tasks/{task_id}", json={"title": "n"}, headers={"If-Match": value})
    assert fields_of(error_of(r, 400, "invalid_request")) == {"If-Match"}
    r = client.delete(f"/api/v1/tasks/{task_id}", headers={"If-Match": value})
    assert fields_of(error_of(r, 400, "invalid_request")) == {"If-Match"}


@pytest.mark.parametrize("key", ["has space", "", "k" * 201, "tab\tkey", "caf\u00e9"])
def test_malformed_idempotency_key(client, task_id, key):
    headers = {"Idempotency-Key": key}
    error = error_of(create(client, "x", headers=headers), 400, "invalid_request")
    assert fields_of(error) == {"Idempotency-Key"}
    error_of(client.patch(f"/api/v1/tasks/{task_id}", json={"title": "x"}, headers=headers), 400, "invalid_request")
    error_of(client.delete(f"/api/v1/tasks/{task_id}", headers=headers), 400, "invalid_request")
