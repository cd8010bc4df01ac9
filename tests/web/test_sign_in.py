"""The page's sign-in in Chromium, against a real cluster: it asks for a token, refuses a bad one, shows who
is signed in, sends the token on every request, signs out, and gives a viewer the board without edit
controls. No inline script (the page stays within a strict Content-Security-Policy)."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from ..helpers import TEST_ADMIN_TOKEN, post_task, wait_until


def _fresh_page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def _sign_in(page, token: str) -> None:
    page.fill("#token", token)
    page.click("#sign-in-form button[type=submit]")


def test_sign_in_sign_out_and_a_bad_token(browser, cluster):
    url = cluster.urls[0]
    assert post_task(url, "seen after signing in").status_code == 201
    context, page, errors = _fresh_page(browser)
    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/api/v1/" in r.url else None)
    try:
        page.goto(url + "/")
        expect(page.locator("#sign-in")).to_be_visible()
        expect(page.locator("#board")).to_be_hidden()
        assert page.locator("script:not([src])").count() == 0  # no inline script
        _sign_in(page, "trk_not-a-real-token-at-all")
        expect(page.locator("#sign-in-error")).to_be_visible()
        expect(page.locator("#board")).to_be_hidden()
        _sign_in(page, TEST_ADMIN_TOKEN)
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator("#who-name")).to_have_text("admin")
        expect(page.locator("#who-role")).to_have_text("admin")
        expect(page.get_by_text("seen after signing in").first).to_be_visible()
        expect(page.locator("#create-form")).to_be_visible()
        assert f"Bearer {TEST_ADMIN_TOKEN}" in sent and sent[-1] == f"Bearer {TEST_ADMIN_TOKEN}"
        page.click("#sign-out")
        expect(page.locator("#sign-in")).to_be_visible()
        expect(page.locator("#board")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('taskraft.token')") is None
        assert not errors, errors
    finally:
        context.close()


def test_a_viewer_sees_the_board_without_edit_controls_until_revoked(browser, cluster):
    url = cluster.urls[1]
    admin = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
    requests.post(url + "/api/v1/users", json={"username": "web-viewer", "role": "viewer"}, headers=admin, timeout=15)
    token = requests.post(
        url + "/api/v1/tokens", json={"username": "web-viewer", "name": "page"}, headers=admin, timeout=15
    ).json()
    assert post_task(url, "a viewer reads this").status_code == 201
    context, page, errors = _fresh_page(browser)
    try:
        page.goto(url + "/")
        _sign_in(page, token["token"])
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator("#who-name")).to_have_text("web-viewer")
        card = page.locator(".card", has_text="a viewer reads this").first
        expect(card).to_be_visible()
        expect(page.locator("#create-form")).to_be_hidden()
        assert card.locator("button").count() >= 3  # rendered (move, edit, delete), and hidden from a viewer
        for button in card.locator("button").all():
            expect(button).to_be_hidden()
        requests.delete(f"{url}/api/v1/tokens/{token['token_id']}", headers=admin, timeout=15)
        wait_until(
            lambda: (
                requests.get(
                    url + "/api/v1/whoami", headers={"Authorization": f"Bearer {token['token']}"}, timeout=5
                ).status_code
                == 401
            ),
            10,
            message="the revoke applied",
        )
        page.click("#refresh")
        expect(page.locator("#sign-in")).to_be_visible()
        expect(page.locator("#sign-in-error")).to_contain_text("revoked")
        assert not errors, errors
    finally:
        context.close()
