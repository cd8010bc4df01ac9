"""The OpenAPI document and the reference page, on the in-memory node: every route described, schemas that
are the pydantic models' own, the error shape, headers and links, and the page without inline script."""

from __future__ import annotations

import re

import pytest
from pydantic.json_schema import models_json_schema

from taskraft.api import models as m
from taskraft.api import openapi
from taskraft.api.operations import OPERATIONS, PARAMETERS
from taskraft.api.validation import MemberAdd, TaskCreate, TaskPatch

from .unit_helpers import create, error_of


@pytest.fixture
def document(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.get_json()


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_route_of_the_app_is_in_the_document(app, document):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("web.", "static")) or rule.rule.startswith("/api/docs"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), _flask_path(rule.rule)))
    described = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert routes == described


def test_document_is_openapi_3_1_with_unique_operation_ids(document):
    assert document["openapi"].startswith("3.1")
    ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids)) == len(OPERATIONS)


def test_schemas_are_the_models_own(document):
    _, defs = models_json_schema(
        [(TaskCreate, "validation"), (TaskPatch, "validation"), (MemberAdd, "validation"), (m.Task, "serialization")],
        ref_template=openapi.SCHEMA_REF,
    )
    for name in ("TaskCreate", "TaskPatch", "MemberAdd", "Task"):
        assert document["components"]["schemas"][name] == defs["$defs"][name]
    assert document["components"]["schemas"]["Task"]["properties"]["status"]["enum"] == list(m.STATUSES)


def test_every_error_answer_has_the_one_error_shape(document):
    responses = document["components"]["responses"]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            for status, answer in op["responses"].items():
                if int(status) >= 400 and (path, method, status) != ("/readyz", "get", "503"):
                    assert answer == {"$ref": f"#/components/responses/{status}"}, (path, method, status)
    for status in ("400", "404", "409", "412", "413", "415", "422", "428", "429", "503", "504"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert responses["503"]["headers"]["Retry-After"] == {"$ref": "#/components/headers/Retry-After"}
    error = document["components"]["schemas"]["ErrorInfo"]
    assert set(error["required"]) == {"code", "message"} and "details" in error["properties"]


def test_headers_and_links_of_the_task_operations(document):
    create_op = document["paths"]["/api/v1/tasks"]["post"]
    created = create_op["responses"]["201"]
    assert set(created["headers"]) == {"ETag", "Location"}
    assert {link["operationId"] for link in created["links"].values()} == {
        "getTask",
        "updateTask",
        "deleteTask",
        "getTaskHistory",
    }
    assert created["links"]["UpdateTask"]["parameters"] == {
        "path.task_id": "$response.body#/id",
        "header.If-Match": "$response.header.ETag",
    }
    params = {p["$ref"].rsplit("/", 1)[1] for p in create_op["parameters"]}
    assert params == {"IdempotencyKey"}
    patch = document["paths"]["/api/v1/tasks/{task_id}"]["patch"]
    assert {p["$ref"].rsplit("/", 1)[1] for p in patch["parameters"]} == {"TaskId", "IfMatch", "IdempotencyKey"}
    assert set(document["components"]["headers"]) >= {"ETag", "Location", "Retry-After"}


def test_answers_of_the_in_memory_node_match_the_response_models(client):
    created = create(client, "shape", description="d")
    task = m.Task.model_validate(created.get_json())
    assert created.headers["ETag"] == f'"{task.version}"'
    assert created.headers["Location"] == f"/api/v1/tasks/{task.id}"
    m.TaskPage.model_validate(client.get("/api/v1/tasks").get_json())
    m.TaskHistory.model_validate(client.get(f"/api/v1/tasks/{task.id}/history").get_json())
    m.Readiness.model_validate(client.get("/readyz").get_json())
    m.Health.model_validate(client.get("/healthz").get_json())
    error_of(client.get("/api/v1/tasks/999"), 404, "not_found")
    m.ErrorBody.model_validate(client.get("/api/v1/tasks/999").get_json())
    # the cluster views of the in-memory node are a sketch: the live run (tests/contract) checks the real ones


def test_bearer_scheme_is_defined_and_auth_is_one_switch():
    off = openapi.build_document(OPERATIONS, PARAMETERS, require_auth=False)
    assert off["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <token>",
    }
    assert all("security" not in op for methods in off["paths"].values() for op in methods.values())
    on = openapi.build_document(OPERATIONS, PARAMETERS, require_auth=True)
    create_op = on["paths"]["/api/v1/tasks"]["post"]
    assert create_op["security"] == [{"bearerAuth": []}]
    assert {"401", "403", "429"} <= set(create_op["responses"])
    assert "security" not in on["paths"]["/healthz"]["get"]


def test_reference_page_is_served_offline_without_inline_script(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        asset = client.get(f"/api/{src}")
        assert asset.status_code == 200 and asset.data, src
    init = client.get("/api/docs/assets/init.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in init and "dataset.document" in init
    assert 'data-document="v1/openapi.json"' in html  # relative to /api/docs: /api/v1/openapi.json
    assert client.get("/api/docs/assets/../../../etc/passwd").status_code == 404
    assert client.get("/api/docs/assets/oauth2-redirect.html").status_code == 404


def test_empty_query_values_are_documented_as_the_parsers_take_them(client, document):
    params = document["components"]["parameters"]
    for key, name in (("Status", "status"), ("Limit", "limit"), ("After", "after")):
        assert params[key]["allowEmptyValue"] is True
        assert client.get(f"/api/v1/tasks?{name}=").status_code == 200, name
    assert "allowEmptyValue" not in params["Consistency"]
    error_of(client.get("/api/v1/tasks?consistency="), 400, "invalid_request")
