"""The page through ONE address in front of the three nodes, as behind a Kubernetes Service or a
port-forward: a round-robin TCP proxy that sends each new connection to a ready node, and a browser
that can reach nothing else. The panel still lists every member with exactly one leader; after a
SIGKILL of the leader it names the new one, and a task created through the page is written.

The screenshot of the panel after the kill is docs/images/cluster-panel.png: written there when it
is missing, or when TASKRAFT_UPDATE_DOC_IMAGES=1 (browser.publish)."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from ..conftest import dump_logs, start_cluster
from ..helpers import wait_until
from ..tcp_proxy import RoundRobinProxy
from .browser import artifact, create_in_page, only_origin, publish

pytestmark = pytest.mark.cluster


def shown_leader(page) -> str:
    return page.locator("#cluster-summary").get_attribute("data-leader") or ""


def test_the_panel_through_one_address_across_a_leader_kill(tmp_path, page):
    c = start_cluster(tmp_path)
    try:
        c.wait_ready(60)
        with RoundRobinProxy(c.urls, poll=0.3) as proxy:
            wait_until(lambda: len(proxy.ready) == 3, 30, message="every node ready behind the proxy")
            blocked = only_origin(page, proxy.url)
            page.goto(proxy.url + "/")
            page.wait_for_selector("body[data-ready='1']")

            leader = c.wait_leader(30)
            rows = page.locator("#cluster-rows tr")
            expect(rows).to_have_count(3)
            for i, node in enumerate(c.nodes):
                row = rows.nth(i)
                expect(row).to_have_attribute("data-node", node.node_id)
                expect(row).to_have_attribute("data-role", "leader" if i == leader else "follower")
                expect(row.locator("td").nth(6)).to_have_text("✓ yes")
            expect(page.locator("#cluster-rows tr.leader")).to_have_count(1)
            expect(page.locator("#cluster-rows tr.leader")).to_have_attribute("data-node", f"node-{leader}")
            expect(page.locator("#cluster-summary")).to_contain_text(f"Leader: node-{leader} · ")
            expect(page.locator("#cluster-summary")).to_contain_text("3 of 3 nodes answer")
            expect(page.locator("#via")).to_contain_text("answered by node-")
            first = create_in_page(page, "through one address")

            c.kill_node(leader)  # SIGKILL of its process group
            new = wait_until(
                lambda: shown_leader(page) not in ("", f"node-{leader}") and shown_leader(page),
                20,
                interval=0.2,
                message="the panel names a new leader",
            )
            assert new != f"node-{leader}"
            survivors = [i for i in range(3) if i != leader]
            assert new == f"node-{c.wait_leader(30, among=survivors)}"
            expect(rows).to_have_count(3)  # the dead member is still listed, as unreachable
            dead = page.locator(f'#cluster-rows tr[data-node="node-{leader}"]')
            expect(dead).to_have_attribute("data-role", "unreachable")
            expect(dead.locator("td").nth(6)).to_have_text("✗ no")
            expect(page.locator("#cluster-rows tr.leader")).to_have_count(1)
            expect(page.locator("#cluster-rows tr.leader")).to_have_attribute("data-node", new)
            expect(page.locator("#leader-notice")).to_have_text(f"Leader changed: node-{leader} → {new}")
            expect(page.locator("#cluster-summary")).to_contain_text("2 of 3 nodes answer")
            shot = artifact("cluster-panel-one-origin.png")
            page.locator("#cluster").screenshot(path=str(shot))
            publish(shot, "cluster-panel.png")

            second = create_in_page(page, "after the leader kill, through one address")
            for i in survivors:
                got = requests.get(f"{c.urls[i]}/api/v1/tasks/{second}", timeout=10)
                assert got.status_code == 200 and got.json()["title"] == "after the leader kill, through one address"
            assert requests.get(f"{c.urls[survivors[0]]}/api/v1/tasks/{first}", timeout=10).status_code == 200
            # the page used the proxy alone
            assert blocked == [], f"the page asked another address than its own: {blocked}"
            assert proxy.chosen, "no connection went through the proxy"
            expect(page.locator("#connection")).to_be_hidden()
            assert re.search(r"answered by node-\d", page.locator("#via").inner_text())
    except BaseException:
        dump_logs(c)
        raise
    finally:
        c.stop()
