"""The board in real Chromium against a real cluster; every result is checked through the API."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from ..helpers import post_task, wait_until
from .browser import artifact, publish, requires_chromium

pytestmark = [requires_chromium, pytest.mark.cluster]


def api_task(url: str, task_id: int) -> requests.Response:
    return requests.get(f"{url}/api/v1/tasks/{task_id}", timeout=10)


def open_board(page, url: str, query: str = ""):
    page.goto(f"{url}/{query}")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#cluster-rows tr")).to_have_count(3)


def card(page, task_id: int):
    return page.locator(f'li.card[data-task-id="{task_id}"]')


# first in the module, so the board shows only these tasks
def test_screenshots_of_board_and_cluster_panel(cluster, page):
    for title, status, description in [
        ("Write the release notes", "todo", "Summarise the failover work"),
        ("Add a lag panel to the dashboard", "todo", ""),
        ("Review the journal fsync path", "in_progress", "Measure with and without O_DSYNC"),
        ("Try the page during a leader kill", "in_progress", ""),
        ("Run the failover benchmark", "done", "p99 window under 2 s"),
        ("Ship the CLI", "done", "taskraft tasks / taskraft cluster status"),
    ]:
        post_task(cluster.urls[0], title, status=status, description=description)
    open_board(page, cluster.urls[0], "?page_size=12")
    page.get_by_label("Show").select_option("")
    expect(page.locator("#cluster-summary")).to_contain_text("Leader: node-")
    page.wait_for_timeout(1200)  # one more poll, so every row shows fresh numbers
    board = artifact("board.png")
    page.screenshot(path=str(board), full_page=False)
    panel = artifact("cluster-panel.png")
    page.locator("#cluster").screenshot(path=str(panel))
    publish(board, "board.png")
    assert board.stat().st_size > 10_000 and panel.stat().st_size > 5_000


def test_create_edit_move_delete(cluster, page):
    url = cluster.urls[1]
    open_board(page, url)

    # create
    page.get_by_label("Title", exact=True).fill("Plan the release")
    page.get_by_label("Description", exact=True).fill("dates, owners, rollback")
    page.locator("#new-status").select_option("todo")
    page.get_by_role("button", name="Add task").click()
    created = page.locator('[data-list="todo"] li.card', has_text="Plan the release")
    expect(created).to_have_count(1)
    task_id = int(created.get_attribute("data-task-id"))
    expect(page.locator("#notices")).to_contain_text(f"Created task #{task_id}")
    got = api_task(cluster.urls[0], task_id).json()
    assert (got["title"], got["description"], got["status"], got["version"]) == (
        "Plan the release", "dates, owners, rollback", "todo", 1)

    # edit title and description
    card(page, task_id).get_by_role("button", name="Edit").click()
    page.locator(f"#edit-title-{task_id}").fill("Plan the 0.2 release")
    page.locator(f"#edit-description-{task_id}").fill("dates and owners")
    page.get_by_role("button", name="Save").click()
    expect(card(page, task_id).locator("h3")).to_have_text("Plan the 0.2 release")
    expect(card(page, task_id)).to_contain_text("version 2")
    got = api_task(cluster.urls[2], task_id).json()
    assert (got["title"], got["description"], got["version"]) == ("Plan the 0.2 release", "dates and owners", 2)

    # move with the keyboard: focus the button, press Enter
    card(page, task_id).locator('button[data-move="in_progress"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator(f'[data-list="in_progress"] li.card[data-task-id="{task_id}"]')).to_have_count(1)
    assert api_task(cluster.urls[0], task_id).json()["status"] == "in_progress"
    card(page, task_id).get_by_role("button", name=re.compile("to Done")).click()
    expect(page.locator(f'[data-list="done"] li.card[data-task-id="{task_id}"]')).to_have_count(1)
    got = api_task(cluster.urls[1], task_id).json()
    assert (got["status"], got["version"]) == ("done", 4)

    # delete
    card(page, task_id).get_by_role("button", name="Delete").click()
    expect(card(page, task_id)).to_have_count(0)
    assert api_task(cluster.urls[0], task_id).status_code == 404


def test_stale_edit_is_not_overwritten(cluster, page):
    task_id = post_task(cluster.urls[0], "Original title", description="original").json()["id"]
    open_board(page, cluster.urls[2])
    expect(card(page, task_id)).to_contain_text("version 1")

    # the user opens the editor on version 1 ...
    card(page, task_id).get_by_role("button", name="Edit").click()
    page.locator(f"#edit-title-{task_id}").fill("My edit")
    # ... while someone else changes the task through the API
    r = requests.patch(f"{cluster.urls[1]}/api/v1/tasks/{task_id}",
                       json={"title": "Changed elsewhere", "description": "by another client"}, timeout=10)
    assert r.status_code == 200 and r.json()["version"] == 2
    page.get_by_role("button", name="Save").click()

    alert = card(page, task_id).get_by_role("alert")
    expect(alert).to_contain_text("Changed by someone else — reloaded")
    expect(page.locator("#notices")).to_contain_text(f"Task #{task_id} was changed by someone else — reloaded")
    expect(card(page, task_id).locator("h3")).to_have_text("Changed elsewhere")
    expect(card(page, task_id)).to_contain_text("by another client")
    expect(card(page, task_id)).to_contain_text("version 2")
    got = api_task(cluster.urls[0], task_id).json()
    assert (got["title"], got["description"], got["version"]) == ("Changed elsewhere", "by another client", 2)

    # a stale move is refused the same way; after the reload the page uses the fresh version
    requests.patch(f"{cluster.urls[1]}/api/v1/tasks/{task_id}", json={"status": "in_progress"}, timeout=10)
    card(page, task_id).locator('button[data-move="done"]').click()
    expect(page.locator(f'[data-list="in_progress"] li.card[data-task-id="{task_id}"]')).to_have_count(1)
    expect(card(page, task_id).get_by_role("alert")).to_contain_text("Changed by someone else")
    assert api_task(cluster.urls[0], task_id).json()["status"] == "in_progress"
    card(page, task_id).locator('button[data-move="done"]').click()
    expect(page.locator(f'[data-list="done"] li.card[data-task-id="{task_id}"]')).to_have_count(1)
    got = api_task(cluster.urls[0], task_id).json()
    assert (got["status"], got["title"], got["version"]) == ("done", "Changed elsewhere", 4)


def test_filter_and_load_more(cluster, page):
    ids = [post_task(cluster.urls[0], f"paged {i}", status="in_progress").json()["id"] for i in range(5)]
    total = len([t for t in requests.get(f"{cluster.urls[0]}/api/v1/tasks?status=in_progress&limit=500",
                                         timeout=10).json()["items"]])
    open_board(page, cluster.urls[0], "?page_size=2")
    page.get_by_label("Show").select_option("in_progress")
    expect(page.locator('.column[data-status="todo"]')).to_be_hidden()
    expect(page.locator('.column[data-status="done"]')).to_be_hidden()
    cards = page.locator('[data-list="in_progress"] li.card')
    expect(cards).to_have_count(2)
    more = page.get_by_role("button", name="Load more")
    while more.is_visible():
        before = cards.count()
        more.click()
        wait_until(lambda: cards.count() > before or not more.is_visible(), 10, message="next page")
    expect(cards).to_have_count(total)
    for task_id in ids:
        expect(card(page, task_id)).to_have_count(1)
    assert page.locator("li.card").count() == total  # nothing from other statuses

    page.get_by_label("Show").select_option("")
    expect(page.locator('.column[data-status="todo"]')).to_be_visible()
