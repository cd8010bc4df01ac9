"""The page under its Content-Security-Policy, and CORS, in real Chromium against real nodes.

The board works (create, edit, move, delete, the cluster panel) with no CSP violation reported, by
`securitypolicyviolation` events or the console; the listener is shown to be live by an inline script
and an inline style the policy must block. A page from another origin cannot read the API of a node
that allows no origin (the default), and can, with the headers it needs, once its origin is allowed.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from ..conftest import start_cluster
from ..helpers import TEST_ADMIN_TOKEN, free_port
from .browser import create_in_page

pytestmark = pytest.mark.cluster

WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


class ForeignOrigin:
    """A page served from another origin (another port) than the nodes', with no policy of its own."""

    def __init__(self):
        page = b"<!doctype html><title>elsewhere</title><p>another origin</p>"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def foreign():
    origin = ForeignOrigin()
    yield origin
    origin.close()


@pytest.fixture(scope="module")
def plain_node(tmp_path_factory):
    """One node with the default settings: CORS off."""
    c = start_cluster(tmp_path_factory.mktemp("csp"), nodes=1)
    yield c
    c.stop()


def _watch(page) -> list[str]:
    console: list[str] = []
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    return console


def test_the_board_works_under_its_policy_with_no_violation(plain_node, page):
    console = _watch(page)
    response = page.goto(plain_node.urls[0] + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#cluster-rows tr")).to_have_count(1)
    expect(page.locator("#cluster-rows tr").first).to_have_attribute("data-role", "leader")

    task_id = create_in_page(page, "under the policy")
    card = page.locator(f'li.card[data-task-id="{task_id}"]')
    card.get_by_role("button", name="Edit").click()
    page.locator(f"#edit-title-{task_id}").fill("still under the policy")
    page.get_by_role("button", name="Save").click()
    expect(card.locator("h3")).to_have_text("still under the policy")
    card.locator('button[data-move="in_progress"]').click()
    expect(page.locator(f'[data-list="in_progress"] li.card[data-task-id="{task_id}"]')).to_have_count(1)
    page.locator(f'li.card[data-task-id="{task_id}"]').get_by_role("button", name="Delete").click()
    expect(page.locator(f'li.card[data-task-id="{task_id}"]')).to_have_count(0)
    expect(page.locator("#connection")).to_be_hidden()
    page.wait_for_timeout(1500)  # a few more polls of the cluster panel

    assert page.evaluate("window.__violations") == []
    assert console == []

    # the listener is live: what the policy forbids is blocked and reported
    ran = page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__inlineRan = true";
          document.body.append(s);
          document.body.setAttribute("style", "outline: 3px solid red");
          return window.__inlineRan === true;
        }"""
    )
    assert ran is False
    page.wait_for_function("window.__violations.length >= 2")
    reported = " | ".join(page.evaluate("window.__violations"))
    assert "script-src" in reported and "style-src" in reported, reported


def test_no_origin_is_allowed_by_default(plain_node, foreign, page):
    page.goto(foreign.url + "/")
    api = plain_node.urls[0] + "/api/v1/tasks"
    outcome = page.evaluate(
        """async (api) => {
          const tries = [
            () => fetch(api),
            () => fetch(api, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}),
          ];
          const out = [];
          for (const t of tries) {
            try { const r = await t(); out.push(`answered ${r.status}`); } catch (e) { out.push(e.name); }
          }
          return out;
        }""",
        api,
    )
    assert outcome == ["TypeError", "TypeError"], outcome


def test_an_allowed_origin_reads_the_api_with_its_headers(tmp_path, foreign, page):
    c = start_cluster(tmp_path, nodes=1, extra_env={"TASKRAFT_CORS_ORIGINS": f"https://other.example,{foreign.url}"})
    try:
        page.goto(foreign.url + "/")
        api = c.urls[0] + "/api/v1/tasks"
        got = page.evaluate(
            """async ([api, auth]) => {
              const created = await fetch(api, {
                method: "POST",
                headers: {"Content-Type": "application/json", "Idempotency-Key": "cors-1", "Authorization": auth},
                body: JSON.stringify({title: "from another origin"}),
              });
              const task = await created.json();
              const read = await fetch(`${api}/${task.id}`, {headers: {"Authorization": auth}});
              const changed = await fetch(`${api}/${task.id}`, {
                method: "PATCH",
                headers: {
                  "Content-Type": "application/json", "If-Match": read.headers.get("ETag"), "Authorization": auth,
                },
                body: JSON.stringify({status: "done"}),
              });
              return {
                created: created.status, location: created.headers.get("Location"),
                node: read.headers.get("X-Taskraft-Node"), etag: read.headers.get("ETag"),
                changed: changed.status, status: (await changed.json()).status,
              };
            }""",
            [api, f"Bearer {TEST_ADMIN_TOKEN}"],  # the preflight must allow Authorization
        )
        assert got["created"] == 201 and got["location"].startswith("/api/v1/tasks/"), got
        assert got["node"] == "node-0" and got["etag"] == '"1"', got
        assert got["changed"] == 200 and got["status"] == "done", got
    finally:
        c.stop()
