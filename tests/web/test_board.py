"""The board in real Chromium against a real cluster, checked through the DOM and the API.

Tasks written through the page are in the API and tasks written through the API show on the page; status
changes move cards between columns; the cluster panel lists every node with the leader marked; refused and
invalid requests are shown to the user. Screenshots are written to test-artifacts/ only to look at.
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from taskraft.commands import DESCRIPTION_MAX

from ..helpers import post_task, wait_until
from .browser import artifact, publish

pytestmark = pytest.mark.cluster

COLUMNS = ("todo", "in_progress", "done")


def api_task(url: str, task_id: int) -> requests.Response:
    return requests.get(f"{url}/api/v1/tasks/{task_id}", timeout=10)


def api_tasks(url: str) -> list[dict]:
    r = requests.get(f"{url}/api/v1/tasks", params={"limit": 500}, timeout=10)
    assert r.status_code == 200 and r.json()["next"] is None, r.text
    return r.json()["items"]


def open_board(page, url: str, query: str = ""):
    page.goto(f"{url}/{query}")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#cluster-rows tr")).to_have_count(3)


def card(page, task_id: int):
    return page.locator(f'li.card[data-task-id="{task_id}"]')


def in_column(page, status: str, task_id: int):
    return page.locator(f'[data-list="{status}"] li.card[data-task-id="{task_id}"]')


def expect_card_shows(page, task: dict) -> None:
    """The task's card is in its status column only, with its title, description, id, version and author."""
    for status in COLUMNS:
        expect(in_column(page, status, task["id"])).to_have_count(1 if status == task["status"] else 0)
    c = card(page, task["id"])
    expect(c.locator("h3")).to_have_text(task["title"])
    if task["description"]:
        expect(c.locator("p.description")).to_have_text(task["description"])
    else:
        expect(c.locator("p.description")).to_have_count(0)
    expect(c.locator("p.meta")).to_have_text(f"#{task['id']} · version {task['version']} · by {task['created_by']}")
    expect(c).to_have_attribute("data-version", str(task["version"]))


def expect_counts_match_the_api(page, url: str) -> None:
    tasks = api_tasks(url)
    for status in COLUMNS:
        expect(page.locator(f'[data-count="{status}"]')).to_have_text(
            str(sum(1 for t in tasks if t["status"] == status))
        )
        expect(page.locator(f'[data-list="{status}"] li.card')).to_have_count(
            sum(1 for t in tasks if t["status"] == status)
        )
    expect(page.locator("#count")).to_have_text(f"{len(tasks)} task{'' if len(tasks) == 1 else 's'} shown")


def notice(page, kind: str, text: str):
    return page.locator(f"#notices p.notice.{kind}", has_text=text)


# first in the module, so the board shows only these tasks (the screenshot for the README)
def test_api_tasks_show_in_their_columns_and_the_panel_marks_the_leader(cluster, page):
    created = [
        post_task(cluster.urls[i % 3], title, status=status, description=description).json()
        for i, (title, status, description) in enumerate(
            [
                ("Write the release notes", "todo", "Summarise the failover work"),
                ("Add a lag panel to the dashboard", "todo", ""),
                ("Review the journal fsync path", "in_progress", "Measure with and without O_DSYNC"),
                ("Try the page during a leader kill", "in_progress", ""),
                ("Run the failover benchmark", "done", "p99 window under 2 s"),
                ("Ship the CLI", "done", "taskraft tasks / taskraft cluster status"),
            ]
        )
    ]
    open_board(page, cluster.urls[0], "?page_size=12")
    for task in created:
        expect_card_shows(page, task)
    expect_counts_match_the_api(page, cluster.urls[0])
    expect(page.locator("#load-more")).to_be_hidden()

    # the cluster panel: one row per node, in order, the leader marked, every node answering
    leader = cluster.wait_leader(30)
    view = cluster.cluster_view(leader)
    rows = page.locator("#cluster-rows tr")
    expect(rows).to_have_count(3)
    for i, node in enumerate(cluster.nodes):
        row = rows.nth(i)
        expect(row).to_have_attribute("data-node", node.node_id)
        expect(row.locator(".node-url")).to_have_text(node.url)
        expect(row.locator("td").nth(6)).to_have_text("✓ yes")
        if i == leader:
            expect(row).to_have_attribute("data-role", "leader")
            expect(row).to_have_class(re.compile(r"\bleader\b"))
            expect(row.locator("td").nth(0)).to_have_text("★ leader")
        else:
            expect(row).to_have_attribute("data-role", "follower")
            expect(row).not_to_have_class(re.compile(r"\bleader\b"))
            expect(row.locator("td").nth(0)).to_have_text("follower")
        expect(row.locator("td").nth(1)).to_have_text(str(view["term"]))
    expect(page.locator("#cluster-rows tr.leader")).to_have_count(1)
    expect(page.locator("#cluster-summary")).to_have_text(
        f"Leader: node-{leader} · term {view['term']} · 3 of 3 nodes answer"
    )
    expect(page.locator("#leader-notice")).to_have_text("")
    # the panel polls: the commit index a node shows catches up with a write made after the page opened
    commit = int(rows.nth(leader).locator("td").nth(2).inner_text())
    post_task(cluster.urls[leader], "one more entry in the log")
    wait_until(
        lambda: int(rows.nth(leader).locator("td").nth(2).inner_text()) > commit,
        15,
        message="the panel shows the new commit index",
    )

    board = artifact("board.png")
    page.screenshot(path=str(board), full_page=False)
    page.locator("#cluster").screenshot(path=str(artifact("cluster-panel.png")))
    publish(board, "board.png")


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
    expect(page.get_by_label("Title", exact=True)).to_have_value("")  # the form is cleared for the next one
    got = api_task(cluster.urls[0], task_id).json()
    assert (got["title"], got["description"], got["status"], got["version"]) == (
        "Plan the release",
        "dates, owners, rollback",
        "todo",
        1,
    )
    expect_card_shows(page, got)
    expect_counts_match_the_api(page, url)

    # edit title and description
    card(page, task_id).get_by_role("button", name="Edit").click()
    page.locator(f"#edit-title-{task_id}").fill("Plan the 0.2 release")
    page.locator(f"#edit-description-{task_id}").fill("dates and owners")
    page.get_by_role("button", name="Save").click()
    expect(card(page, task_id).locator("h3")).to_have_text("Plan the 0.2 release")
    expect(card(page, task_id)).to_contain_text("version 2")
    got = api_task(cluster.urls[2], task_id).json()
    assert (got["title"], got["description"], got["version"]) == ("Plan the 0.2 release", "dates and owners", 2)

    # move with the keyboard: focus the button, press Enter; the card leaves its column for the next one
    card(page, task_id).locator('button[data-move="in_progress"]').focus()
    page.keyboard.press("Enter")
    expect(in_column(page, "in_progress", task_id)).to_have_count(1)
    expect(in_column(page, "todo", task_id)).to_have_count(0)
    expect(notice(page, "info", "Moved “Plan the 0.2 release” to In progress.")).to_have_count(1)
    assert api_task(cluster.urls[0], task_id).json()["status"] == "in_progress"
    expect_counts_match_the_api(page, url)
    card(page, task_id).get_by_role("button", name=re.compile("to Done")).click()
    expect(in_column(page, "done", task_id)).to_have_count(1)
    expect(in_column(page, "in_progress", task_id)).to_have_count(0)
    got = api_task(cluster.urls[1], task_id).json()
    assert (got["status"], got["version"]) == ("done", 4)
    expect_card_shows(page, got)
    expect_counts_match_the_api(page, url)

    # delete
    card(page, task_id).get_by_role("button", name="Delete").click()
    expect(card(page, task_id)).to_have_count(0)
    assert api_task(cluster.urls[0], task_id).status_code == 404
    expect_counts_match_the_api(page, url)


def test_changes_made_through_the_api_show_after_a_refresh(cluster, page):
    url = cluster.urls[2]
    moved = post_task(cluster.urls[0], "moved elsewhere").json()
    deleted = post_task(cluster.urls[0], "deleted elsewhere").json()
    open_board(page, url)
    expect_card_shows(page, moved)
    expect_card_shows(page, deleted)

    added = post_task(cluster.urls[1], "added elsewhere", status="in_progress", description="through the API").json()
    r = requests.patch(f"{cluster.urls[1]}/api/v1/tasks/{moved['id']}", json={"status": "done"}, timeout=10)
    assert r.status_code == 200
    assert requests.delete(f"{cluster.urls[0]}/api/v1/tasks/{deleted['id']}", timeout=10).status_code == 204
    expect(card(page, added["id"])).to_have_count(0)  # the page does not poll tasks: it shows what it loaded

    page.get_by_role("button", name="Refresh").click()
    expect_card_shows(page, added)
    expect_card_shows(page, r.json())
    expect(card(page, deleted["id"])).to_have_count(0)
    expect_counts_match_the_api(page, url)


def test_acting_on_a_task_deleted_elsewhere_says_so(cluster, page):
    task_id = post_task(cluster.urls[0], "about to vanish").json()["id"]
    open_board(page, cluster.urls[1])
    expect(card(page, task_id)).to_have_count(1)
    assert requests.delete(f"{cluster.urls[2]}/api/v1/tasks/{task_id}", timeout=10).status_code == 204
    card(page, task_id).locator('button[data-move="done"]').click()
    expect(notice(page, "warn", f"Task #{task_id} no longer exists (deleted elsewhere).")).to_have_count(1)
    expect(card(page, task_id)).to_have_count(0)
    assert api_task(cluster.urls[0], task_id).status_code == 404


def test_invalid_input_is_refused_and_shown(cluster, page):
    url = cluster.urls[0]
    open_board(page, url)
    before = api_tasks(url)

    # no title: the page refuses before sending anything
    page.get_by_label("Title", exact=True).fill("   ")
    page.get_by_role("button", name="Add task").click()
    expect(notice(page, "error", "A task needs a title.")).to_have_count(1)
    expect(page.get_by_label("Title", exact=True)).to_be_focused()

    # a description the API refuses (400): the page shows the API's own message and keeps what was typed
    too_long = "x" * (DESCRIPTION_MAX + 1)
    refused = requests.post(
        f"{url}/api/v1/tasks", json={"title": "too much to say", "description": too_long}, timeout=10
    )
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    page.get_by_label("Title", exact=True).fill("too much to say")
    page.get_by_label("Description", exact=True).fill(too_long)
    page.get_by_role("button", name="Add task").click()
    expect(notice(page, "error", f"Could not create the task: {message} (400)")).to_have_count(1)
    expect(page.get_by_label("Title", exact=True)).to_have_value("too much to say")
    expect(page.locator("li.card", has_text="too much to say")).to_have_count(0)

    # an edit to a blank title is refused in the page; the editor stays open and the task is unchanged
    task = post_task(url, "keeps its title").json()
    page.get_by_role("button", name="Refresh").click()
    card(page, task["id"]).get_by_role("button", name="Edit").click()
    page.locator(f"#edit-title-{task['id']}").fill("   ")
    page.get_by_role("button", name="Save").click()
    newest = page.locator("#notices p.notice").first
    expect(newest).to_have_text("A task needs a title.")
    expect(newest).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator(f"#edit-title-{task['id']}")).to_be_focused()
    got = api_task(url, task["id"]).json()
    assert (got["title"], got["version"]) == ("keeps its title", 1)
    assert [t["id"] for t in api_tasks(url)] == [t["id"] for t in before] + [task["id"]]  # nothing else written


def test_stale_edit_is_not_overwritten(cluster, page):
    task_id = post_task(cluster.urls[0], "Original title", description="original").json()["id"]
    open_board(page, cluster.urls[2])
    expect(card(page, task_id)).to_contain_text("version 1")

    # the user opens the editor on version 1 ...
    card(page, task_id).get_by_role("button", name="Edit").click()
    page.locator(f"#edit-title-{task_id}").fill("My edit")
    # ... while someone else changes the task through the API
    r = requests.patch(
        f"{cluster.urls[1]}/api/v1/tasks/{task_id}",
        json={"title": "Changed elsewhere", "description": "by another client"},
        timeout=10,
    )
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
    expect(in_column(page, "in_progress", task_id)).to_have_count(1)
    expect(card(page, task_id).get_by_role("alert")).to_contain_text("Changed by someone else")
    assert api_task(cluster.urls[0], task_id).json()["status"] == "in_progress"
    card(page, task_id).locator('button[data-move="done"]').click()
    expect(in_column(page, "done", task_id)).to_have_count(1)
    got = api_task(cluster.urls[0], task_id).json()
    assert (got["status"], got["title"], got["version"]) == ("done", "Changed elsewhere", 4)


def test_filter_and_load_more(cluster, page):
    ids = [post_task(cluster.urls[0], f"paged {i}", status="in_progress").json()["id"] for i in range(5)]
    listed = requests.get(f"{cluster.urls[0]}/api/v1/tasks?status=in_progress&limit=500", timeout=10)
    total = len(listed.json()["items"])
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
        wait_until(lambda n=before: cards.count() > n or not more.is_visible(), 10, message="next page")
    expect(cards).to_have_count(total)
    for task_id in ids:
        expect(card(page, task_id)).to_have_count(1)
    assert page.locator("li.card").count() == total  # nothing from other statuses

    page.get_by_label("Show").select_option("")
    expect(page.locator('.column[data-status="todo"]')).to_be_visible()
