"""The JSON providers (api/json_provider.py): msgspec and Flask's own give the same answers and errors."""

from __future__ import annotations

import json

import pytest

from taskraft.api.app import create_app
from taskraft.api.json_provider import MsgspecJSONProvider
from taskraft.config import ConfigError, HttpSettings

from .memory_node import MemoryNode
from .unit_helpers import JSON, create, error_of, fields_of

IMPLS = ["msgspec", "stdlib"]


@pytest.fixture(params=IMPLS)
def impl_client(request):
    node = MemoryNode()
    app = create_app(node, json_impl=request.param)
    return request.param, node, app.test_client()


def test_the_provider_is_the_one_asked_for():
    assert isinstance(create_app(MemoryNode(), json_impl="msgspec").json, MsgspecJSONProvider)
    assert not isinstance(create_app(MemoryNode(), json_impl="stdlib").json, MsgspecJSONProvider)


def test_created_task_is_the_same_json_with_either(impl_client):
    impl, _node, client = impl_client
    r = create(client, "a task", description="é and ✓")
    assert r.status_code == 201 and r.mimetype == "application/json"
    assert r.data.endswith(b"\n") and b": " not in r.data  # compact, a final newline, as Flask's
    body = json.loads(r.data)
    assert list(body)[:4] == ["id", "title", "description", "status"]  # the order they were built in
    assert body["description"] == "é and ✓"
    if impl == "msgspec":
        assert "é and ✓".encode() in r.data  # sent as UTF-8, not as \u escapes


@pytest.mark.parametrize("raw", ["{", '{"title": "x",}', "[1, 2", "nul", '{"title": "x"} trailing'])
def test_malformed_json_is_a_400_with_either(impl_client, raw):
    _impl, node, client = impl_client
    error = error_of(client.post("/api/v1/tasks", data=raw, headers=JSON), 400, "invalid_request")
    assert error["message"] == "the body is not valid JSON"
    assert error["details"] == [{"field": "body", "message": "malformed JSON"}]
    assert node.submitted == []


def test_nesting_too_deep_is_the_same_400_with_either(impl_client):
    _impl, _node, client = impl_client
    error = error_of(client.post("/api/v1/tasks", data="[" * 5000 + "]" * 5000, headers=JSON), 400, "invalid_request")
    assert error["details"] == [{"field": "body", "message": "nested too deeply to parse"}]


def test_decoding_reads_what_the_standard_library_reads():
    provider = create_app(MemoryNode(), json_impl="msgspec").json
    for raw in ["1" * 30, '{"a": NaN}', '"\\ud800"', "1e400", '{"a": 1, "a": 2}', '{"a": [1.5, null, true]}']:
        assert repr(provider.loads(raw)) == repr(json.loads(raw)), raw  # NaN != NaN: compare the reprs
    with pytest.raises(ValueError):
        provider.loads(b"{")


def test_encoding_falls_back_where_msgspec_cannot():
    provider = create_app(MemoryNode(), json_impl="msgspec").json
    assert json.loads(provider.dumps({"big": 10**30, "s": "\ud800"})) == {"big": 10**30, "s": "\ud800"}
    assert provider.dumps({"a": 1}) == '{"a":1}'


def test_http_settings_from_the_environment(monkeypatch):
    assert HttpSettings.from_env() == HttpSettings()
    monkeypatch.setenv("TASKRAFT_HTTP_JSON", "stdlib")
    monkeypatch.setenv("TASKRAFT_HTTP_THREADS", "32")
    monkeypatch.setenv("TASKRAFT_SWITCH_INTERVAL", "0.001")
    monkeypatch.setenv("TASKRAFT_HTTP_KEEPALIVE", "30")
    assert HttpSettings.from_env() == HttpSettings(threads=32, keepalive=30, json="stdlib", switch_interval=0.001)
    monkeypatch.setenv("TASKRAFT_HTTP_JSON", "yaml")
    with pytest.raises(ConfigError):
        HttpSettings.from_env()


def test_fields_of_an_invalid_body_are_named_with_either(impl_client):
    _impl, _node, client = impl_client
    error = error_of(client.post("/api/v1/tasks", data='{"title": 5}', headers=JSON), 400, "invalid_request")
    assert fields_of(error) == {"title"}
