"""Playwright driving Debian's Chromium (no browser download: the executable is /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOC_IMAGES = ROOT / "docs" / "images"


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def publish(src: Path, name: str) -> None:
    """Copy a screenshot into docs/images for the README: when it is missing there, or when
    TASKRAFT_UPDATE_DOC_IMAGES=1 (so ordinary test runs leave the committed images alone)."""
    dest = DOC_IMAGES / name
    if dest.exists() and os.environ.get("TASKRAFT_UPDATE_DOC_IMAGES") != "1":
        return
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def only_origin(page, origin: str) -> list[str]:
    """Let the page reach `origin` alone, as a browser that can resolve nothing else: every request to
    another address is aborted and listed in the returned list (which a test can require to stay empty)."""
    origin = origin.rstrip("/")
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url == origin or url.startswith(origin + "/"):
            r.continue_()
        else:
            blocked.append(url)
            r.abort("addressunreachable")

    page.route("**/*", route)
    return blocked


def create_in_page(page, title: str) -> int:
    """Create a task through the page's form; its id once its card shows in "To do"."""
    from playwright.sync_api import expect

    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_role("button", name="Add task").click()
    created = page.locator('[data-list="todo"] li.card', has_text=title)
    expect(created).to_have_count(1, timeout=30000)
    return int(created.get_attribute("data-task-id"))
