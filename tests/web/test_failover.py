"""SIGKILL the leader while the page is open on another node: the panel shows the new leader and
the page keeps working; then kill the node that served the page: requests fail over to the others."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from ..conftest import dump_logs, start_cluster
from .browser import artifact, publish

pytestmark = pytest.mark.cluster


def create_in_page(page, title: str) -> int:
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_role("button", name="Add task").click()
    created = page.locator('[data-list="todo"] li.card', has_text=title)
    expect(created).to_have_count(1, timeout=30000)
    return int(created.get_attribute("data-task-id"))


def test_leader_kill_while_the_page_is_open(tmp_path, page):
    c = start_cluster(tmp_path)
    try:
        leader = c.wait_leader(30)
        origin = (leader + 1) % 3  # the page is served by a follower
        page.goto(c.urls[origin] + "/")
        page.wait_for_selector("body[data-ready='1']")
        summary = page.locator("#cluster-summary")
        expect(summary).to_contain_text(f"Leader: node-{leader}")
        expect(page.locator(f'#cluster-rows tr[data-node="node-{leader}"]')).to_have_class(re.compile("leader"))
        create_in_page(page, "before the kill")

        c.kill_node(leader)
        survivors = [i for i in range(3) if i != leader]
        new_leader = c.wait_leader(30, among=survivors)
        expect(summary).to_contain_text(f"Leader: node-{new_leader}", timeout=30000)
        expect(page.locator("#leader-notice")).to_have_text(f"Leader changed: node-{leader} → node-{new_leader}")
        expect(page.locator(f'#cluster-rows tr[data-node="node-{leader}"]')).to_have_attribute("data-role", "unreachable")
        expect(page.locator(f'#cluster-rows tr[data-node="node-{new_leader}"]')).to_have_class(re.compile("leader"))
        page.locator("#cluster").screenshot(path=str(artifact("cluster-panel-after-leader-kill.png")))
        publish(artifact("cluster-panel-after-leader-kill.png"), "cluster-panel.png")

        task_id = create_in_page(page, "after the leader kill")
        got = requests.get(f"{c.urls[new_leader]}/api/v1/tasks/{task_id}", timeout=10).json()
        assert got["title"] == "after the leader kill"

        # bring the old leader back, then kill the node that served the page: the page fails over
        c.start_node(leader)
        c.wait_ready(60, nodes=[leader])
        expect(page.locator(f'#cluster-rows tr[data-node="node-{leader}"]')).to_have_attribute(
            "data-role", re.compile("follower|leader"), timeout=30000)
        c.kill_node(origin)
        c.wait_leader(30, among=[i for i in range(3) if i != origin])
        task_id = create_in_page(page, "after the origin died")
        expect(page.locator("#via")).to_contain_text("(failover)")
        other = next(i for i in range(3) if i != origin)
        items = requests.get(f"{c.urls[other]}/api/v1/tasks", timeout=10).json()["items"]
        titles = [t["title"] for t in items]
        assert titles.count("after the origin died") == 1, titles
        assert {"before the kill", "after the leader kill"} <= set(titles)
        page.get_by_role("button", name="Refresh").click()
        expect(page.locator("li.card")).to_have_count(3)
        page.screenshot(path=str(artifact("board-after-failover.png")))
    except BaseException:
        dump_logs(c)
        raise
    finally:
        c.stop()
