"""CORS (off unless origins are allowed) and the security headers, through Flask's test client.

The same behaviour is checked on real node processes in tests/cluster/test_tls.py and in Chromium in
tests/web/test_csp.py."""

from __future__ import annotations

import re

import pytest

from taskraft.config import ConfigError, load_config
from taskraft.web.security import CORS_ORIGINS

from .unit_helpers import JSON

ALLOWED = "https://board.example"
PREFLIGHT = {"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "if-match, content-type"}


def test_cors_is_off_by_default(client):
    r = client.options("/api/v1/tasks", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Methods" not in r.headers and "Access-Control-Allow-Headers" not in r.headers
    r = client.get("/api/v1/tasks", headers={"Origin": ALLOWED})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_an_allowed_origin_is_echoed_and_others_get_nothing(app, client):
    app.config[CORS_ORIGINS] = (ALLOWED, "http://127.0.0.1:9000")
    r = client.options("/api/v1/tasks/1", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert r.status_code == 204 and r.get_data() == b""
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in r.headers["Vary"]
    allowed_headers = {h.strip() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"Authorization", "Content-Type", "If-Match", "Idempotency-Key"} <= allowed_headers
    assert "PATCH" in r.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in r.headers

    r = client.post("/api/v1/tasks", json={"title": "x"}, headers={"Origin": ALLOWED, **JSON})
    assert r.status_code == 201 and r.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"ETag", "Location", "Retry-After", "X-Taskraft-Node"}

    for foreign in ("https://evil.example", "https://board.example.evil", "null", "https://board.example:444"):
        r = client.options("/api/v1/tasks", headers={"Origin": foreign, **PREFLIGHT})
        assert "Access-Control-Allow-Origin" not in r.headers, foreign
        assert "Access-Control-Allow-Headers" not in r.headers, foreign
        r = client.get("/api/v1/tasks", headers={"Origin": foreign})
        assert "Access-Control-Allow-Origin" not in r.headers and "Origin" in r.headers["Vary"], foreign
    # the page is same-origin: no CORS headers on it, whatever is allowed
    assert "Access-Control-Allow-Origin" not in client.get("/", headers={"Origin": ALLOWED}).headers


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/v1/tasks", "/api/v1/tasks/999", "/healthz"])
def test_security_headers_on_every_answer(client, path):
    r = client.get(path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    policy = dict((part.strip().split(" ", 1) + [""])[:2] for part in r.headers["Content-Security-Policy"].split(";"))
    assert policy["frame-ancestors"] == "'none'"
    if path == "/":
        assert r.mimetype == "text/html"
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
        assert policy["default-src"] == "'self'" and policy["connect-src"] == "'self'"
        assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    elif path.startswith("/api/"):
        assert policy["default-src"] == "'none'"


def test_the_page_has_no_inline_script_style_or_handler(client):
    """What the policy forbids is not in the page (the browser test checks that nothing is blocked)."""
    html = client.get("/").get_data(as_text=True).lower()
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    assert "javascript:" not in html
    for tag in html.split("<script")[1:]:
        assert " src=" in tag.split(">")[0], "an inline <script>"


def test_cors_origins_setting(monkeypatch):
    monkeypatch.setenv("TASKRAFT_INSECURE", "1")
    monkeypatch.setenv("TASKRAFT_NODE_ID", "node-0")
    monkeypatch.setenv("TASKRAFT_CORS_ORIGINS", " https://a.example , http://127.0.0.1:9000/ ,")
    assert load_config().cors_origins == ("https://a.example", "http://127.0.0.1:9000")
    monkeypatch.setenv("TASKRAFT_CORS_ORIGINS", "https://a.example/path")
    with pytest.raises(ConfigError, match="CORS origin"):
        load_config()
    monkeypatch.delenv("TASKRAFT_CORS_ORIGINS")
    assert load_config().cors_origins == ()


def test_tls_settings_need_cert_and_key(monkeypatch, tmp_path):
    monkeypatch.setenv("TASKRAFT_INSECURE", "1")
    monkeypatch.setenv("TASKRAFT_NODE_ID", "node-0")
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    monkeypatch.setenv("TASKRAFT_TLS_CERT_FILE", str(cert))
    with pytest.raises(ConfigError, match="both"):
        load_config()
    monkeypatch.setenv("TASKRAFT_TLS_KEY_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config()
    monkeypatch.setenv("TASKRAFT_TLS_KEY_FILE", str(cert))
    assert load_config().tls
