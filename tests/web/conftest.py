from __future__ import annotations

import json
import os

import pytest

from ..conftest import missing_tool
from ..helpers import TEST_ADMIN_TOKEN
from .browser import ARGS, CHROMIUM, artifact


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Before any cluster starts: Debian's Chromium and Playwright are there, or the module skips (fails
    under TASKRAFT_REQUIRE_TOOLS=1)."""
    if not os.access(CHROMIUM, os.X_OK):
        missing_tool(f"{CHROMIUM} is missing (scripts/install-browser-tools.sh installs it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        missing_tool(f"playwright (in the test extra) is not importable: {exc}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A page signed in with the test clusters' admin token (tests/web/test_sign_in.py signs in by hand)."""
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    context.add_init_script(f"sessionStorage.setItem('taskraft.token', {json.dumps(TEST_ADMIN_TOKEN)})")
    pg = context.new_page()
    pg.set_default_timeout(20000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        pg.screenshot(path=str(artifact(f"failed-{request.node.name}.png")), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
