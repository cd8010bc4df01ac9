"""Hostile input found by fuzzing the API against its OpenAPI document: each answers a JSON 4xx, never a 500.

The `client` fixture also fails any test whose requests were answered 500.
"""

from __future__ import annotations

import pytest

from .unit_helpers import JSON, error_of, fields_of, seed_task

DEEP = "[" * 5000 + "]" * 5000  # the JSON parser recurses per level: RecursionError, once a 500
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000


@pytest.fixture
def task_id(memory_node):
    return seed_task(memory_node)


@pytest.mark.parametrize("raw", [DEEP, DEEP_OBJECT, '{"title": ' + DEEP + "}"])
def test_deeply_nested_create_body_is_invalid_json(client, memory_node, raw):
    error = error_of(client.post("/api/v1/tasks", data=raw, headers=JSON), 400, "invalid_request")
    assert fields_of(error) == {"body"}
    assert memory_node.submitted == []


def test_deeply_nested_patch_body_is_invalid_json(client, memory_node, task_id):
    error = error_of(client.patch(f"/api/v1/tasks/{task_id}", data=DEEP, headers=JSON), 400, "invalid_request")
    assert fields_of(error) == {"body"}
    assert memory_node.submitted == []


@pytest.mark.parametrize("raw", [DEEP, DEEP_OBJECT])
def test_deeply_nested_member_body_is_invalid_json(client, raw):
    error = error_of(client.post("/api/v1/cluster/members", data=raw, headers=JSON), 400, "invalid_request")
    assert fields_of(error) == {"body"}


def test_member_body_must_be_json(client):
    error_of(
        client.post("/api/v1/cluster/members", data="address=x", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported_media_type",
    )


@pytest.mark.parametrize("etag", ["\u00b2", '"\u00b9"', "W/\u00b3", "\u0661"])
def test_if_match_with_non_ascii_digits_is_malformed(client, memory_node, task_id, etag):
    """str.isdigit() holds for superscripts, which int() refuses: once a 500."""
    r = client.patch(f"/api/v1/tasks/{task_id}", json={"status": "done"}, headers={"If-Match": etag})
    assert fields_of(error_of(r, 400, "invalid_request")) == {"If-Match"}
    assert memory_node.submitted == []


@pytest.mark.parametrize("etag", ['"1"', "1", 'W/"1"', ' "1" '])
def test_if_match_forms_this_api_accepts(client, task_id, etag):
    r = client.patch(f"/api/v1/tasks/{task_id}", json={"status": "done"}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
