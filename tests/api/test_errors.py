"""Every 4xx of the API, against a real cluster: a JSON error with a code and a message, never a 500."""

from __future__ import annotations

import pytest
import requests

from ..helpers import post_task

JSON = {"Content-Type": "application/json"}


def _error(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()["error"]
    assert body["code"] == code and body["message"]
    assert "Traceback" not in r.text
    return body


@pytest.fixture(scope="module")
def url(cluster):
    return cluster.urls[1]


@pytest.fixture(scope="module")
def task(url):
    return post_task(url, "target").json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"title": None}, "title"),
        ({"title": "ok", "status": "blocked"}, "status"),
        ({"title": "ok", "description": "d" * 10_001}, "description"),
        ({"title": "ok", "description": 3}, "description"),
        ({"title": "ok", "owner": "me"}, "owner"),
        ({"title": "\ud800"}, "title"),
    ],
)
def test_invalid_create_bodies(url, body, field):
    r = requests.post(f"{url}/api/v1/tasks", json=body, timeout=10)
    details = _error(r, 400, "invalid_request")["details"]
    assert field in {d["field"] for d in details}


def test_title_of_200_characters_after_trimming_is_accepted(url):
    r = post_task(url, "  " + "t" * 200 + "  ")
    assert r.status_code == 201 and r.json()["title"] == "t" * 200


@pytest.mark.parametrize("raw", ["{", "[1, 2]", '"title"', ""])
def test_malformed_or_non_object_json(url, raw):
    r = requests.post(f"{url}/api/v1/tasks", data=raw, headers=JSON, timeout=10)
    _error(r, 400, "invalid_request")


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/cluster/members"])
def test_json_nested_too_deeply_to_parse(url, path):
    """The JSON parser recurses per level: 5000 levels raised RecursionError, answered 500 before."""
    r = requests.post(f"{url}{path}", data="[" * 5000 + "]" * 5000, headers=JSON, timeout=10)
    assert _error(r, 400, "invalid_request")["details"] == [{"field": "body", "message": "nested too deeply to parse"}]


def test_wrong_media_type(url):
    r = requests.post(f"{url}/api/v1/tasks", data="title=x", headers={"Content-Type": "text/plain"}, timeout=10)
    _error(r, 415, "unsupported_media_type")


def test_body_over_64_kib(url):
    r = requests.post(f"{url}/api/v1/tasks", data='{"title": "' + "x" * 70_000 + '"}', headers=JSON, timeout=10)
    _error(r, 413, "payload_too_large")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tasks/999999",
        "/api/v1/tasks/abc",
        "/api/v1/nope",
        "/api/v1/tasks/0",
        "/api/v1/tasks/99999999999999999999999",
        "/api/v1/tasks/999999/history",
    ],
)
def test_not_found(url, path):
    _error(requests.get(url + path, timeout=10), 404, "not_found")


def test_update_and_delete_of_missing_task(url):
    _error(requests.patch(f"{url}/api/v1/tasks/987654", json={"title": "x"}, timeout=10), 404, "not_found")
    _error(requests.delete(f"{url}/api/v1/tasks/987654", timeout=10), 404, "not_found")


def test_method_not_allowed(url, task):
    r = requests.put(f"{url}/api/v1/tasks/{task['id']}", json={"title": "x"}, timeout=10)
    _error(r, 405, "method_not_allowed")
    _error(requests.delete(f"{url}/api/v1/tasks", timeout=10), 405, "method_not_allowed")


def test_empty_patch_is_invalid(url, task):
    _error(requests.patch(f"{url}/api/v1/tasks/{task['id']}", json={}, timeout=10), 400, "invalid_request")


def test_if_match_mismatch_gives_412_and_changes_nothing(url, task):
    r = requests.patch(
        f"{url}/api/v1/tasks/{task['id']}", json={"title": "new"}, headers={"If-Match": '"42"'}, timeout=10
    )
    _error(r, 412, "precondition_failed")
    _error(
        requests.delete(f"{url}/api/v1/tasks/{task['id']}", headers={"If-Match": '"42"'}, timeout=10),
        412,
        "precondition_failed",
    )
    assert requests.get(f"{url}/api/v1/tasks/{task['id']}", timeout=10).json()["title"] == "target"


def test_malformed_if_match(url, task):
    r = requests.patch(
        f"{url}/api/v1/tasks/{task['id']}", json={"title": "n"}, headers={"If-Match": "soon"}, timeout=10
    )
    _error(r, 400, "invalid_request")


def test_idempotency_key_replays_and_reuse(url):
    headers = {"Idempotency-Key": "client-42-op-1"}
    first = requests.post(f"{url}/api/v1/tasks", json={"title": "once"}, headers=headers, timeout=10)
    again = requests.post(f"{url}/api/v1/tasks", json={"title": "once"}, headers=headers, timeout=10)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = requests.post(f"{url}/api/v1/tasks", json={"title": "different"}, headers=headers, timeout=10)
    _error(other, 422, "idempotency_key_reused")
    _error(
        requests.post(f"{url}/api/v1/tasks", json={"title": "x"}, headers={"Idempotency-Key": "has space"}, timeout=10),
        400,
        "invalid_request",
    )


def test_idempotent_delete_replays_its_204(url):
    task = post_task(url, "to delete").json()
    headers = {"Idempotency-Key": f"del-{task['id']}"}
    assert requests.delete(f"{url}/api/v1/tasks/{task['id']}", headers=headers, timeout=10).status_code == 204
    assert requests.delete(f"{url}/api/v1/tasks/{task['id']}", headers=headers, timeout=10).status_code == 204
    _error(requests.delete(f"{url}/api/v1/tasks/{task['id']}", timeout=10), 404, "not_found")


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": -1}, "after"),
        ({"status": "blocked"}, "status"),
        ({"consistency": "eventual"}, "consistency"),
    ],
)
def test_invalid_list_parameters(url, params, field):
    details = _error(requests.get(f"{url}/api/v1/tasks", params=params, timeout=10), 400, "invalid_request")["details"]
    assert details[0]["field"] == field
