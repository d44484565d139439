"""Settings' Restart ComfyUI block in a real Chromium at a phone's size, on a ComfyUI this module owns alone: an admin
confirms (the step names what is lost), sees Restarting…, and the page reloads once the new run answers; a user
never sees the block."""

from __future__ import annotations

import pytest
from phone import shot, signed_in
from playwright.sync_api import expect
from support import ADMIN, AUTH_ENV, household

PASSWORD = AUTH_ENV["COZYGEN_ADMIN_PASSWORD"]


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-restart-ui", env=dict(AUTH_ENV))


def test_a_user_sees_no_restart(server, browser) -> None:
    household(server.url, {"uma": "user"})
    context, page = signed_in(browser, server, "uma", "uma-pass-123")
    page.goto(f"{server.url}/cozygen/settings")
    expect(page.locator("#server-stats")).to_be_visible()
    expect(page.locator("#restart")).to_have_count(0)
    context.close()


def test_an_admin_restarts_and_the_page_comes_back(server, browser) -> None:
    context, page = signed_in(browser, server, ADMIN, PASSWORD)
    before = context.request.get(f"{server.url}/cozygen/api/system/stats").json()["started_at"]
    page.goto(f"{server.url}/cozygen/settings")
    page.click("#restart-ask")
    warning = page.locator("#restart .restart-warning")
    expect(warning).to_contain_text("Nothing is running or queued")
    expect(warning).to_contain_text("unavailable for everyone")
    shot(page, "settings-restart-confirm")
    page.locator("#restart button", has_text="Cancel").click()
    expect(page.locator("#restart-ask")).to_be_visible()  # cancelled: nothing happened
    assert context.request.get(f"{server.url}/cozygen/api/system/stats").json()["started_at"] == before

    page.click("#restart-ask")
    with page.expect_navigation(timeout=180_000):  # the reload once the new run answers
        page.click("#restart-confirm")
        expect(page.locator("#restart-status")).to_contain_text("Restarting")
    expect(page.locator("#restart-ask")).to_be_visible(timeout=30_000)  # back on settings, still signed in
    after = context.request.get(f"{server.url}/cozygen/api/system/stats").json()["started_at"]
    assert after > before and server.process.poll() is None
    context.close()
