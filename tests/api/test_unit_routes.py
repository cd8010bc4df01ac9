"""Every route on an in-memory node: answers, ETags, preconditions, idempotency keys, 404s and 405s."""

from __future__ import annotations

import pytest

from .unit_helpers import JSON, create, error_of, seed_task


def test_create_answers_201_with_the_task_location_and_etag(client, memory_node):
    r = create(client, "  write the docs  ", description="d", status="in_progress")
    assert r.status_code == 201, r.get_data(as_text=True)
    task = r.get_json()
    assert task["title"] == "write the docs" and task["description"] == "d" and task["status"] == "in_progress"
    assert task["created_by"] == "node-0" and task["version"] == 1
    assert task["created_at"] == task["updated_at"] and task["created_at"].endswith("Z")
    assert list(task) == [
        "id",
        "title",
        "description",
        "status",
        "created_by",
        "created_at",
        "updated_at",
        "version",
        "created_by_user",
        "updated_by_user",
    ]
    assert r.headers["Location"] == f"/api/v1/tasks/{task['id']}"
    assert r.headers["ETag"] == '"1"'
    (op,) = memory_node.submitted
    assert op["op"] == "create" and op["origin"] == "node-0" and op["origin_addr"] == "127.0.0.1:8180"
    assert op["rid"].startswith("r-")


def test_create_defaults(client):
    task = create(client, "t").get_json()
    assert task["description"] == "" and task["status"] == "todo"


def test_title_of_200_characters_after_trimming_is_accepted(client):
    r = create(client, "  " + "t" * 200 + "  ")
    assert r.status_code == 201 and r.get_json()["title"] == "t" * 200


def test_get_returns_the_task_and_its_etag(client, memory_node):
    task_id = seed_task(memory_node, "x")
    for consistency in (None, "linearizable", "local"):
        r = client.get(f"/api/v1/tasks/{task_id}", query_string={"consistency": consistency} if consistency else {})
        assert r.status_code == 200 and r.get_json()["id"] == task_id and r.headers["ETag"] == '"1"'


def test_missing_task_is_404_everywhere(client, memory_node):
    seed_task(memory_node)
    for path in ("/api/v1/tasks/999999", "/api/v1/tasks/999999/history"):
        error_of(client.get(path), 404, "not_found")
        error_of(client.get(path, query_string={"consistency": "local"}), 404, "not_found")
    error_of(client.patch("/api/v1/tasks/999999", json={"title": "x"}), 404, "not_found")
    error_of(client.delete("/api/v1/tasks/999999"), 404, "not_found")


def test_patch_updates_and_bumps_the_version(client, memory_node):
    task_id = seed_task(memory_node, "old")
    r = client.patch(f"/api/v1/tasks/{task_id}", json={"status": "done", "title": " new "}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["version"] == 2 and r.get_json()["title"] == "new" and r.get_json()["status"] == "done"
    assert r.headers["ETag"] == '"2"'
    assert client.get(f"/api/v1/tasks/{task_id}").get_json() == r.get_json()


@pytest.mark.parametrize("value", ['"1"', 'W/"1"', "1", ' "1" '])
def test_if_match_forms_that_name_the_current_version(client, memory_node, value):
    task_id = seed_task(memory_node)
    r = client.patch(f"/api/v1/tasks/{task_id}", json={"title": "n"}, headers={"If-Match": value})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert memory_node.submitted[-1]["args"]["if_match"] == 1


def test_if_match_mismatch_gives_412_and_changes_nothing(client, memory_node):
    task_id = seed_task(memory_node, "target")
    r = client.patch(f"/api/v1/tasks/{task_id}", json={"title": "new"}, headers={"If-Match": '"42"'})
    assert "42" in error_of(r, 412, "precondition_failed")["message"]
    error_of(client.delete(f"/api/v1/tasks/{task_id}", headers={"If-Match": '"42"'}), 412, "precondition_failed")
    got = client.get(f"/api/v1/tasks/{task_id}").get_json()
    assert got["title"] == "target" and got["version"] == 1


def test_stale_if_match_after_an_update_is_412(client, memory_node):
    task_id = seed_task(memory_node)
    assert client.patch(f"/api/v1/tasks/{task_id}", json={"title": "a"}, headers={"If-Match": '"1"'}).status_code == 200
    r = client.patch(f"/api/v1/tasks/{task_id}", json={"title": "b"}, headers={"If-Match": '"1"'})
    error_of(r, 412, "precondition_failed")
    assert client.delete(f"/api/v1/tasks/{task_id}", headers={"If-Match": '"2"'}).status_code == 204


def test_delete_answers_204_with_no_body_then_404(client, memory_node):
    task_id = seed_task(memory_node)
    r = client.delete(f"/api/v1/tasks/{task_id}")
    assert r.status_code == 204 and r.get_data() == b""
    error_of(client.get(f"/api/v1/tasks/{task_id}"), 404, "not_found")
    error_of(client.delete(f"/api/v1/tasks/{task_id}"), 404, "not_found")


def test_list_filters_and_paginates_by_cursor(client, memory_node):
    ids = [seed_task(memory_node, f"t{i}", status="done" if i % 2 else "todo") for i in range(7)]
    pages, after = [], None
    while True:
        params = {"limit": 3, **({"after": after} if after is not None else {})}
        r = client.get("/api/v1/tasks", query_string=params)
        assert r.status_code == 200
        pages.append([t["id"] for t in r.get_json()["items"]])
        after = r.get_json()["next"]
        if after is None:
            break
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    done = client.get("/api/v1/tasks", query_string={"status": "done", "consistency": "local"}).get_json()
    assert [t["id"] for t in done["items"]] == ids[1::2] and done["next"] is None
    assert client.get("/api/v1/tasks", query_string={"limit": "", "status": ""}).get_json()["next"] is None


def test_empty_list(client):
    r = client.get("/api/v1/tasks")
    assert r.status_code == 200 and r.get_json() == {"items": [], "next": None}


def test_history_lists_the_operations_oldest_first(client, memory_node):
    task_id = create(client, "h").get_json()["id"]
    client.patch(f"/api/v1/tasks/{task_id}", json={"status": "done"})
    client.patch(f"/api/v1/tasks/{task_id}", json={"status": "todo"}, headers={"If-Match": '"9"'})
    client.delete(f"/api/v1/tasks/{task_id}")
    r = client.get(f"/api/v1/tasks/{task_id}/history")
    assert r.status_code == 200
    body = r.get_json()
    assert body["task_id"] == task_id
    entries = body["entries"]
    assert [(e["op"], e["outcome"]) for e in entries] == [
        ("create", "created"),
        ("update", "updated"),
        ("update", "precondition_failed"),
        ("delete", "deleted"),
    ]
    assert [e["log_index"] for e in entries] == sorted(e["log_index"] for e in entries)
    assert entries[1]["payload"] == {"status": "done", "task_id": task_id}
    assert all(e["origin_node"] == "node-0" for e in entries)


def test_idempotency_key_replays_the_first_result_and_refuses_reuse(client, memory_node):
    headers = {"Idempotency-Key": "client-42-op-1"}
    first = create(client, "once", headers=headers)
    again = create(client, "once", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json() and again.headers["Location"] == first.headers["Location"]
    assert len(memory_node.tasks) == 1
    assert {op["rid"] for op in memory_node.submitted} == {"key:client-42-op-1"}
    other = create(client, "different", headers=headers)
    assert "idempotency key" in error_of(other, 422, "idempotency_key_reused")["message"]
    assert len(memory_node.tasks) == 1


def test_idempotent_patch_applies_once(client, memory_node):
    task_id = seed_task(memory_node)
    headers = {"Idempotency-Key": "patch-1", "If-Match": '"1"'}
    first = client.patch(f"/api/v1/tasks/{task_id}", json={"title": "n"}, headers=headers)
    again = client.patch(f"/api/v1/tasks/{task_id}", json={"title": "n"}, headers=headers)
    assert first.status_code == again.status_code == 200 and again.get_json()["version"] == 2
    reused = client.patch(
        f"/api/v1/tasks/{task_id}", json={"title": "n"}, headers={"Idempotency-Key": "patch-1", "If-Match": '"2"'}
    )
    error_of(reused, 422, "idempotency_key_reused")
    error_of(
        client.delete(f"/api/v1/tasks/{task_id}", headers={"Idempotency-Key": "patch-1"}), 422, "idempotency_key_reused"
    )


def test_idempotent_delete_replays_its_204(client, memory_node):
    task_id = seed_task(memory_node)
    headers = {"Idempotency-Key": f"del-{task_id}"}
    assert client.delete(f"/api/v1/tasks/{task_id}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/tasks/{task_id}", headers=headers).status_code == 204
    error_of(client.delete(f"/api/v1/tasks/{task_id}"), 404, "not_found")


def test_a_refused_request_is_replayed_as_refused(client, memory_node):
    headers = {"Idempotency-Key": "missing-1"}
    error_of(client.delete("/api/v1/tasks/77", headers=headers), 404, "not_found")
    seed_task(memory_node)  # whatever happens since, the key keeps its first answer
    error_of(client.delete("/api/v1/tasks/77", headers=headers), 404, "not_found")


def test_a_state_machine_rejection_is_400(client, memory_node):
    from taskraft import commands as c
    from taskraft.state.machine import OpResult

    memory_node.submit = lambda op, deadline: OpResult(c.REJECTED, message="title is required")
    error = error_of(create(client, "x"), 400, "invalid_request")
    assert error["message"] == "title is required"


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("put", "/api/v1/tasks/1", {"GET", "PATCH", "DELETE"}),
        ("post", "/api/v1/tasks/1", {"GET", "PATCH", "DELETE"}),
        ("delete", "/api/v1/tasks", {"GET", "POST"}),
        ("patch", "/api/v1/tasks", {"GET", "POST"}),
        ("post", "/api/v1/tasks/1/history", {"GET"}),
        ("post", "/api/v1/cluster", {"GET"}),
        ("delete", "/api/v1/cluster/nodes", {"GET"}),
        ("post", "/readyz", {"GET"}),
        ("delete", "/healthz", {"GET"}),
    ],
)
def test_method_not_allowed(client, memory_node, method, path, allowed):
    seed_task(memory_node)
    r = getattr(client, method)(path, data="{}", headers=JSON)
    error_of(r, 405, "method_not_allowed")
    assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}
    assert memory_node.submitted == []


def test_cluster_healthz_readyz_metrics(client, memory_node):
    seed_task(memory_node, "a")
    seed_task(memory_node, "b", status="done")
    view = client.get("/api/v1/cluster").get_json()
    assert view["node_id"] == "node-0" and view["role"] == "leader"
    assert client.get("/healthz").get_json() == {"status": "alive"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json() == {"ready": True, "reasons": []}
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert 'taskraft_tasks{status="todo"} 1.0' in text and 'taskraft_tasks{status="done"} 1.0' in text
    assert 'taskraft_tasks{status="in_progress"} 0.0' in text
    assert "taskraft_node_ready 1.0" in text
