"""The reference page /api/docs in Chromium: it renders every operation of the document from the node
alone (any other address is unreachable), under a Content-Security-Policy that allows no inline script.

The app runs on an in-memory node (tests/api/memory_node.py) behind werkzeug's server: no cluster needed.
"""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from taskraft.api.app import create_app
from taskraft.api.contract import document

from ..api.memory_node import MemoryNode
from ..helpers import free_port
from .browser import artifact, only_origin


@pytest.fixture(scope="module")
def origin():
    server = make_server("127.0.0.1", free_port(), create_app(MemoryNode()), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_reference_page_renders_every_operation_offline_under_a_strict_csp(page, origin):
    from playwright.sync_api import expect

    blocked = only_origin(page, origin)

    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)

    answer = page.goto(f"{origin}/api/docs")
    csp = answer.headers["content-security-policy"]  # the node's own policy: no inline script, no eval
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], csp
    operations = sum(len(methods) for methods in document()["paths"].values())
    expect(page.locator(".opblock")).to_have_count(operations, timeout=30000)
    expect(page.locator(".info .title")).to_contain_text("taskraft")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/tasks/{task_id}").first).to_be_visible()
    page.screenshot(path=str(artifact("api-docs.png")), full_page=False)
    assert violations == [], violations
    assert blocked == [], f"the page reached beyond the node: {blocked}"
